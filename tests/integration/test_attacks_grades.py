"""A grade means what the instructor placed (issue 15, case 1).

A student launched from a placed, graded link tries every other way to start an attempt
from that link - a short lesson, a one-item practice test, through the JSON API and the
HTML forms - before taking the placed mock exam half-heartedly. The LMS gradebook must
receive the mock's score and nothing else. A link with no placed activity (the course
navigation link) never creates a line item or sends a score, and a relaunch or a second
start of the placed activity resumes the same graded attempt.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select
from support import parse_form
from test_attacks_common import TIMEOUT, actor, csrf_of, db_session
from test_grade_passback import _place, _worker

from lti_tool.models import (
    Attempt,
    AttemptMode,
    CurriculumItem,
    CurriculumLesson,
    Outbox,
    OutboxKind,
)
from lti_tool.sandbox.models import SandboxLineItem, SandboxPlacedLink, SandboxResult
from lti_tool.sandbox.platforms import CANVAS, MOODLE


class Student:
    """A learner's browser after a launch from one link: session cookie and CSRF token."""

    def __init__(self, server, http: requests.Session, landed: requests.Response) -> None:
        self.server, self.http, self.landed = server, http, landed
        self.csrf = csrf_of(landed.text)
        self.http.headers["X-CSRF-Token"] = self.csrf

    def api(self, method: str, path: str, **kw) -> requests.Response:
        return self.http.request(method, self.server.url + path, timeout=TIMEOUT, **kw)

    def form(self, path: str, data: dict) -> requests.Response:
        return self.http.post(self.server.url + path, data={**data, "csrf_token": self.csrf},
                              timeout=TIMEOUT)


def launch_link(server, platform, person, link: str,
                http: requests.Session | None = None) -> Student:
    """Click a link of the sandbox course as ``person`` and follow the OIDC round trip."""
    s = http or requests.Session()
    page = s.get(f"{server.url}/sandbox/{platform.key}/launch/frame",
                 params={"user": person.sub, "link": link}, timeout=TIMEOUT)
    action, fields = parse_form(page.text)
    r = s.post(action, data=fields, timeout=TIMEOUT)
    if 'id="lti-storage"' in r.text:
        from lti_helpers import storage_config

        r = s.get(storage_config(r.text)["redirect"], timeout=TIMEOUT)
    action, fields = parse_form(r.text)
    landed = s.post(action, data=fields, timeout=TIMEOUT)
    assert landed.status_code == 200, landed.text[:800]
    return Student(server, s, landed)


def attempt_of(student: Student) -> str:
    """The attempt a placed link's launch leads to: a test or exam opens on its start
    screen (nothing started yet), and pressing Start starts it (or resumes it)."""
    url = student.landed.url
    if "/attempts/new" in url:
        assert "Before you start" in student.landed.text, student.landed.text[:800]
        query = parse_qs(urlsplit(url).query)
        url = student.form("/attempts", {"mode": query["mode"][0],
                                         "module_id": query["module_id"][0]}).url
    return url.split("/attempts/")[1].split("?")[0].split("/")[0]


def keys(server, item_ids) -> dict[str, int]:
    with db_session(server) as db:
        return {i: next(n for n, o in enumerate(db.get(CurriculumItem, i).options)
                        if o["correct"]) for i in item_ids}


def plan(server, attempt_id: str) -> list[str]:
    with db_session(server) as db:
        return list(db.get(Attempt, attempt_id).item_ids)


def a_lesson(server, module_id: str = "safety") -> tuple[str, list[str]]:
    with db_session(server) as db:
        lesson = db.scalars(select(CurriculumLesson).where(
            CurriculumLesson.module_id == module_id, CurriculumLesson.retired.is_(False))
            .order_by(CurriculumLesson.id)).first()
        return lesson.id, list(lesson.checks)


def answer_api(student: Student, attempt_id: str, item_id: str, choice: int) -> None:
    r = student.api("POST", f"/api/attempts/{attempt_id}/answers", json={
        "item_id": item_id, "choice": choice, "idempotency_key": uuid.uuid4().hex})
    assert r.status_code == 201, r.text


def answer_form(student: Student, attempt_id: str, item_id: str, choice: int,
                position: int) -> None:
    r = student.form(f"/attempts/{attempt_id}/answer", {
        "item_id": item_id, "choice": choice, "position": position,
        "idempotency_key": uuid.uuid4().hex})
    assert r.status_code == 200, r.text[:800]


def side_attempts(student: Student, via: str) -> None:
    """Everything but the placed activity, all answered right and submitted. (The lesson
    is another module's: a Safety lesson check may be in the open Safety mock, and gets no
    feedback while it is open - see test_attacks_answer_keys.py.)"""
    lesson_id, checks = a_lesson(student.server, "quality")
    right = keys(student.server, checks)
    if via == "api":
        r = student.api("POST", "/api/attempts", json={
            "mode": "lesson", "module_id": "quality", "lesson_id": lesson_id})
        assert r.status_code == 201, r.text
        for item_id in checks:
            answer_api(student, r.json()["id"], item_id, right[item_id])
        r = student.api("POST", "/api/attempts", json={
            "mode": "practice", "module_id": "safety", "size": 1})
        assert r.status_code == 201, r.text
        practice = r.json()["id"]
        (item_id,) = plan(student.server, practice)
        answer_api(student, practice, item_id, keys(student.server, [item_id])[item_id])
        assert student.api("POST", f"/api/attempts/{practice}/submit").status_code == 200
    else:
        r = student.form("/attempts", {"mode": "lesson", "module_id": "quality",
                                       "lesson_id": lesson_id})
        assert r.status_code == 200 and "/attempts/" in r.url, r.text[:800]
        lesson = r.url.split("/attempts/")[1].split("?")[0]
        for n, item_id in enumerate(checks, 1):
            answer_form(student, lesson, item_id, right[item_id], n)
        r = student.form("/attempts", {"mode": "practice", "module_id": "safety"})
        practice = r.url.split("/attempts/")[1].split("?")[0]
        items = plan(student.server, practice)
        right = keys(student.server, items)
        for n, item_id in enumerate(items, 1):
            answer_form(student, practice, item_id, right[item_id], n)
        assert student.form(f"/attempts/{practice}/submit", {"confirm": "yes"}).status_code == 200


def ags_rows(server) -> int:
    with db_session(server) as db:
        return db.scalar(select(func.count()).select_from(Outbox).where(
            Outbox.kind == OutboxKind.AGS))


def lms_result(server, placed: int, sub: str) -> tuple[float, float] | None:
    with db_session(server) as db:
        line_item = db.get(SandboxPlacedLink, placed).line_item_id
        row = db.scalars(select(SandboxResult).where(
            SandboxResult.line_item_id == line_item, SandboxResult.user_id == sub)).first()
        return (row.score_given, row.score_maximum) if row else None


@pytest.mark.parametrize("via", ["api", "form"])
def test_only_the_placed_mock_reaches_the_gradebook(live_server, via):
    placed = _place(live_server, MOODLE, "mock:safety")
    person = MOODLE.people[0]
    student = launch_link(live_server, MOODLE, person, f"placed-{placed}")
    mock = attempt_of(student)
    assert len(plan(live_server, mock)) == 80

    side_attempts(student, via)
    # Nothing done beside the placed activity is a grade: no score queued at all.
    assert ags_rows(live_server) == 0

    items = plan(live_server, mock)
    right = keys(live_server, items[:5])
    for item_id in items[:5]:
        answer_api(student, mock, item_id, right[item_id])
    assert student.api("POST", f"/api/attempts/{mock}/submit").status_code == 200
    engine, worker = _worker(live_server)
    try:
        report = worker.run_once()
    finally:
        engine.dispose()
    assert report.failed == 0, report.errors
    assert lms_result(live_server, placed, person.sub) == (5.0, 80.0)


def test_a_short_practice_test_from_a_graded_practice_link_is_not_a_grade(live_server):
    placed = _place(live_server, MOODLE, "practice:safety")
    person = MOODLE.people[0]
    student = launch_link(live_server, MOODLE, person, f"placed-{placed}")
    graded = attempt_of(student)
    assert len(plan(live_server, graded)) == 25
    r = student.api("POST", "/api/attempts", json={"mode": "practice", "module_id": "safety",
                                                   "size": 2})
    short = r.json()["id"]
    assert short != graded
    for item_id, choice in keys(live_server, plan(live_server, short)).items():
        answer_api(student, short, item_id, choice)
    assert student.api("POST", f"/api/attempts/{short}/submit").status_code == 200
    assert ags_rows(live_server) == 0
    # The placed size, started again through the API, is the same graded attempt (resume).
    r = student.api("POST", "/api/attempts", json={"mode": "practice", "module_id": "safety",
                                                   "size": 25})
    assert r.json()["id"] == graded
    # A relaunch from the LMS lands on it too.
    again = launch_link(live_server, MOODLE, person, f"placed-{placed}")
    assert attempt_of(again) == graded
    items = plan(live_server, graded)
    right = keys(live_server, items)
    for item_id in items[:10]:
        answer_api(again, graded, item_id, right[item_id])
    assert again.api("POST", f"/api/attempts/{graded}/submit").status_code == 200
    engine, worker = _worker(live_server)
    try:
        worker.run_once()
    finally:
        engine.dispose()
    assert lms_result(live_server, placed, person.sub) == (10.0, 25.0)
    with db_session(live_server) as db:
        counted = {a.id: a.counts_for_grade for a in db.scalars(select(Attempt).where(
            Attempt.mode == AttemptMode.PRACTICE))}
    assert counted == {graded: True, short: False}


def test_the_grade_page_says_which_attempts_counted(live_server):
    placed = _place(live_server, CANVAS, "practice:quality")
    person = CANVAS.people[0]
    student = launch_link(live_server, CANVAS, person, f"placed-{placed}")
    graded = attempt_of(student)
    r = student.api("POST", "/api/attempts", json={"mode": "practice",
                                                   "module_id": "quality", "size": 1})
    short = r.json()["id"]
    for attempt_id in (short, graded):
        assert student.api("POST", f"/api/attempts/{attempt_id}/submit").status_code == 200
    teacher = next(p for p in CANVAS.people if p.persona == "instructor")
    staff = launch_link(live_server, CANVAS, teacher, f"placed-{placed}")
    page = staff.http.get(live_server.url + "/instructor/grades", timeout=TIMEOUT)
    assert page.status_code == 200
    assert "Quality" in page.text and "practice test of 25 questions" in page.text
    row = page.text.split(person.name or person.sub)[1].split("</tr>")[0]
    assert "1 counted" in row and "1 practice" in row


def test_the_course_navigation_link_never_creates_a_line_item(live_server):
    student = actor(live_server, "canvas")  # the sandbox's course navigation link
    lesson_id, checks = a_lesson(live_server)
    headers = {"X-CSRF-Token": student.csrf}
    r = student.post(f"{live_server.url}/api/attempts", headers=headers, json={
        "mode": "lesson", "module_id": "safety", "lesson_id": lesson_id})
    lesson = r.json()["id"]
    for item_id, choice in keys(live_server, checks).items():
        assert student.post(f"{live_server.url}/api/attempts/{lesson}/answers",
                            headers=headers, json={"item_id": item_id, "choice": choice,
                                                   "idempotency_key": uuid.uuid4().hex}
                            ).status_code == 201
    r = student.post(f"{live_server.url}/api/attempts", headers=headers, json={
        "mode": "practice", "module_id": "safety", "size": 1})
    assert student.post(f"{live_server.url}/api/attempts/{r.json()['id']}/submit",
                        headers=headers).status_code == 200
    engine, worker = _worker(live_server)
    try:
        worker.run_once()
    finally:
        engine.dispose()
    assert ags_rows(live_server) == 0
    with db_session(live_server) as db:
        assert db.scalar(select(func.count()).select_from(SandboxLineItem)) == 0
