"""Grade passback through the outbox to the sandbox LMS's real token and AGS endpoints."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import requests
from factories import db_sessions as _sessions
from lti_helpers import instructor as _instructor
from lti_helpers import place as _place
from sqlalchemy import func, select
from support import parse_form

from lti_tool.db import make_session_factory, transaction
from lti_tool.delivery.outbound import OutboundPolicy
from lti_tool.delivery.retry import grade_retry_at as next_attempt_at
from lti_tool.delivery.worker import OutboxWorker
from lti_tool.lti.ags import DeliveryError
from lti_tool.models import Attempt, Outbox, OutboxKind, OutboxStatus, Platform
from lti_tool.sandbox.models import (
    SandboxLineItem,
    SandboxPlacedLink,
    SandboxResult,
    SandboxScore,
    SandboxToken,
)
from lti_tool.sandbox.platforms import CANVAS, MOODLE


def _take_practice(server, platform, person, placed_id, right: int) -> str:
    s = requests.Session()
    page = s.get(f"{server.url}/sandbox/{platform.key}/launch/frame",
                 params={"user": person.sub, "link": f"placed-{placed_id}"})
    action, fields = parse_form(page.text)
    r = s.post(action, data=fields)
    if 'id="lti-storage"' in r.text:
        from lti_helpers import storage_config

        r = s.get(storage_config(r.text)["redirect"])
    action, fields = parse_form(r.text)
    landed = s.post(action, data=fields)
    csrf = landed.text.split('name="csrf-token" content="')[1].split('"')[0]
    assert "/attempts/new" in landed.url  # a placed test opens on its start screen
    action, fields = parse_form(landed.text)  # its first form: Start
    started = s.post(urljoin(landed.url, action), data=fields)
    attempt_id = started.url.split("/attempts/")[1].split("?")[0]
    s.headers["X-CSRF-Token"] = csrf
    engine, sessions = _sessions(server)
    with transaction(sessions) as db:
        plan = db.get(Attempt, attempt_id).item_ids
        from lti_tool.models import CurriculumItem

        keys = {i: next(n for n, o in enumerate(db.get(CurriculumItem, i).options)
                        if o["correct"]) for i in plan}
    engine.dispose()
    for n, item_id in enumerate(plan):
        choice = keys[item_id] if n < right else (keys[item_id] + 1) % 4
        r = s.post(f"{server.url}/api/attempts/{attempt_id}/answers", json={
            "item_id": item_id, "choice": choice, "idempotency_key": uuid.uuid4().hex})
        assert r.status_code == 201
    assert s.post(f"{server.url}/api/attempts/{attempt_id}/submit").status_code == 200
    return attempt_id


def _worker(server, clock=None):
    engine, sessions = _sessions(server)
    # The sandbox LMS listens on loopback: allowed by the test settings' allow-list.
    return engine, OutboxWorker(sessions, clock or (lambda: datetime.now(UTC)), 5.0,
                                policy=OutboundPolicy.from_settings(server.settings))


def test_practice_score_lands_in_the_gradebook_with_one_token(live_server):
    placed = _place(live_server, MOODLE)
    first, second = MOODLE.people[0], MOODLE.people[1]
    attempt_id = _take_practice(live_server, MOODLE, first, placed, right=20)
    engine, worker = _worker(live_server)
    report = worker.run_once()
    assert (report.sent, report.retried, report.failed) == (1, 0, 0), report.errors
    _take_practice(live_server, MOODLE, second, placed, right=12)
    assert worker.run_once().sent == 1
    assert worker.run_once().handled == 0  # nothing delivered twice
    sessions = make_session_factory(engine)
    with transaction(sessions) as db:
        item_id = db.get(SandboxPlacedLink, placed).line_item_id
        results = {r.user_id: r.score_given for r in db.scalars(select(SandboxResult).where(
            SandboxResult.line_item_id == item_id))}
        assert results == {first.sub: 20.0, second.sub: 12.0}
        assert db.scalar(select(func.count()).select_from(SandboxToken)) == 1  # cached
        score = db.scalars(select(SandboxScore).where(SandboxScore.user_id == first.sub)
                           ).one().body
        attempt = db.get(Attempt, attempt_id)
        assert score["scoreGiven"] == 20 and score["scoreMaximum"] == 25
        assert score["activityProgress"] == "Completed"
        assert score["gradingProgress"] == "FullyGraded"
        assert "20 of 25 correct" in score["comment"]
        sent_at = datetime.fromisoformat(score["timestamp"])
        assert abs(sent_at - attempt.submitted_at) < timedelta(seconds=2)
        assert "https://canvas.instructure.com/lti/submission" not in score  # Moodle
        statuses = {o.status for o in db.scalars(select(Outbox).where(
            Outbox.kind == OutboxKind.AGS))}
        assert statuses == {OutboxStatus.SENT}
    engine.dispose()


def test_canvas_gets_the_submission_extension(live_server):
    placed = _place(live_server, CANVAS, "mock:green")
    person = CANVAS.people[0]
    engine, sessions = _sessions(live_server)
    _take_practice(live_server, CANVAS, person, placed, right=30)
    _, worker = _worker(live_server)
    assert worker.run_once().sent == 1
    with transaction(sessions) as db:
        body = db.scalars(select(SandboxScore)).one().body
        ext = body["https://canvas.instructure.com/lti/submission"]
        assert ext["new_submission"] is True and ext["submitted_at"]
        item = db.scalars(select(SandboxLineItem)).one()
        assert item.resource_id == "mock:green" and item.score_maximum == 40
    engine.dispose()


def test_unreachable_token_endpoint_is_retried_then_delivered(live_server):
    placed = _place(live_server, MOODLE)
    _take_practice(live_server, MOODLE, MOODLE.people[0], placed, right=5)
    engine, sessions = _sessions(live_server)
    with transaction(sessions) as db:
        platform = db.scalars(select(Platform).where(Platform.client_id == MOODLE.client_id)
                              ).one()
        good_url, platform.auth_token_url = platform.auth_token_url, "http://127.0.0.1:9/t"
    now = datetime.now(UTC)
    _, worker = _worker(live_server, clock=lambda: now)
    report = worker.run_once()
    assert (report.sent, report.retried) == (0, 1)
    with transaction(sessions) as db:
        row = db.scalars(select(Outbox).where(Outbox.kind == OutboxKind.AGS)).one()
        assert row.status == OutboxStatus.PENDING and row.attempts == 1
        assert "unreachable" in row.last_error and row.next_attempt_at > now
        db.scalars(select(Platform).where(Platform.client_id == MOODLE.client_id)
                   ).one().auth_token_url = good_url
    assert worker.run_once().handled == 0  # not due yet
    later = now + timedelta(minutes=5)
    _, worker = _worker(live_server, clock=lambda: later)
    assert worker.run_once().sent == 1
    engine.dispose()


def test_a_deleted_line_item_fails_for_good_with_the_reason(live_server):
    placed = _place(live_server, MOODLE)
    _take_practice(live_server, MOODLE, MOODLE.people[0], placed, right=5)
    engine, sessions = _sessions(live_server)
    with transaction(sessions) as db:
        link = db.get(SandboxPlacedLink, placed)
        db.delete(db.get(SandboxLineItem, link.line_item_id))
    _, worker = _worker(live_server)
    report = worker.run_once()
    assert report.failed == 1
    with transaction(sessions) as db:
        row = db.scalars(select(Outbox).where(Outbox.kind == OutboxKind.AGS)).one()
        assert row.status == OutboxStatus.FAILED and "404" in row.last_error
    engine.dispose()


def test_backoff_grows_with_jitter_and_gives_up():
    from random import Random

    now = datetime(2026, 11, 25, tzinfo=UTC)
    retry = DeliveryError("503", retryable=True)
    delays = [(next_attempt_at(retry, n, now, Random(1)) - now).total_seconds()
              for n in (1, 2, 3, 4)]
    assert all(b > a for a, b in zip(delays, delays[1:], strict=False))
    assert 5 <= delays[0] <= 10
    assert next_attempt_at(retry, 12, now, Random(1)) is None
    assert next_attempt_at(DeliveryError("400", retryable=False), 1, now, Random(1)) is None


def _instructor_session(server, platform, placed_id):
    s = requests.Session()
    page = s.get(f"{server.url}/sandbox/{platform.key}/launch/frame",
                 params={"user": _instructor(platform).sub, "link": f"placed-{placed_id}"})
    action, fields = parse_form(page.text)
    r = s.post(action, data=fields)
    action, fields = parse_form(r.text)
    landing = s.post(action, data=fields)
    assert "Grades for this activity" in landing.text
    csrf = landing.text.split('name="csrf-token" content="')[1].split('"')[0]
    href = re.search(r'href="([^"]*/instructor/grades[^"]*)"', landing.text).group(1)
    return s, csrf, server.url + href.replace("&amp;", "&")


def test_policy_change_republishes_and_the_newer_score_wins(live_server):
    placed = _place(live_server, MOODLE)
    student = MOODLE.people[0]
    _take_practice(live_server, MOODLE, student, placed, right=20)
    _take_practice(live_server, MOODLE, student, placed, right=10)
    engine, worker = _worker(live_server)
    assert worker.run_once().sent == 2
    sessions = make_session_factory(engine)
    with transaction(sessions) as db:
        item_id = db.get(SandboxPlacedLink, placed).line_item_id
        result = db.scalars(select(SandboxResult).where(
            SandboxResult.line_item_id == item_id)).one()
        assert result.score_given == 20.0  # best of 20 and 10
        assert "Best of 2 attempts" in result.comment
    s, csrf, grades_url = _instructor_session(live_server, MOODLE, placed)
    page = s.get(grades_url)
    assert page.status_code == 200 and student.name in page.text
    assert "20 of 25" in page.text and "sent" in page.text
    policy_url = grades_url.replace("/instructor/grades", "/instructor/grades/policy")
    r = s.post(policy_url, data={"csrf_token": csrf, "policy": "latest"})
    assert r.status_code == 200 and "10 of 25" in r.text
    # Waiting for the worker, in words (grade provenance, issue 20; was "pending").
    assert "Latest of 2 attempts: 40%, queued" in r.text
    assert "Moodle has not answered yet" in r.text
    assert worker.run_once().sent == 1
    with transaction(sessions) as db:
        result = db.scalars(select(SandboxResult).where(
            SandboxResult.line_item_id == item_id)).one()
        assert result.score_given == 10.0 and "Latest of 2 attempts" in result.comment
    r = s.post(policy_url, data={"csrf_token": "wrong", "policy": "average"})
    assert r.status_code == 403
    engine.dispose()


def test_learners_cannot_open_the_grades_page(live_server):
    from lti_helpers import full_launch

    s = requests.Session()
    full_launch(live_server, "moodle", MOODLE.people[0].sub, session=s)
    r = s.get(f"{live_server.url}/instructor/grades")
    assert r.status_code == 403


def test_worker_crash_between_send_and_mark_is_harmless(live_server, monkeypatch):
    """The score reached the LMS but the worker died before recording it: after the lease
    the row is delivered again, with the same timestamp, so the gradebook does not change
    and nothing is counted twice."""
    from lti_tool.delivery import outbox as outbox_module

    placed = _place(live_server, MOODLE)
    _take_practice(live_server, MOODLE, MOODLE.people[0], placed, right=18)
    now = datetime.now(UTC)
    engine, worker = _worker(live_server, clock=lambda: now)

    def crash(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(worker, "_record", crash)
    try:
        worker.run_once()
    except SystemExit:
        pass
    monkeypatch.undo()
    sessions = make_session_factory(engine)
    with transaction(sessions) as db:
        assert db.scalar(select(func.count()).select_from(SandboxScore)) == 1  # it was sent
        row = db.scalars(select(Outbox).where(Outbox.kind == OutboxKind.AGS)).one()
        assert row.status == OutboxStatus.PENDING  # but not recorded
    assert worker.run_once().handled == 0  # leased: another worker would skip it
    later = now + outbox_module.LEASE + timedelta(seconds=1)
    _, worker = _worker(live_server, clock=lambda: later)
    assert worker.run_once().sent == 1
    with transaction(sessions) as db:
        bodies = [s.body for s in db.scalars(select(SandboxScore))]
        assert len(bodies) == 2 and bodies[0] == bodies[1]  # identical resend
        results = list(db.scalars(select(SandboxResult)))
        assert [r.score_given for r in results] == [18.0]
    engine.dispose()


def test_submission_review_from_the_gradebook(live_server):
    """Gradebook -> LtiSubmissionReviewRequest -> the student's attempt review."""
    placed = _place(live_server, MOODLE)
    student = MOODLE.people[0]
    _take_practice(live_server, MOODLE, student, placed, right=15)
    engine, worker = _worker(live_server)
    assert worker.run_once().sent == 1
    book = requests.get(f"{live_server.url}/sandbox/moodle/gradebook")
    href = re.search(r'href="([^"]*review_of=[^"]+)"', book.text).group(1)
    s = requests.Session()
    course_page = s.get(live_server.url + href.replace("&amp;", "&"))
    frame = re.search(r'<iframe name="tool_frame"[^>]*src="([^"]+)"', course_page.text)
    page = s.get(live_server.url + frame.group(1).replace("&amp;", "&"))
    action, fields = parse_form(page.text)
    r = s.post(action, data=fields)
    action, fields = parse_form(r.text)
    review = s.post(action, data=fields)
    assert review.status_code == 200, review.text[:500]
    assert "Attempt review" in review.text and "15 of 25 correct" in review.text
    engine.dispose()


def test_ags_503_is_retried_and_the_assertion_is_well_formed(live_server):
    """The LMS answers 503 once: the score is retried and lands. The client assertion the
    tool sent is checked here too: aud = token URL, iss = sub = client id, exp, jti."""
    import jwt as pyjwt
    from flask import Response as FlaskResponse
    from flask import request as flask_request

    placed = _place(live_server, MOODLE)
    _take_practice(live_server, MOODLE, MOODLE.people[0], placed, right=9)
    app = live_server.app
    scores_view = app.view_functions["sandbox_services.moodle_scores"]
    token_view = app.view_functions["sandbox_services.moodle_token"]
    failures, assertions = [1], []

    def flaky_scores(**kwargs):
        if failures:
            failures.pop()
            return FlaskResponse("busy", status=503)
        return scores_view(**kwargs)

    def spying_token(**kwargs):
        assertions.append(flask_request.form["client_assertion"])
        return token_view(**kwargs)

    app.view_functions["sandbox_services.moodle_scores"] = flaky_scores
    app.view_functions["sandbox_services.moodle_token"] = spying_token
    now = datetime.now(UTC)
    engine, worker = _worker(live_server, clock=lambda: now)
    report = worker.run_once()
    assert report.retried == 1 and "503" in report.errors[0]
    later = now + timedelta(minutes=2)
    _, worker = _worker(live_server, clock=lambda: later)
    assert worker.run_once().sent == 1
    claims = pyjwt.decode(assertions[0], options={"verify_signature": False})
    token_url = MOODLE.endpoint(live_server.settings, MOODLE.token_path)
    assert claims["aud"] == token_url
    assert claims["iss"] == claims["sub"] == MOODLE.client_id
    assert claims["exp"] > claims["iat"] and claims["jti"]
    header = pyjwt.get_unverified_header(assertions[0])
    published = requests.get(f"{live_server.url}/lti/jwks").json()["keys"]
    assert header["alg"] == "RS256" and header["kid"] in {k["kid"] for k in published}
    engine.dispose()


def test_grades_page_exports_csv(live_server):
    placed = _place(live_server, MOODLE)
    _take_practice(live_server, MOODLE, MOODLE.people[0], placed, right=7)
    s, _, grades_url = _instructor_session(live_server, MOODLE, placed)
    r = s.get(grades_url + ("&" if "?" in grades_url else "?") + "format=csv")
    assert r.headers["Content-Type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("student,attempts,grade")
    assert any(line.startswith(f"{MOODLE.people[0].name},1,7") for line in lines[1:])
