"""The exam flow a student can trust, in Chromium: a start screen before the clock, a
Resume card, a check before submitting with an explicit confirm, a keyboard-only mock
exam with focus on each question, and timer warnings said once per mark."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from lti_tool.models import Attempt, AttemptMode, AttemptStatus, CurriculumItem
from lti_tool.sandbox.platforms import CANVAS
from lti_tool.web.runtime import system_clock

LEARNER = CANVAS.people[0]


def _session_id(page, server) -> str:
    page.goto(f"{server.lms_url}/sandbox/canvas/launch?user={LEARNER.sub}")
    frame = page.frame_locator("iframe[name=tool_frame]")
    frame.get_by_role("heading", name="Welcome, Ana").wait_for(timeout=30000)
    url = next(f for f in page.frames if f.name == "tool_frame").url
    return re.search(r"[?&]s=([^&]+)", url).group(1)


@pytest.fixture
def student(page, cross_site_server):
    """Ana's pages at top level (the session rides in ?s=), so keyboard focus and
    sessionStorage are the page's own."""
    sid = _session_id(page, cross_site_server)
    return page, cross_site_server, sid


def _db(server) -> Session:
    return Session(create_engine(server.settings.database_url))


def _open_mock(server) -> Attempt:
    with _db(server) as db:
        return db.scalars(select(Attempt).where(Attempt.mode == AttemptMode.MOCK,
                                                Attempt.status == AttemptStatus.OPEN)).one()


def test_start_screen_then_resume_card_then_check_and_confirm(student):
    page, server, sid = student
    page.goto(f"{server.url}/modules/quality?s={sid}")
    page.get_by_role("link", name=re.compile(r"Timed mock exam \(\d+ questions, \d+ minutes")
                     ).click()
    page.get_by_role("heading", name="Before you start").wait_for()
    assert page.get_by_text("Time limit").count() == 1
    with _db(server) as db:  # the start screen starts nothing
        assert db.scalars(select(Attempt)).first() is None
    page.get_by_role("button", name=re.compile("Start the mock exam")).click()
    page.get_by_role("heading", name=re.compile("Question 1 of")).wait_for()
    page.get_by_role("radio").first.check()
    page.get_by_role("button", name="Flag for review").click()
    page.get_by_text("Flagged for review").first.wait_for()
    page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name=re.compile("Question 2 of")).wait_for()

    page.goto(f"{server.url}/home?s={sid}")  # left the exam: home offers to resume it
    resume = page.get_by_role("link", name=re.compile(r"Resume — \d+ min left"))
    resume.wait_for()
    page.goto(f"{server.url}/modules/quality?s={sid}")
    assert page.get_by_role("link", name=re.compile(r"Resume — \d+ min left")).count() == 1
    page.get_by_role("link", name=re.compile(r"Resume — \d+ min left")).click()
    page.get_by_role("heading", name=re.compile("Question 2 of")).wait_for()
    # Enter in an option saves the answer and goes on; it never submits the exam.
    page.get_by_role("radio").nth(1).focus()
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=re.compile("Question 3 of")).wait_for()
    assert _open_mock(server).status == AttemptStatus.OPEN

    page.get_by_role("link", name="Review and submit").click()
    page.get_by_role("heading", name="Check before you submit").wait_for()
    body = page.locator("main").inner_text()
    assert re.search(r"2 of \d+ questions answered", body)
    assert "1 flagged for review" in body
    flagged = page.get_by_role("heading", name="Flagged for review")
    assert flagged.count() == 1
    page.get_by_role("link", name="Question 1", exact=True).last.click()
    page.get_by_role("heading", name=re.compile("Question 1 of")).wait_for()
    assert page.get_by_role("radio").first.is_checked()
    page.get_by_role("link", name="Review and submit").click()
    page.get_by_role("button", name="Yes, submit my mock exam").click()
    page.get_by_role("heading", name="Your results").wait_for()
    with _db(server) as db:
        assert db.scalars(select(Attempt)).one().status == AttemptStatus.SUBMITTED


def test_keyboard_only_mock_exam_focus_lands_on_each_question(student):
    page, server, sid = student
    page.goto(f"{server.url}/attempts/new?mode=mock&module_id=green&s={sid}")
    page.get_by_role("heading", name="Before you start").wait_for()
    start = page.get_by_role("button", name=re.compile("Start the mock exam"))
    start.focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=re.compile("Question 1 of")).wait_for()
    total = int(re.search(r"of (\d+)", page.locator("#question-heading").inner_text()).group(1))
    for n in range(1, total + 1):
        heading = page.locator("#question-heading")
        heading.wait_for()
        assert re.match(rf"Question {n} of {total}", heading.inner_text())
        # focus moves when the page's script runs, just after the heading is shown
        for _ in range(50):  # polled from here: the page's CSP forbids eval
            if page.evaluate("document.activeElement.id") == "question-heading":
                break
            page.wait_for_timeout(100)
        assert page.evaluate("document.activeElement.id") == "question-heading", n
        page.keyboard.press("Tab")  # into the options
        assert page.evaluate("document.activeElement.name") == "choice"
        page.keyboard.press("ArrowDown")  # picks the next option
        page.keyboard.press("Enter")  # saves and goes on
        if n < total:
            page.get_by_role("heading", name=re.compile(f"Question {n + 1} of")).wait_for()
    page.get_by_role("heading", name="Check before you submit").wait_for()
    assert f"{total} of {total} questions answered" in page.locator("main").inner_text()
    page.get_by_role("button", name="Yes, submit my mock exam").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Your results").wait_for()
    assert page.get_by_text(re.compile(rf"of {total} correct")).count() == 1


def _alert_after_load(page) -> str:
    page.wait_for_timeout(1500)  # the countdown ticks once a second
    return page.locator("#timer-alert").inner_text().strip()


def test_timer_marks_are_announced_once_each_across_reloads(student):
    page, server, sid = student
    page.goto(f"{server.url}/attempts/new?mode=mock&module_id=safety&s={sid}")
    page.get_by_role("button", name=re.compile("Start the mock exam")).click()
    page.get_by_role("heading", name=re.compile("Question 1 of")).wait_for()
    assert _alert_after_load(page) == ""  # 90 minutes left: nothing to say

    def deadline_in(minutes: float) -> None:
        with _db(server) as db:
            attempt = db.scalars(select(Attempt)).one()
            attempt.deadline_at = system_clock() + timedelta(minutes=minutes)
            db.commit()

    deadline_in(9.5)
    page.reload()
    assert _alert_after_load(page) == "10 minutes left."
    page.reload()
    assert _alert_after_load(page) == ""  # not again on the next page
    page.get_by_role("radio").first.check()
    page.get_by_role("button", name="Save answer and go on").click()
    page.get_by_role("heading", name=re.compile("Question 2 of")).wait_for()
    assert _alert_after_load(page) == ""  # nor after an answer
    deadline_in(4.5)
    page.reload()
    assert _alert_after_load(page) == "5 minutes left."
    page.reload()
    assert _alert_after_load(page) == ""
    deadline_in(0.75)
    page.reload()
    assert _alert_after_load(page) == "1 minute left."
    page.reload()
    assert _alert_after_load(page) == ""


def test_a_drill_answered_all_wrong_shows_every_item_of_the_topic(student):
    page, server, sid = student
    topic = "maintenance.hydraulic"
    with _db(server) as db:
        keys = {i.id: next(n for n, o in enumerate(i.options) if o["correct"])
                for i in db.scalars(select(CurriculumItem).where(
                    CurriculumItem.key_activity_id == topic,
                    CurriculumItem.retired.is_(False)))}
    page.goto(f"{server.url}/modules/maintenance?s={sid}")
    page.get_by_role("button", name="Drill: Recognize hydraulic system problems").click()
    seen: list[str] = []
    for _ in range(2 * len(keys)):  # every other question may review a missed one
        page.get_by_role("heading", name=re.compile("Question")).wait_for()
        item_id = page.locator("input[name=item_id]").get_attribute("value")
        seen.append(item_id)
        page.locator(f"#choice-{(keys[item_id] + 1) % 4}").check()  # always wrong
        page.get_by_role("button", name="Check answer").click()
        page.get_by_text("not the best answer").wait_for()
        page.get_by_role("link", name="Next question").click()
    assert sorted(set(seen)) == sorted(keys), (
        f"{len(set(seen))} of {len(keys)} items in {len(seen)} questions: {seen}")
    assert max(seen.count(i) for i in seen) <= 2  # nothing looped before all were seen
