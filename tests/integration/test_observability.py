"""What operators watch: /health (its details, the outbox backlog, behind the metrics
token), /metrics behind the token with cluster-wide launch counters, request ids in
responses and in JSON log lines."""

from __future__ import annotations

import json
import logging

import pytest
import requests
from lti_helpers import full_launch

from lti_tool.ops.logs import JsonFormatter, RequestIdFilter
from lti_tool.sandbox.platforms import CANVAS

TOKEN = "metrics-token-for-tests"


@pytest.fixture
def watched(live_server, monkeypatch):
    import dataclasses

    rt = live_server.app.extensions["cpt_lti"]
    monkeypatch.setattr(rt, "settings", dataclasses.replace(rt.settings, metrics_token=TOKEN))
    return live_server


def _metrics(server, token=TOKEN) -> requests.Response:
    return requests.get(server.url + "/metrics", timeout=10,
                        headers={"Authorization": f"Bearer {token}"})


def test_metrics_need_the_token_and_count_launches_by_outcome(watched):
    assert _metrics(watched, "wrong").status_code == 401
    assert requests.get(watched.url + "/metrics", timeout=10).status_code == 401
    full_launch(watched, "canvas", CANVAS.people[0].sub)
    full_launch(watched, "canvas", CANVAS.people[0].sub)
    refused = requests.post(watched.url + "/lti/launch", data={"id_token": "garbage",
                                                               "state": "x"}, timeout=10)
    assert refused.status_code >= 400
    body = _metrics(watched).text
    assert 'cpt_launches_total{outcome="ok"} 2' in body
    assert "# TYPE cpt_outbox_pending gauge" in body
    refusals = [line for line in body.splitlines()
                if line.startswith("cpt_launches_total") and 'outcome="ok"' not in line]
    assert len(refusals) == 1 and refusals[0].endswith(" 1")


def test_metrics_are_off_without_a_token(live_server):
    assert requests.get(live_server.url + "/metrics", timeout=10).status_code == 404


def test_health_reports_the_outbox_backlog(watched):
    full_launch(watched, "canvas", CANVAS.people[0].sub)
    health = requests.get(watched.url + "/health", timeout=10,
                          headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert health["status"] == "ok" and health["database"] == "ok"
    assert isinstance(health["outbox"], dict)
    # Without the token: up or down, nothing else (test_attacks_exposure.py).
    assert requests.get(watched.url + "/health", timeout=10).json() == {"status": "ok"}


def test_request_ids_are_returned_and_taken_from_a_proxy(live_server):
    own = requests.get(live_server.url + "/ping", timeout=10).headers["X-Request-ID"]
    assert len(own) == 32
    given = requests.get(live_server.url + "/ping", timeout=10,
                         headers={"X-Request-ID": "lb-1234abcd"}).headers["X-Request-ID"]
    assert given == "lb-1234abcd"
    junk = requests.get(live_server.url + "/ping", timeout=10,
                        headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"]
    assert junk != "<script>" and len(junk) == 32


def test_json_log_lines_carry_the_request_id(app):
    record = logging.LogRecord("lti_tool.test", logging.WARNING, __file__, 1,
                               "launch refused: %s", ("bad_signature",), None)
    with app.test_request_context("/lti/launch"):
        from flask import g

        g.request_id = "req-0001abcd"
        RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-0001abcd"
    assert line["message"] == "launch refused: bad_signature" and line["level"] == "WARNING"


# --- launch counts on their way to the shared table ---------------------------------------

def _counted(url: str) -> dict[str, int]:
    from sqlalchemy import select

    from lti_tool.db import make_engine, make_session_factory, transaction
    from lti_tool.models import Counter

    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as db:
            return {label: value for label, value in db.execute(
                select(Counter.label, Counter.value).where(Counter.name == "launches"))}
    finally:
        engine.dispose()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_tally_writes_rare_counts_at_once_and_busy_ones_once_a_second(app):
    from lti_tool.ops.metrics import Tally

    rt = app.extensions["cpt_lti"]
    clock = _Clock()
    tally = Tally(every=1.0, clock=clock)
    tally.count(rt.sessions, "launches", "ok")  # the first: written at once
    assert _counted(rt.settings.database_url) == {"ok": 1}
    for _ in range(5):  # a burst within the second: held
        tally.count(rt.sessions, "launches", "ok")
    tally.count(rt.sessions, "launches", "bad_signature")
    assert _counted(rt.settings.database_url) == {"ok": 1}
    clock.now += 1.0  # the next one after a second writes everything held
    tally.count(rt.sessions, "launches", "ok")
    assert _counted(rt.settings.database_url) == {"ok": 7, "bad_signature": 1}


def test_tally_keeps_counts_it_could_not_write(app, tmp_path):
    from sqlalchemy.orm import sessionmaker

    from lti_tool.db import make_engine
    from lti_tool.ops.metrics import Tally

    rt = app.extensions["cpt_lti"]
    broken = make_engine(f"sqlite:///{tmp_path}/no-such-dir/x.db")  # cannot even connect
    tally = Tally(every=1.0, clock=_Clock())
    tally.count(sessionmaker(bind=broken), "launches", "ok")  # logged, not raised
    tally.add("launches", "ok")
    tally.write(rt.sessions)  # the database is back: nothing was lost
    assert _counted(rt.settings.database_url) == {"ok": 2}
    broken.dispose()


def test_metrics_show_launches_at_once_and_a_stopping_gunicorn_writes_what_it_held(tmp_path):
    """Under gunicorn, a burst of launches is written once a second per worker; /metrics
    still shows this worker's latest counts, and a worker that is stopped (deploy, scale
    down) writes the rest before it exits."""
    from fault_support import gunicorn, tool_env
    from support import make_settings, prepare

    from lti_tool.ops.migrate import upgrade_to_head
    from lti_tool.sandbox.ralph_lrs import free_port

    url = f"sqlite:///{tmp_path}/tool.db"
    upgrade_to_head(url)
    port = free_port()
    prepare(make_settings(url, f"http://127.0.0.1:{port}"))
    # A long interval: the launches below must all fall inside it, however slow the machine.
    env = tool_env(url, CPT_LTI_METRICS_TOKEN=TOKEN, CPT_LTI_METRICS_WRITE_SECONDS="300",
                   CPT_LTI_GUNICORN_THREADS="4")  # threads: it fetches its own sandbox JWKS
    with gunicorn(env, tmp_path / "gunicorn.log", workers=1, port=port) as server:
        for _ in range(4):
            assert full_launch(server, "canvas", CANVAS.people[0].sub).ok
        assert _counted(url) == {"ok": 1}  # the first was written at once, the rest held
        assert 'cpt_launches_total{outcome="ok"} 4' in _metrics(server).text
        for _ in range(3):
            assert full_launch(server, "canvas", CANVAS.people[0].sub).ok
        assert _counted(url) == {"ok": 4}  # written by /metrics; these three are held
        server.process.terminate()  # SIGTERM: gunicorn stops its worker gracefully
        server.process.wait(timeout=30)
    assert _counted(url) == {"ok": 7}


def test_the_dev_server_stopped_by_sigterm_writes_what_it_held_and_stops_its_lrs(tmp_path):
    """`cpt-lti serve --local-lrs` (what `make run` starts), stopped by SIGTERM - a service
    manager, `kill`, a container stop - ends as on Ctrl+C: the launch counts it held are
    written and its local Ralph stops with it (it used to die at once and orphan Ralph)."""
    import signal
    import socket
    import subprocess
    import time
    from types import SimpleNamespace

    from fault_support import cpt_lti, tool_env
    from support import make_settings, prepare

    from lti_tool.ops.migrate import upgrade_to_head
    from lti_tool.sandbox.ralph_lrs import free_port

    def listening(port: int) -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    url = f"sqlite:///{tmp_path}/tool.db"
    upgrade_to_head(url)
    port, lrs_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    prepare(make_settings(url, base))
    env = tool_env(url, CPT_LTI_BASE_URL=base, CPT_LTI_METRICS_WRITE_SECONDS="300",
                   CPT_LTI_LOCAL_LRS_PORT=str(lrs_port))
    log = tmp_path / "serve.log"
    with open(log, "ab") as out:
        process = subprocess.Popen([cpt_lti(), "serve", "--port", str(port), "--local-lrs"],
                                   env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while not listening(port):
            assert process.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "cpt-lti serve did not start within 90 s"
            time.sleep(0.2)
        for _ in range(3):
            assert full_launch(SimpleNamespace(url=base), "canvas", CANVAS.people[0].sub).ok
        assert _counted(url) == {"ok": 1}  # the first written at once, two held
        assert listening(lrs_port)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text(errors="replace")[-2000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert _counted(url) == {"ok": 3}
    deadline = time.monotonic() + 15
    while listening(lrs_port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not listening(lrs_port), "the local Ralph outlived the server"
