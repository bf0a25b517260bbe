"""Erasure reaches the LRS: a learner's statements, delivered to a real Ralph, are voided
there by statements the tool sends through its outbox; an LRS that is down at erasure
gets its voidings once it is back; other learners' statements are left alone; the
erasure's report (JSON and text) says per LRS what is voided and what still waits. And the
sandbox's people, named by e-mail, reach Ralph at all (found while writing the above)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from random import Random

from lrs_support import Ralph
from outbound_support import free_port
from sqlalchemy import select
from test_xapi_gate import Clock, _drain, _practice_test

from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.delivery.destinations import add_lrs
from lti_tool.delivery.sealed import sealer_for
from lti_tool.delivery.xapi import XapiDelivery
from lti_tool.models import Outbox, OutboxKind, Platform, StatementLedger, User
from lti_tool.ops.erasure import report, report_text, subject_hash
from lti_tool.ops.privacy import erase_user
from lti_tool.sandbox.platforms import CANVAS
from xapi.voiding import VOIDED

TOOL = "https://tool.college.example.edu"


def _ids_about(ralph: Ralph, sub: str) -> set[str]:
    return {s["id"] for s in ralph.statements()
            if s["actor"].get("account", {}).get("name") == sub}


def _voidings(ralph: Ralph) -> list[dict]:
    # Filtered here: a ``verb`` query to Ralph's file backend (ralph-malph 4) finds nothing.
    return [s for s in ralph.statements() if s["verb"]["id"] == VOIDED]


def test_an_erasure_voids_every_statement_in_every_lrs_including_one_that_was_down(
        live_server, ralph, tmp_path):
    server = live_server
    engine = make_engine(server.settings.database_url)
    sessions = make_session_factory(engine, sealer_for(server.settings))
    late = Ralph(tmp_path / "late-ralph", port=free_port())  # down until the end
    learners = [p for p in CANVAS.people if p.persona == "learner"]
    gone, stays = learners[0], learners[1]
    try:
        with transaction(sessions) as db:
            platform = db.scalars(select(Platform).where(
                Platform.client_id == CANVAS.client_id)).one()
            for name, lrs in (("college-lrs", ralph), ("late-lrs", late)):
                add_lrs(db, server.settings, platform, name=name, url=lrs.endpoint,
                        username=lrs.auth[0], password=lrs.auth[1])
        _practice_test(server, gone.sub)
        _practice_test(server, stays.sub)
        clock = Clock()
        delivery = XapiDelivery(sessions, server.settings, clock, Random(1))
        _drain(delivery)
        sent = _ids_about(ralph, gone.sub)
        kept = _ids_about(ralph, stays.sub)
        assert len(sent) >= 6 and len(kept) >= 6
        with transaction(sessions) as db:  # the ledger has both LRSs, sent or not
            user_id = db.scalars(select(User.id).where(User.sub == gone.sub)).one()
            ledger = set(db.execute(select(StatementLedger.statement_id,
                                           StatementLedger.destination)
                                    .where(StatementLedger.user_id == user_id)).tuples())
        assert {s for s, _ in ledger} == sent and len(ledger) == 2 * len(sent)

        with transaction(sessions) as db:
            done = erase_user(db, CANVAS.issuer(server.settings), gone.sub, tool_home=TOOL,
                              now=datetime.now(UTC))
        assert done.voids_queued == 2 * len(sent)
        clock.offset = timedelta(hours=1)  # the late LRS's backoff is over
        _drain(delivery)

        # Ralph has a voiding statement, by the tool, for each of the learner's statements.
        voids = _voidings(ralph)
        assert {s["object"]["id"] for s in voids} == sent
        assert all(s["object"]["objectType"] == "StatementRef" for s in voids)
        assert all(s["actor"]["account"] == {"homePage": TOOL, "name": "cpt-practice"}
                   for s in voids)
        assert not any(gone.sub in json.dumps(s) for s in voids)  # no personal data again
        assert _ids_about(ralph, stays.sub) == kept  # the other learner is untouched

        with transaction(sessions) as db:
            data = report(db, done.erasure_id)
            lrs_ids = {row.destination for row in db.scalars(select(Outbox).where(
                Outbox.kind == OutboxKind.XAPI, Outbox.payload["voids"].as_string() != ""))}
        assert data is not None and not data["complete"]
        by_name = {entry["lrs"].split(" ")[0]: entry for entry in data["lrs"]}
        assert by_name["college-lrs"]["voided"] == len(sent)
        assert by_name["college-lrs"]["pending"] == 0
        assert by_name["late-lrs"]["pending"] == len(sent)
        assert by_name["late-lrs"]["voided"] == 0
        assert data["subject_sha256"] == subject_hash(CANVAS.issuer(server.settings),
                                                      gone.sub)
        assert gone.sub not in json.dumps(data) and len(lrs_ids) == 2
        assert "waiting to be voided" in report_text(data)

        late.start()  # back: the voidings waiting for it arrive
        clock.offset = timedelta(days=2)
        _drain(delivery)
        assert {s["object"]["id"] for s in _voidings(late)} == sent
        with transaction(sessions) as db:
            data = report(db, done.erasure_id)
        assert data is not None and data["complete"]
        assert all(entry["voided"] == len(sent) for entry in data["lrs"])
        assert "Complete: every voiding delivered." in report_text(data)
    finally:
        late.stop()
        engine.dispose()


def test_a_college_naming_learners_by_email_gets_every_sandbox_statement_into_ralph(
        live_server, ralph):
    """With ``actor_identity = mbox``, Ralph refused every statement about a sandbox
    learner while their address was on the reserved ``.test`` domain: all parked."""
    server = live_server
    engine = make_engine(server.settings.database_url)
    sessions = make_session_factory(engine, sealer_for(server.settings))
    learner = next(p for p in CANVAS.people if p.persona == "learner")
    try:
        with transaction(sessions) as db:
            platform = db.scalars(select(Platform).where(
                Platform.client_id == CANVAS.client_id)).one()
            add_lrs(db, server.settings, platform, name="college-lrs", url=ralph.endpoint,
                    username=ralph.auth[0], password=ralph.auth[1], actor_identity="mbox")
        _practice_test(server, learner.sub)
        _drain(XapiDelivery(sessions, server.settings, Clock(), Random(1)))
        with transaction(sessions) as db:
            errors = [r.last_error for r in db.scalars(select(Outbox).where(
                Outbox.kind == OutboxKind.XAPI)) if r.status != "sent"]
        assert errors == []
        stored = ralph.statements()
        assert len(stored) >= 6
        assert {s["actor"]["mbox"] for s in stored} == {f"mailto:{learner.email}"}
    finally:
        engine.dispose()
