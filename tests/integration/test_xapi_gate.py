"""The statement quality gate end to end: a student launches from the sandbox LMS and
takes a practice test over HTTP, the worker fans the events out to a real Ralph LRS, and
a statement broken on its way to the outbox (a renderer patched in-process) is refused at
the source: failed row with the rule, no body, never POSTed; the rest still flow; /metrics
counts it by rule; the log names the rule; ``outbox retry`` runs it through the gate again."""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from random import Random

import pytest
import requests
from gate_support import assert_gate_passes
from lrs_support import Ralph
from lti_helpers import signed_in
from sqlalchemy import select

from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.delivery import render
from lti_tool.delivery.destinations import add_lrs
from lti_tool.delivery.outbox import outbox_status, retry_failed
from lti_tool.delivery.sealed import sealer_for
from lti_tool.delivery.xapi import XapiDelivery
from lti_tool.models import Outbox, OutboxKind, OutboxStatus, Platform
from lti_tool.sandbox.platforms import CANVAS
from xapi import vocabulary as v

TOKEN = "metrics-token-for-gate-tests"
REFUSED = ("refused by the statement quality gate: profile/session-terminated at "
           "$.result.duration: is required by the template and absent")


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def _practice_test(server, sub: str) -> str:
    """Launch, start a 3-item practice test, answer it, submit; the attempt id."""
    http, csrf = signed_in(server, sub)
    http.headers["X-CSRF-Token"] = csrf
    started = http.post(server.url + "/api/attempts", timeout=10, json={
        "mode": "practice", "module_id": "safety", "size": 3})
    assert started.status_code in (200, 201), started.text
    attempt_id = started.json()["id"]
    item = http.get(f"{server.url}/api/attempts/{attempt_id}/item", timeout=10).json()["item"]
    while item is not None:
        sent = http.post(f"{server.url}/api/attempts/{attempt_id}/answers", timeout=10,
                         json={"item_id": item["id"], "choice": 0,
                               "idempotency_key": uuid.uuid4().hex, "duration_ms": 3000})
        assert sent.status_code in (200, 201), sent.text
        item = sent.json()["next_item"]
    assert http.post(f"{server.url}/api/attempts/{attempt_id}/submit",
                     timeout=10).status_code == 200
    return attempt_id


def _rows(sessions) -> list[Outbox]:
    with transaction(sessions) as db:
        return list(db.scalars(select(Outbox).where(Outbox.kind == OutboxKind.XAPI)
                               .order_by(Outbox.id)))


def _drain(delivery: XapiDelivery) -> None:
    for _ in range(10):
        if not delivery.run_once().handled:
            return


@pytest.mark.gate_refusals
def test_a_broken_statement_is_refused_at_the_source_and_the_rest_flow(
        live_server, ralph, monkeypatch, caplog):
    server = live_server
    rt = server.app.extensions["cpt_lti"]
    monkeypatch.setattr(rt, "settings", dataclasses.replace(rt.settings, metrics_token=TOKEN))
    engine = make_engine(server.settings.database_url)
    sessions = make_session_factory(engine, sealer_for(server.settings))
    try:
        with transaction(sessions) as db:
            platform = db.scalars(select(Platform).where(
                Platform.client_id == CANVAS.client_id)).one()
            add_lrs(db, server.settings, platform, name="college-lrs", url=ralph.endpoint,
                    username=ralph.auth[0], password=ralph.auth[1])

        # The fault: the renderer forgets a terminated statement's duration.
        breaking = {"on": True}
        frozen = render.statement_bytes

        def broken(event) -> bytes:
            data = json.loads(frozen(event))
            if breaking["on"] and data["verb"]["id"] == v.TERMINATED.iri:
                del data["result"]["duration"]
            return json.dumps(data).encode()

        monkeypatch.setattr(render, "statement_bytes", broken)
        attempt_id = _practice_test(server, CANVAS.people[0].sub)
        clock = Clock()
        delivery = XapiDelivery(sessions, server.settings, clock, Random(1))
        with caplog.at_level(logging.WARNING, logger="lti_tool.delivery.gate"):
            _drain(delivery)

        rows = _rows(sessions)
        refused = [r for r in rows if r.status == OutboxStatus.FAILED]
        sent = [r for r in rows if r.status == OutboxStatus.SENT]
        assert len(refused) == 1 and len(sent) == len(rows) - 1 >= 6
        [row] = refused
        assert row.payload["verb"] == "terminated"
        assert (row.body, row.destination, row.attempts) == (None, None, 0)  # never POSTed
        assert row.last_error == REFUSED

        # Ralph has every other statement of the attempt and nothing for the refused one.
        stored = ralph.statements(registration=attempt_id)
        assert {s["id"] for s in stored} == {json.loads(r.body)["id"] for r in sent}
        assert row.payload["statement_id"] not in {s["id"] for s in stored}
        assert v.TERMINATED.iri not in {s["verb"]["id"] for s in stored}
        for statement in stored:
            assert_gate_passes(statement)  # as the LRS stores them, with its version

        # The operator sees it: the log names the rule, /metrics counts it, `cpt-lti
        # outbox` lists it; the worker does not retry it on its own.
        [record] = [r for r in caplog.records if r.name == "lti_tool.delivery.gate"]
        assert record.levelno == logging.WARNING
        assert "profile/session-terminated" in record.getMessage()
        assert row.payload["statement_id"] in record.getMessage()
        metrics = requests.get(server.url + "/metrics", timeout=10,
                               headers={"Authorization": f"Bearer {TOKEN}"}).text
        assert ('cpt_xapi_statements_refused_total{rule="profile/session-terminated"} 1'
                in metrics.splitlines())
        assert "# TYPE cpt_xapi_statements_refused_total counter" in metrics
        with transaction(sessions) as db:
            listed = outbox_status(db, clock())["failed"]
        assert [(f["id"], f["last_error"]) for f in listed] == [(row.id, REFUSED)]
        clock.offset += timedelta(hours=2)
        _drain(delivery)
        assert [r.status for r in _rows(sessions) if r.id == row.id] == [OutboxStatus.FAILED]

        # Once the cause is fixed, `cpt-lti outbox retry` renders it again - through the
        # gate again - and it lands.
        breaking["on"] = False
        with transaction(sessions) as db:
            assert retry_failed(db, clock(), [row.id]) == 1
        _drain(delivery)
        assert {r.status for r in _rows(sessions)} == {OutboxStatus.SENT}
        landed = ralph.statements(registration=attempt_id)
        assert row.payload["statement_id"] in {s["id"] for s in landed}
        assert len(landed) == len(rows)
    finally:
        engine.dispose()


@pytest.mark.gate_refusals
def test_an_event_is_refused_whole_when_one_lrs_copy_fails(live_server, ralph, monkeypatch,
                                                           tmp_path):
    """A college with two LRSs: the statement for one of them is broken (it names the
    learner by a hash of the e-mail, and the patched renderer cuts the hash short), so
    neither LRS gets it: both keep the same records."""
    server = live_server
    engine = make_engine(server.settings.database_url)
    sessions = make_session_factory(engine, sealer_for(server.settings))
    other = Ralph(tmp_path / "ralph-hashed").start()
    try:
        with transaction(sessions) as db:
            platform = db.scalars(select(Platform).where(
                Platform.client_id == CANVAS.client_id)).one()
            for name, lrs, identity in (("lrs-account", ralph, "account"),
                                        ("lrs-hashed", other, "mbox_sha1sum")):
                add_lrs(db, server.settings, platform, name=name, url=lrs.endpoint,
                        username=lrs.auth[0], password=lrs.auth[1], actor_identity=identity)
        frozen = render.statement_bytes

        def broken(event) -> bytes:
            data = json.loads(frozen(event))
            if "mbox_sha1sum" in data["actor"] and data["verb"]["id"] == v.INITIALIZED.iri:
                data["actor"]["mbox_sha1sum"] = data["actor"]["mbox_sha1sum"][:20]
            return json.dumps(data).encode()

        monkeypatch.setattr(render, "statement_bytes", broken)
        attempt_id = _practice_test(server, CANVAS.people[0].sub)
        _drain(XapiDelivery(sessions, server.settings, Clock(), Random(1)))
        rows = _rows(sessions)
        [row] = [r for r in rows if r.status == OutboxStatus.FAILED]
        assert row.payload["verb"] == "initialized" and row.body is None
        assert row.last_error.startswith(
            "refused by the statement quality gate: actor.mbox_sha1sum at $.actor.mbox_sha1sum")
        copies = [r for r in rows if r.payload["statement_id"] == row.payload["statement_id"]]
        assert copies == [row]  # no copy for the other LRS either
        assert {r.status for r in rows if r is not row} == {OutboxStatus.SENT}
        for lrs in (ralph, other):  # every other statement, in both LRSs
            stored = {s["id"] for s in lrs.statements(registration=attempt_id)}
            assert row.payload["statement_id"] not in stored
            assert len(stored) == (len(rows) - 1) // 2 >= 6
    finally:
        other.stop()
        engine.dispose()
