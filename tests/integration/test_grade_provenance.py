"""Grade provenance: why each grade sent to the LMS is what it is, and what the LMS said,
kept as long as the grade - against the sandbox LMS's real token and AGS endpoints."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from factories import db_sessions as _sessions
from flask import Response as FlaskResponse
from lti_helpers import place as _place
from sqlalchemy import func, select
from test_dynamic_registration import _cli
from test_grade_passback import _instructor_session, _take_practice, _worker

from lti_tool.db import transaction
from lti_tool.models import (
    GradeDeliveryTry,
    GradeRecord,
    Outbox,
    OutboxKind,
    OutboxStatus,
    ResourceLink,
)
from lti_tool.ops.privacy import erase_user, purge_expired
from lti_tool.sandbox.models import SandboxLineItem, SandboxPlacedLink
from lti_tool.sandbox.platforms import MOODLE


def _link_id(server, placed) -> str:
    """The LTI resource link id the sandbox LMS gave the placed link (as the LMS names it)."""
    engine, sessions = _sessions(server)
    with transaction(sessions) as db:
        link_ids = list(db.scalars(select(ResourceLink.link_id)))
    engine.dispose()
    assert len(link_ids) == 1, link_ids
    return link_ids[0]


def _explain(server, sub: str, link_id: str, *more: str):
    return _cli(server, "grades", "explain", "--platform", MOODLE.issuer(server.settings),
                "--sub", sub, "--link", link_id, *more)


def test_a_sent_grade_tells_which_attempts_counted_and_what_the_lms_said(live_server):
    placed = _place(live_server, MOODLE)
    student = MOODLE.people[0]
    first = _take_practice(live_server, MOODLE, student, placed, right=20)
    second = _take_practice(live_server, MOODLE, student, placed, right=10)
    engine, worker = _worker(live_server)
    assert worker.run_once().sent == 2
    sessions = _sessions(live_server)[1]
    with transaction(sessions) as db:
        records = list(db.scalars(select(GradeRecord).order_by(GradeRecord.id)))
        assert len(records) == 2
        latest = records[-1]
        assert latest.policy == "best" and latest.state == "sent"
        assert [a["id"] for a in latest.attempts] == [first, second]
        assert [(a["score"], a["max"]) for a in latest.attempts] == [(20, 25), (10, 25)]
        assert (latest.score_given, latest.score_maximum) == (20.0, 25.0)
        tries = list(db.scalars(select(GradeDeliveryTry).where(
            GradeDeliveryTry.grade_record_id == latest.id)))
        assert len(tries) == 1 and tries[0].outcome == "sent"
        assert tries[0].http_status == 200 and tries[0].at is not None
    link_id = _link_id(live_server, placed)

    text = _explain(live_server, student.sub, link_id)
    assert text.exit_code == 0, text.output
    assert "Best of 2 attempts: 80%" in text.output
    assert "Moodle accepted" in text.output and first in text.output
    assert text.output.count("try 1:") == 2  # one block per grade, every try
    answer = json.loads(_explain(live_server, student.sub, link_id, "--json").output)
    assert [g["state"] for g in answer["grades"]] == ["sent", "sent"]
    assert answer["grades"][0]["tries"][0]["http_status"] == 200

    s, csrf, grades_url = _instructor_session(live_server, MOODLE, placed)
    page = s.get(grades_url).text
    assert "Best of 2 attempts: 80%" in page and "Moodle accepted" in page
    assert "<details>" in page and "<summary>" in page and "(made the grade)" in page

    # The instructor's "Resend all grades": a new grade on the record, and its try.
    resend = s.post(grades_url.replace("/instructor/grades", "/instructor/grades/resend"),
                    data={"csrf_token": csrf})
    assert resend.status_code == 200 and "has not answered yet" in resend.text
    assert worker.run_once().sent == 1
    with transaction(sessions) as db:
        newest = db.scalars(select(GradeRecord).order_by(GradeRecord.id.desc())).first()
        assert newest.state == "sent" and len(newest.attempts) == 2
        assert db.scalar(select(func.count()).select_from(GradeDeliveryTry).where(
            GradeDeliveryTry.grade_record_id == newest.id)) == 1
    assert _explain(live_server, student.sub, link_id).output.count("try 1:") == 3
    engine.dispose()


def test_an_lms_that_is_down_then_refuses_is_recorded_try_by_try(live_server):
    placed = _place(live_server, MOODLE)
    student = MOODLE.people[0]
    _take_practice(live_server, MOODLE, student, placed, right=15)
    app = live_server.app
    scores_view = app.view_functions["sandbox_services.moodle_scores"]
    app.view_functions["sandbox_services.moodle_scores"] = (
        lambda **kwargs: FlaskResponse("gradebook is busy", status=503))
    now = datetime.now(UTC)
    engine, worker = _worker(live_server, clock=lambda: now)
    try:
        assert worker.run_once().retried == 1
    finally:
        app.view_functions["sandbox_services.moodle_scores"] = scores_view
    sessions = _sessions(live_server)[1]
    with transaction(sessions) as db:
        record = db.scalars(select(GradeRecord)).one()
        assert record.state == "retrying" and record.next_try_at > now
        only = db.scalars(select(GradeDeliveryTry)).one()
        assert (only.http_status, only.body, only.outcome) == (
            503, "gradebook is busy", "retrying")
    link_id = _link_id(live_server, placed)
    waiting = _explain(live_server, student.sub, link_id).output
    assert "Latest" not in waiting and "queued" in waiting
    assert "Moodle has not taken it yet (503 gradebook is busy)" in waiting
    assert "trying again at" in waiting
    s, _, grades_url = _instructor_session(live_server, MOODLE, placed)
    assert "trying again at" in s.get(grades_url).text

    with transaction(sessions) as db:  # the line item is deleted in the LMS: 404, for good
        db.delete(db.get(SandboxLineItem, db.get(SandboxPlacedLink, placed).line_item_id))
    later = now + timedelta(hours=1)
    _, worker = _worker(live_server, clock=lambda: later)
    assert worker.run_once().failed == 1
    with transaction(sessions) as db:
        record = db.scalars(select(GradeRecord)).one()
        assert record.state == "failed"
        tries = list(db.scalars(select(GradeDeliveryTry).order_by(GradeDeliveryTry.id)))
        assert [(t.http_status, t.outcome) for t in tries] == [(503, "retrying"),
                                                                (404, "failed")]
    refused = _explain(live_server, student.sub, link_id).output
    assert "Moodle refused it: 404" in refused and "ask your LMS admin" in refused
    assert "try 2:" in refused
    page = s.get(grades_url).text
    assert "Moodle refused it: 404" in page and "ask your LMS admin" in page

    # `cpt-lti outbox retry` puts it back: the record says so, and the next try is recorded.
    assert "1 deliveries queued again" in _cli(live_server, "outbox", "retry").output
    with transaction(sessions) as db:
        assert db.scalars(select(GradeRecord)).one().state == "retrying"
    engine.dispose()


def test_provenance_outlives_the_outbox_purge_and_goes_with_erasure(live_server):
    placed = _place(live_server, MOODLE)
    student = MOODLE.people[0]
    _take_practice(live_server, MOODLE, student, placed, right=12)
    engine, worker = _worker(live_server)
    assert worker.run_once().sent == 1
    sessions = _sessions(live_server)[1]
    with transaction(sessions) as db:
        purged = purge_expired(db, datetime.now(UTC) + timedelta(days=400), 30)
        assert purged["outbox"] == 1
        assert db.scalar(select(func.count()).select_from(Outbox).where(
            Outbox.kind == OutboxKind.AGS, Outbox.status == OutboxStatus.SENT)) == 0
        assert db.scalar(select(func.count()).select_from(GradeRecord)) == 1
    link_id = _link_id(live_server, placed)
    kept = _explain(live_server, student.sub, link_id)
    assert kept.exit_code == 0 and "Moodle accepted" in kept.output

    with transaction(sessions) as db:
        erase_user(db, MOODLE.issuer(live_server.settings), student.sub,
                   tool_home=live_server.settings.base_url)
    with transaction(sessions) as db:
        assert db.scalar(select(func.count()).select_from(GradeRecord)) == 0
        assert db.scalar(select(func.count()).select_from(GradeDeliveryTry)) == 0
    engine.dispose()


def test_explain_refuses_unknown_platform_person_and_link_in_one_line(live_server):
    placed = _place(live_server, MOODLE)
    _take_practice(live_server, MOODLE, MOODLE.people[0], placed, right=3)
    link_id = _link_id(live_server, placed)
    nobody = _cli(live_server, "grades", "explain", "--platform", "https://nowhere.example",
                  "--sub", "x", "--link", link_id)
    assert nobody.exit_code == 2 and len(nobody.output.strip().splitlines()) == 1
    stranger = _explain(live_server, "no-such-sub", link_id)
    assert stranger.exit_code == 2 and "no learner" in stranger.output
    elsewhere = _explain(live_server, MOODLE.people[0].sub, "no-such-link")
    assert elsewhere.exit_code == 2 and "no link" in elsewhere.output
