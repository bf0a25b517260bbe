"""Student preview: an instructor walks a module as a student would - topics, a lesson's
text, sample questions with feedback - and nothing is written: no attempt, response,
mastery, outbox (xAPI or grade) row, nor any other row of the tool's data."""

from __future__ import annotations

import html
import re
import time

import requests
from instructor_support import at, db_sessions, staff
from lti_helpers import full_launch
from sqlalchemy import func, select

from lti_tool.db import transaction
from lti_tool.models import Base, Course, CurriculumItem, CurriculumLesson
from lti_tool.sandbox.platforms import CANVAS

NOTE = "Preview — nothing is saved."
# Tables a page view may touch whatever it shows: the session's idle clock and counters.
VOLATILE = {"tool_session", "launch_value", "counter"}


def _counts(server) -> dict[str, int]:
    engine, sessions = db_sessions(server)
    with transaction(sessions) as db:
        counts = {t.name: db.scalar(select(func.count()).select_from(t))
                  for t in Base.metadata.sorted_tables if t.name not in VOLATILE}
    engine.dispose()
    return counts


def _roster_fetched(server) -> None:
    """Wait for the roster fetch the class overview started in the background to end:
    its rows are the class overview's, not the preview's."""
    engine, sessions = db_sessions(server)
    give_up = time.monotonic() + 10
    while time.monotonic() < give_up:
        with transaction(sessions) as db:
            course = db.scalars(select(Course).where(Course.context_id == CANVAS.context_id)
                                ).one()
            if course.roster_checked_at is not None and course.roster_claimed_at is None:
                break
        time.sleep(0.1)
    engine.dispose()


def _href(page: str, pattern: str) -> str:
    return html.unescape(re.search(rf'href="([^"]*{pattern}[^"]*)"', page).group(1))


def _form(page: str) -> tuple[str, dict[str, str]]:
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)" class="item"',
                                     page).group(1))
    form = page.split('class="item"', 1)[1].split("</form>", 1)[0]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    return action, fields


def _item(server, item_id: str) -> CurriculumItem:
    engine, sessions = db_sessions(server)
    with transaction(sessions) as db:
        item = db.get(CurriculumItem, item_id)
        db.expunge(item)
    engine.dispose()
    return item


def test_preview_walk_through_saves_nothing(live_server):
    s, csrf, class_url = staff(live_server, CANVAS)
    landing = s.get(class_url)
    _roster_fetched(live_server)  # the class overview fetches the roster (issue 19.2)
    before = _counts(live_server)
    assert "attempt" in before and "response" in before and "mastery" in before
    assert "outbox" in before

    home = s.get(live_server.url + _href(landing.text, "/instructor/preview"))
    assert home.status_code == 200 and NOTE in home.text
    titles = re.findall(r"<li><a [^>]+><strong>([^<]+)</strong></a>", home.text)
    assert titles[0] == "Safety" and titles[-1].startswith("Green")  # blueprint order

    module = s.get(live_server.url + _href(home.text, "/instructor/preview/modules/safety"))
    assert module.status_code == 200 and NOTE in module.text
    assert 'aria-label="Lesson: ' in module.text and 'aria-label="Drill: ' in module.text

    # A lesson: its text, then a check question; a wrong answer gets the student's feedback.
    lesson = s.get(live_server.url + _href(module.text, "/instructor/preview/lessons/"))
    assert lesson.status_code == 200 and NOTE in lesson.text
    assert "You will learn to" in lesson.text and "Check your understanding" in lesson.text
    lesson_id = re.search(r"/instructor/preview/lessons/([^?\"]+)", lesson.url).group(1)
    engine, sessions = db_sessions(live_server)
    with transaction(sessions) as db:
        first_check = db.get(CurriculumLesson, lesson_id).checks[0]
    engine.dispose()
    action, fields = _form(lesson.text)
    assert fields["item_id"] == first_check and fields["csrf_token"] == csrf
    item = _item(live_server, first_check)
    key = next(n for n, o in enumerate(item.options) if o["correct"])
    wrong = (key + 1) % 4
    feedback = s.post(live_server.url + action, data={**fields, "choice": str(wrong)})
    assert feedback.status_code == 200 and "Not quite" in feedback.text
    assert NOTE in feedback.text
    assert f"The best answer is {'ABCD'[key]}." in feedback.text
    for option in item.options:
        assert html.escape(option["rationale"]) in feedback.text
    right = s.post(live_server.url + action, data={**fields, "choice": str(key)})
    assert "Correct!" in right.text
    second = s.get(live_server.url + _href(right.text, "/instructor/preview/lessons/"))
    assert "Sample question 2 of" in second.text

    # A drill: sample questions of one topic, answer, feedback, next question.
    drill = s.get(live_server.url + _href(module.text, "/instructor/preview/topics/"))
    assert drill.status_code == 200 and NOTE in drill.text
    assert "Sample question 1 of" in drill.text
    action, fields = _form(drill.text)
    answered = s.post(live_server.url + action, data={**fields, "choice": "0"})
    assert answered.status_code == 200 and ("Correct!" in answered.text
                                            or "Not quite" in answered.text)
    following = s.get(live_server.url + _href(answered.text, "/instructor/preview/topics/"))
    assert "Sample question 2 of" in following.text
    assert _form(following.text)[1]["item_id"] != fields["item_id"]

    assert _counts(live_server) == before


def test_preview_posts_need_the_csrf_token_and_a_real_question(live_server):
    s, csrf, class_url = staff(live_server, CANVAS)
    module = s.get(at(class_url, "/instructor/preview/modules/safety"))
    drill = s.get(live_server.url + _href(module.text, "/instructor/preview/topics/"))
    action, fields = _form(drill.text)
    url = live_server.url + action
    assert s.post(url, data={**fields, "csrf_token": "nope", "choice": "0"}).status_code == 403
    assert s.post(url, data={**fields, "choice": "9"}).status_code == 400
    assert s.post(url, data={**fields, "item_id": "QUA-001", "choice": "0"}).status_code == 400
    assert s.post(url, data={k: v for k, v in fields.items()
                             if k != "item_id"} | {"choice": "0"}).status_code == 400
    assert s.get(at(class_url, "/instructor/preview/modules/nope")).status_code == 404
    assert s.get(at(class_url, "/instructor/preview/topics/nope")).status_code == 404
    assert s.get(at(class_url, "/instructor/preview/lessons/nope")).status_code == 404


def test_learners_cannot_preview(live_server):
    s = requests.Session()
    home = full_launch(live_server, "canvas", CANVAS.people[0].sub, session=s)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', home.text).group(1)
    assert s.get(f"{live_server.url}/instructor/preview").status_code == 403
    assert s.get(f"{live_server.url}/instructor/preview/modules/safety").status_code == 403
    assert s.post(f"{live_server.url}/instructor/preview/topics/x",
                  data={"csrf_token": csrf, "choice": "0"}).status_code == 403
