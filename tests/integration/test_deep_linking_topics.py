"""Deep Linking of one topic (issue 19, defect 8): an instructor places a single lesson or
a drill on one key activity, the sandbox LMS places the link, and a student's launch of it
opens exactly that lesson or drill - practice, never a grade, whatever the student does
from the link."""

from __future__ import annotations

import html

import jwt
import pytest
import requests
from factories import db_sessions
from lti_helpers import deep_link_picker, instructor, place
from sqlalchemy import select
from support import parse_form

from lti_tool.db import transaction
from lti_tool.models import Attempt, Outbox, OutboxKind, ResourceLink
from lti_tool.practice.placement import link_placement
from lti_tool.sandbox.models import SandboxLineItem, SandboxPlacedLink
from lti_tool.sandbox.platforms import CANVAS, MOODLE

LESSON = "lesson:safety:LES-safety-emergency"
DRILL = "drill:safety:safety.emergency"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"


def _launch_placed(server, platform, placed_id: int, person=None,
                   session: requests.Session | None = None) -> requests.Response:
    """A student opens a placed link from the course, following the OIDC round trip."""
    from lti_helpers import storage_config

    s = session or requests.Session()
    person = person or next(p for p in platform.people if p.persona == "learner")
    page = s.get(f"{server.url}/sandbox/{platform.key}/launch/frame",
                 params={"user": person.sub, "link": f"placed-{placed_id}"})
    action, fields = parse_form(page.text)
    r = s.post(action, data=fields)
    storage = storage_config(r.text)
    if storage:
        r = s.get(storage["redirect"])
    action, fields = parse_form(r.text)
    return s.post(action, data=fields)


def _attempts(server) -> list[Attempt]:
    engine, sessions = db_sessions(server)
    with transaction(sessions) as db:
        rows = list(db.scalars(select(Attempt).order_by(Attempt.started_at)))
        db.expunge_all()
    engine.dispose()
    return rows


@pytest.mark.parametrize("platform", [MOODLE, CANVAS], ids=["moodle", "canvas"])
def test_instructor_places_one_lesson_and_one_key_activity_drill(live_server, platform):
    s, picker = deep_link_picker(live_server, platform, instructor(platform))
    assert picker.status_code == 200
    # Every live lesson and every key activity of a module can be picked on its own.
    assert f'value="{LESSON}"' in picker.text and f'value="{DRILL}"' in picker.text
    assert "Emergency plans, drills and first response" in picker.text
    assert "Take part in emergency drills and emergency response teams" in picker.text
    action, fields = parse_form(picker.text)
    fields["activity"] = [LESSON, DRILL]
    back = s.post(live_server.url + html.unescape(action), data=fields)
    assert back.status_code == 200, back.text[:800]
    return_url, form = parse_form(back.text)
    items = jwt.decode(form["JWT"], options={"verify_signature": False})[DL]
    lesson = next(i for i in items if i["custom"]["activity"] == "lesson")
    drill = next(i for i in items if i["custom"]["activity"] == "drill")
    assert lesson["custom"]["module"] == "safety"
    assert lesson["custom"]["lesson"] == "LES-safety-emergency"
    assert drill["custom"]["key_activity"] == "safety.emergency"
    assert "lineItem" not in lesson and "lineItem" not in drill  # practice, not a grade
    assert s.post(return_url, data=form).status_code == 200  # the LMS verifies, places
    engine, sessions = db_sessions(live_server)
    with transaction(sessions) as db:
        placed = list(db.scalars(select(SandboxPlacedLink)))
        assert len(placed) == 2 and all(p.line_item_id is None for p in placed)
        assert db.scalars(select(SandboxLineItem)).first() is None
    engine.dispose()


def test_a_placed_lesson_opens_that_lesson(live_server):
    placed = place(live_server, MOODLE, LESSON)
    s = requests.Session()
    landed = _launch_placed(live_server, MOODLE, placed, session=s)
    assert landed.status_code == 200 and "/attempts/" in landed.url
    assert "Emergency plans, drills and first response" in landed.text  # the lesson's text
    attempts = _attempts(live_server)
    assert [(a.mode.value, a.module_id, a.lesson_id, a.counts_for_grade)
            for a in attempts] == [("lesson", "safety", "LES-safety-emergency", False)]
    # Launching the link again resumes the same lesson, it does not start another.
    again = _launch_placed(live_server, MOODLE, placed)
    assert again.url.split("?")[0] == landed.url.split("?")[0]
    assert len(_attempts(live_server)) == 1


def test_a_placed_drill_opens_a_drill_on_that_key_activity(live_server):
    placed = place(live_server, CANVAS, DRILL)
    landed = _launch_placed(live_server, CANVAS, placed)
    assert landed.status_code == 200 and "Question 1" in landed.text
    attempts = _attempts(live_server)
    assert [(a.mode.value, a.module_id, a.key_activity_id, a.lesson_id, a.counts_for_grade)
            for a in attempts] == [("drill", "safety", "safety.emergency", None, False)]


def test_picks_must_name_a_real_lesson_or_key_activity(live_server):
    s, picker = deep_link_picker(live_server, CANVAS, instructor(CANVAS))
    action, fields = parse_form(picker.text)
    url = live_server.url + html.unescape(action)
    for bad in ("lesson:safety:LES-nope", "drill:safety:safety.nope",
                "drill:safety:quality.audits",  # a key activity of another module
                "lesson:quality:LES-safety-emergency",  # a lesson of another module
                "lesson:safety", "practice:safety:safety.emergency",
                "lesson:safety:" + "x" * 5000, "<script>alert(1)</script>"):
        r = s.post(url, data={**fields, "activity": [DRILL, bad]})
        assert r.status_code == 400, (bad, r.status_code)
        assert "<script>alert" not in r.text
        assert "not an activity you can place" in r.text, r.text[:600]


def test_a_student_cannot_turn_a_placed_lesson_into_a_graded_activity(live_server):
    """Whatever a student starts from a single-lesson link - a test of the module at its
    placed size, the mock exam, another lesson, a drill - is practice: nothing counts for a
    grade and no score is queued, as the link places no graded activity."""
    placed = place(live_server, MOODLE, LESSON)
    s = requests.Session()
    landed = _launch_placed(live_server, MOODLE, placed, session=s)
    csrf = landed.text.split('name="csrf-token" content="')[1].split('"')[0]
    s.headers["X-CSRF-Token"] = csrf
    api = f"{live_server.url}/api/attempts"
    for body in ({"mode": "practice", "module_id": "safety"},
                 {"mode": "practice", "module_id": "safety", "size": 25},
                 {"mode": "mock", "module_id": "safety"},
                 {"mode": "lesson", "module_id": "safety", "lesson_id": "LES-safety-workplace"},
                 {"mode": "drill", "module_id": "safety", "key_activity_id": "safety.workplace"},
                 {"mode": "lesson", "module_id": "safety", "lesson_id": "LES-safety-emergency",
                  "key_activity_id": "safety.emergency"}):
        r = s.post(api, json=body)
        assert r.status_code in (201, 404), (body, r.text)
    start = s.get(f"{live_server.url}/attempts/new",
                  params={"mode": "practice", "module_id": "safety"})
    assert "counts toward the grade" not in start.text
    assert all(not a.counts_for_grade for a in _attempts(live_server))
    engine, sessions = db_sessions(live_server)
    with transaction(sessions) as db:
        link = db.scalars(select(ResourceLink)).one()
        assert link.custom["activity"] == "lesson"
        assert link_placement(db, link.id) is None  # the link grades nothing
        assert db.scalars(select(Outbox).where(Outbox.kind == OutboxKind.AGS)).first() is None
    engine.dispose()


@pytest.mark.parametrize("custom,lands_on", [
    ({"activity": "lesson", "module": "quality", "lesson": "LES-safety-emergency"},
     "/modules/quality"),
    ({"activity": "drill", "module": "quality", "key_activity": "safety.emergency"},
     "/modules/quality"),
    ({"activity": "lesson", "module": "safety", "lesson": "LES-nope"}, "/modules/safety"),
    ({"activity": "lesson", "module": "nope", "lesson": "LES-safety-emergency"}, "/home"),
])
def test_a_link_naming_a_topic_of_another_module_starts_nothing(live_server, custom,
                                                                 lands_on):
    """Custom parameters edited in the LMS (Moodle lets a teacher change them) that name a
    lesson or key activity outside the link's module, or none at all, start nothing: the
    student lands on the module's page (or home), never on another module's activity."""
    engine, sessions = db_sessions(live_server)
    with transaction(sessions) as db:
        row = SandboxPlacedLink(platform_key=MOODLE.key, context_id=MOODLE.context_id,
                                title="edited", url=live_server.settings.url("/lti/launch"),
                                custom=custom)
        db.add(row)
        db.flush()
        placed = row.id
    engine.dispose()
    landed = _launch_placed(live_server, MOODLE, placed)
    assert landed.status_code == 200 and lands_on in landed.url, landed.url
    assert _attempts(live_server) == []
