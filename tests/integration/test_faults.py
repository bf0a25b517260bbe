"""Fault tests (issue 8): what the tool does when the parts around it fail, with real parts.

- The LRS (a real Ralph) is down for 60 s while students keep answering over HTTP: no
  statement is lost, none is stored twice.
- The LMS's AGS score endpoint answers 500 for a while: every score lands once it
  recovers, and the gradebook keeps the latest score by timestamp even when an older one
  is delivered last.
- A real `cpt-lti worker` process is killed with SIGKILL after the LRS stored its batch but
  before it recorded that: the lease runs out, the batch is resent and stored once.
- A private PostgreSQL cluster is restarted under a gunicorn-served tool with students
  answering: requests during the outage get a clear 503, the tool serves again without
  anyone touching it, and every answer it accepted is in the database.

Time is injected into the in-process workers (backoff and leases are stepped, not slept);
the one real wait is the LRS outage, 60 s because the issue says so, run on one backend.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from random import Random

import pytest
import requests
from fault_support import (
    HoldingProxy,
    OffsetClock,
    PrivatePostgres,
    cpt_lti,
    gunicorn,
    postgres_bindir,
    students,
    tool_env,
)
from flask import Response as FlaskResponse
from flask import request as flask_request
from lrs_support import Ralph
from sqlalchemy import select
from support import POSTGRES_URL, LiveServer, make_settings, prepare, reset_postgres
from test_grade_passback import _place, _take_practice
from test_xapi_delivery import World

from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.delivery.destinations import add_lrs
from lti_tool.delivery.outbound import OutboundPolicy
from lti_tool.delivery.outbox import LEASE
from lti_tool.delivery.sealed import sealer_for
from lti_tool.delivery.worker import OutboxWorker
from lti_tool.models import (
    Attempt,
    GradingPolicy,
    Outbox,
    OutboxKind,
    OutboxStatus,
    Platform,
    ResourceLink,
    Response,
)
from lti_tool.ops.migrate import upgrade_to_head
from lti_tool.sandbox.models import SandboxPlacedLink, SandboxResult, SandboxScore
from lti_tool.sandbox.platforms import CANVAS, MOODLE

LRS_DOWN_SECONDS = 60  # the number; the one real wait in this file
LEARNERS = [("canvas", CANVAS.people[0].sub), ("canvas", CANVAS.people[1].sub),
            ("moodle", MOODLE.people[0].sub), ("moodle", MOODLE.people[1].sub)]


def _xapi_rows(sessions) -> list[Outbox]:
    with transaction(sessions) as db:
        return list(db.scalars(select(Outbox).where(Outbox.kind == OutboxKind.XAPI)
                               .order_by(Outbox.id)))


def _statement_ids(rows: list[Outbox]) -> Counter[str]:
    """The statement id of every fanned-out row (its frozen body is what was POSTed)."""
    assert all(r.body for r in rows), "some events were never rendered"
    return Counter(json.loads(r.body)["id"] for r in rows)


def _add_lrs_for_sandbox(sessions, settings, ralph_url: str, auth: tuple[str, str]) -> None:
    with transaction(sessions) as db:
        for platform in (CANVAS, MOODLE):
            row = db.scalars(select(Platform).where(
                Platform.client_id == platform.client_id)).one()
            add_lrs(db, settings, row, name="college-lrs", url=ralph_url,
                    username=auth[0], password=auth[1])


# --- 1. the LRS is down for 60 s under load -----------------------------------------------------

@pytest.fixture
def one_backend_url(tmp_path) -> str:
    """PostgreSQL when the run has one, else SQLite: the 60 s outage runs once per suite."""
    if POSTGRES_URL:
        reset_postgres(POSTGRES_URL)
        return POSTGRES_URL
    url = f"sqlite:///{tmp_path / 'cpt-lti.db'}"
    upgrade_to_head(url)
    return url


def test_lrs_down_60_s_under_load_loses_nothing_and_duplicates_nothing(one_backend_url, ralph):
    """Four students answer over HTTP throughout (about 1,000 answers during the outage);
    the worker keeps running, and failing, while Ralph is stopped; Ralph comes back on the
    same port and data directory; everything the outbox produced is then in the LRS
    exactly once, read back page by page and by registration."""
    database_url = one_backend_url
    server = LiveServer(database_url).start()
    engine = make_engine(database_url)
    sessions = make_session_factory(engine, sealer_for(server.settings))
    try:
        _add_lrs_for_sandbox(sessions, server.settings, ralph.endpoint, ralph.auth)
        clock = OffsetClock()
        worker = OutboxWorker(sessions, clock, 5.0, Random(3), settings=server.settings)
        before = down = 0
        failing_passes = 0
        with students(server.url, LEARNERS, pause=0.2) as crowd:
            deadline = time.monotonic() + 30
            while before < 30 and time.monotonic() < deadline:  # the LRS is up: flowing
                time.sleep(0.5)
                report = worker.run_once()
                assert report.xapi is not None and not report.xapi.parked, report.errors
                before += report.xapi.sent
            assert before >= 30, "statements did not flow before the outage"
            answered_before = sum(len(s.accepted) for s in crowd)

            ralph.stop()
            outage_ends = time.monotonic() + LRS_DOWN_SECONDS
            while time.monotonic() < outage_ends:
                time.sleep(2)
                report = worker.run_once()
                assert report.xapi is not None
                assert report.xapi.sent == 0 and report.xapi.parked == 0, report.errors
                if report.xapi.retried:
                    failing_passes += 1
                    assert any("unreachable" in e for e in report.errors), report.errors
            down = sum(len(s.accepted) for s in crowd) - answered_before

            ralph.start()  # same port, same data directory
            for _ in range(3):  # students still answering while the LRS is back
                time.sleep(1)
                worker.run_once()
        assert failing_passes >= 2, "the worker did not try (and fail) during the outage"
        assert down >= 20, f"only {down} answers during the outage: no load"
        for student in crowd:
            assert student.error is None, student.error
            assert student.failures == [], student.failures[:3]

        clock.advance(hours=1)  # past any backoff (capped at 30 min)
        for _ in range(50):
            report = worker.run_once()
            if not report.handled:
                break
        rows = _xapi_rows(sessions)
        assert Counter(r.status for r in rows) == {OutboxStatus.SENT: len(rows)}
        produced = _statement_ids(rows)
        assert set(produced.values()) == {1}  # one row per statement: one LRS per college

        stored = ralph.statements()  # paged (500 a page, following `more`)
        in_lrs = Counter(s["id"] for s in stored)
        assert len(stored) > 500, "too few statements to page through"
        assert set(in_lrs) == set(produced), (
            f"lost: {len(set(produced) - set(in_lrs))}, "
            f"extra: {len(set(in_lrs) - set(produced))}")
        assert set(in_lrs.values()) == {1}, "a statement was stored twice"

        # Read back by registration too, as an analytics consumer would per attempt.
        by_registration: dict[str, set[str]] = {}
        for row in rows:
            body = json.loads(row.body or "{}")
            by_registration.setdefault(body["context"]["registration"], set()).add(body["id"])
        attempts = [a for s in crowd for a in s.attempts]
        assert set(attempts) <= set(by_registration)
        for attempt_id in attempts[:3] + attempts[-3:]:
            got = ralph.statements(registration=attempt_id)
            assert {s["id"] for s in got} == by_registration[attempt_id]
            assert len(got) == len(by_registration[attempt_id])

        # Every accepted answer became exactly one answered statement in the LRS.
        with transaction(sessions) as db:
            responses = {(r.attempt_id, r.idempotency_key) for r in db.scalars(select(Response))}
        accepted = {(a.attempt_id, a.key) for s in crowd for a in s.accepted}
        assert accepted == responses
        answered = [s for s in stored if s["verb"]["id"].endswith("/answered")]
        assert len(answered) == len(responses)
    finally:
        server.stop()
        engine.dispose()


# --- 2. AGS answers 500, then recovers ----------------------------------------------------------

def test_ags_500s_then_recovery_every_score_lands_and_the_latest_wins(live_server):
    """Three scores for one student and line item (12, then better 22, then worse 8 under
    the "latest" policy). The LMS refuses scores with 500 for three worker passes, then
    takes only the newest one, then all: the two older scores land after the newest, and
    the gradebook keeps 8, the score with the latest timestamp, not the last delivered."""
    app = live_server.app
    student = MOODLE.people[0]
    placed = _place(live_server, MOODLE)
    engine = make_engine(live_server.settings.database_url)
    sessions = make_session_factory(engine, sealer_for(live_server.settings))
    try:
        first = _take_practice(live_server, MOODLE, student, placed, right=12)
        with transaction(sessions) as db:
            link = db.get(ResourceLink, db.get(Attempt, first).resource_link_id)
            link.grading_policy = GradingPolicy.LATEST
        _take_practice(live_server, MOODLE, student, placed, right=22)
        _take_practice(live_server, MOODLE, student, placed, right=8)

        with transaction(sessions) as db:
            queued = list(db.scalars(select(Outbox).where(Outbox.kind == OutboxKind.AGS)
                                     .order_by(Outbox.id)))
        assert [r.payload["score_given"] for r in queued] == [12, 22, 8]
        stamps = [r.payload["timestamp"] for r in queued]
        assert stamps == sorted(stamps) and len(set(stamps)) == 3
        newest = stamps[-1]

        # The fault: the sandbox's score endpoint, wrapped in this app only.
        view_name = "sandbox_services.moodle_scores"
        real_scores = app.view_functions[view_name]
        fault = {"mode": "down"}  # down | newest-only | up
        refused: list[str] = []

        def flaky_scores(**kwargs):
            body = flask_request.get_json(force=True, silent=True) or {}
            if fault["mode"] == "down" or (fault["mode"] == "newest-only"
                                           and body.get("timestamp") != newest):
                refused.append(body.get("timestamp", ""))
                return FlaskResponse("Internal Server Error", status=500)
            return real_scores(**kwargs)

        app.view_functions[view_name] = flaky_scores
        try:
            clock = OffsetClock()
            worker = OutboxWorker(sessions, clock, 5.0, Random(5),
                                  policy=OutboundPolicy.from_settings(live_server.settings))
            for n in range(1, 4):
                report = worker.run_once()
                assert (report.sent, report.retried, report.failed) == (0, 3, 0), report
                assert all("500" in e for e in report.errors)
                assert worker.run_once().handled == 0  # backing off: not due yet
                with transaction(sessions) as db:
                    rows = list(db.scalars(select(Outbox).where(
                        Outbox.kind == OutboxKind.AGS)))
                    assert {(r.status, r.attempts) for r in rows} == {
                        (OutboxStatus.PENDING, n)}
                    assert all(r.next_attempt_at > clock() for r in rows)
                    assert db.scalars(select(SandboxScore)).first() is None
                clock.advance(minutes=10)  # more than any of these backoffs

            fault["mode"] = "newest-only"  # the LMS recovers for the newest score first
            report = worker.run_once()
            assert (report.sent, report.retried) == (1, 2), report
            clock.advance(minutes=10)
            fault["mode"] = "up"
            report = worker.run_once()
            assert (report.sent, report.retried, report.failed) == (2, 0, 0), report
            assert worker.run_once().handled == 0  # nothing left, nothing sent twice
        finally:
            app.view_functions[view_name] = real_scores

        assert len(refused) == 3 * 3 + 2
        with transaction(sessions) as db:
            item_id = db.get(SandboxPlacedLink, placed).line_item_id
            received = list(db.scalars(select(SandboxScore).where(
                SandboxScore.line_item_id == item_id).order_by(SandboxScore.id)))
            # Every score landed, each once; the newest arrived first.
            got = [(s.body["timestamp"], s.score_given) for s in received]
            assert sorted(got) == [(stamps[0], 12), (stamps[1], 22), (stamps[2], 8)]
            assert got[0] == (newest, 8)
            assert [s.applied for s in received] == [True, False, False]
            result = db.scalars(select(SandboxResult).where(
                SandboxResult.line_item_id == item_id,
                SandboxResult.user_id == student.sub)).one()
            assert result.score_given == 8.0  # latest by timestamp, not last delivered (22/12)
            assert result.comment.startswith("Latest of 3 attempts: 8 of 25")
            statuses = {r.status for r in db.scalars(select(Outbox).where(
                Outbox.kind == OutboxKind.AGS))}
            assert statuses == {OutboxStatus.SENT}
    finally:
        engine.dispose()


# --- 3. a worker process killed with SIGKILL mid-batch ------------------------------------------

def test_worker_killed_mid_batch_redelivery_is_deduplicated(database_url, ralph, tmp_path):
    """`cpt-lti worker` runs as its own process against a proxy that holds Ralph's answer
    to the second batch: Ralph has stored it, the worker has not recorded it, and then the
    worker gets SIGKILL. Its lease keeps a fresh worker off those rows until it runs out;
    then the batch is resent, and Ralph holds every statement exactly once."""
    world = World(database_url)
    try:
        world.clock.advance(hours=-1)  # the events are an hour old: due for a real clock
        for mode in ("drill", "practice", "drill"):
            world.session("a", mode, answers=3)
        proxy = HoldingProxy(ralph.server.base_url, hold_post=2).start()
        try:
            _run_killed_worker(world, proxy, ralph, tmp_path)
        finally:
            proxy.stop()
    finally:
        world.close()


def _run_killed_worker(world: World, proxy: HoldingProxy, ralph: Ralph, tmp_path) -> None:
    with transaction(world.sessions) as db:  # the college's LRS, reached through the proxy
        add_lrs(db, world.settings, db.get(Platform, world.platforms["a"]), name="lrs",
                url=proxy.url + "/xAPI/", username=ralph.auth[0], password=ralph.auth[1])
    batch = 5
    env = tool_env(world.settings.database_url, CPT_LTI_SECRET_KEY=world.settings.secret_key,
                   CPT_LTI_XAPI_BATCH_SIZE=str(batch), CPT_LTI_WORKER_INTERVAL_SECONDS="0.5")
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([cpt_lti(), "worker"], env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        held = proxy.posted.wait(90)
        assert held, f"the worker never POSTed its second batch:\n{log.read_text()[-3000:]}"
        process.kill()  # SIGKILL: no cleanup, no goodbye
        assert process.wait(30) == -9
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
    proxy.release.set()

    rows = _xapi_rows(world.sessions)
    produced = _statement_ids(rows)
    statuses = Counter(r.status for r in rows)
    assert statuses == {OutboxStatus.SENT: batch, OutboxStatus.PENDING: len(rows) - batch}
    in_flight = [r for r in rows if r.status == OutboxStatus.PENDING and r.attempts == 1]
    assert len(in_flight) == batch  # claimed by the dead worker, never recorded
    in_lrs = ralph.count_by_id()
    assert len(in_lrs) == 2 * batch and set(in_lrs.values()) == {1}
    assert {json.loads(r.body or "{}")["id"] for r in in_flight} == set(proxy.batches[1])
    assert set(proxy.batches[1]) <= set(in_lrs)

    # A new worker process at once: the dead worker's lease still holds its rows, and the
    # destination's queue waits behind them (statements stay in order).
    again = subprocess.run([cpt_lti(), "worker", "--once"], env=env, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert Counter(r.status for r in _xapi_rows(world.sessions)) == statuses
    assert proxy.posts == 2

    # When the lease has run out the rows are claimable again: drain with a new worker.
    clock = OffsetClock()
    clock.advance(seconds=LEASE.total_seconds() + 1)
    worker = OutboxWorker(world.sessions, clock, 5.0, Random(9), settings=world.settings)
    for _ in range(20):
        report = worker.run_once()
        assert report.failed == 0, report.errors
        if not report.handled:
            break
    rows = _xapi_rows(world.sessions)
    assert Counter(r.status for r in rows) == {OutboxStatus.SENT: len(rows)}
    resent = {i for ids in proxy.batches[2:] for i in ids}
    assert set(proxy.batches[1]) <= resent  # the held batch was POSTed again ...
    in_lrs = ralph.count_by_id()
    assert in_lrs == produced  # ... and every statement is in Ralph exactly once
    assert set(in_lrs.values()) == {1}


# --- 4. PostgreSQL restarted mid-run ------------------------------------------------------------

@pytest.fixture
def private_postgres():
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    cluster = PrivatePostgres(bindir)
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.destroy()


def test_postgresql_restart_mid_run_recovers_and_loses_no_accepted_answer(private_postgres,
                                                                         tmp_path):
    """gunicorn (2 processes) on a private cluster, four students answering. The cluster
    is stopped for a few seconds and started again. While it is down, requests get a
    clear 503 (JSON, no stack trace); once it is up, every request is served again with
    nobody restarting anything; every answer that got a 2xx is in the database."""
    from lti_tool.sandbox.ralph_lrs import free_port

    url = private_postgres.url()
    upgrade_to_head(url)
    port = free_port()
    settings = make_settings(url, f"http://127.0.0.1:{port}")
    prepare(settings)
    env = tool_env(url, CPT_LTI_GUNICORN_THREADS="4")
    with gunicorn(env, tmp_path / "gunicorn.log", workers=2, port=port) as server, \
            students(server.url, LEARNERS, pause=0.02) as crowd:
        time.sleep(3)
        served_before = sum(len(s.accepted) for s in crowd)
        private_postgres.stop()
        time.sleep(1.5)  # down: the students keep trying
        page = requests.get(server.url + "/lti/jwks", headers={"Accept": "text/html"},
                            timeout=15)  # a person's page, not the API: HTML, same 503
        time.sleep(1.5)
        private_postgres.start()
        back_at = time.monotonic()
        time.sleep(4)
        assert server.process.poll() is None, "gunicorn died with the database"
    assert served_before > 0
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert "Please try again in a moment" in page.text and "Traceback" not in page.text
    for student in crowd:
        assert student.error is None, student.error
        after = [a for a in student.accepted if a.at > back_at]
        assert after, f"{student.sub} was not served after the restart"
        late = [f for f in student.failures if f.at > back_at]
        assert late == [], late[:3]
    failures = [f for s in crowd for f in s.failures]
    assert failures, "no request met the outage: the test did not test it"
    for failure in failures:
        assert failure.status == 503, failure
        assert failure.content_type.startswith("application/json"), failure
        assert json.loads(failure.body)["error_code"] == "database_unavailable", failure
        assert "Traceback" not in failure.body

    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as db:
            stored = {(r.attempt_id, r.idempotency_key) for r in db.scalars(select(Response))}
            answered_events = sum(1 for p in db.scalars(select(Outbox.payload).where(
                Outbox.kind == OutboxKind.XAPI)) if p["verb"] == "answered")
    finally:
        engine.dispose()
    accepted = {(a.attempt_id, a.key) for s in crowd for a in s.accepted}
    assert accepted <= stored, f"lost {len(accepted - stored)} accepted answers"
    assert answered_events == len(stored)  # each answer's statement was queued with it


def test_the_worker_process_keeps_delivering_through_a_postgresql_restart(private_postgres,
                                                                          ralph, tmp_path):
    """A real `cpt-lti worker` polling every 0.2 s meets the cluster stopped for 3 s; once
    it is back, the same process must deliver what students did meanwhile, with no one
    restarting it (a worker that exits needs an operator, or a supervisor, to come back)."""
    url = private_postgres.url()
    upgrade_to_head(url)
    world = World(url)
    try:
        world.clock.advance(hours=-1)  # events due for the worker's real clock
        world.add_lrs("a", ralph)
        world.session("a", "drill", answers=1)
        env = tool_env(url, CPT_LTI_SECRET_KEY=world.settings.secret_key,
                       CPT_LTI_WORKER_INTERVAL_SECONDS="0.2")
        log = tmp_path / "worker.log"
        with open(log, "wb") as out:
            process = subprocess.Popen([cpt_lti(), "worker"], env=env, stdout=out,
                                       stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while len(ralph.count_by_id()) < 5 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert len(ralph.count_by_id()) == 5, log.read_text()[-2000:]
            world.engine.dispose()  # the test's own connections must not hold the stop up
            private_postgres.stop()
            time.sleep(3)  # several of the worker's passes meet the database down
            private_postgres.start()
            assert process.poll() is None, f"the worker exited: {log.read_text()[-2000:]}"
            world.session("a", "drill", answers=1)  # new work after the restart
            deadline = time.monotonic() + 60
            while len(ralph.count_by_id()) < 10 and time.monotonic() < deadline:
                time.sleep(0.2)
            counts = ralph.count_by_id()
            assert len(counts) == 10 and set(counts.values()) == {1}
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(30)
    finally:
        world.close()
