"""A student in the LMS iframe: drill, mock exam with a reload mid-exam, results - and an
axe-core scan of every page type (no serious or critical violations)."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe

from lti_tool.sandbox.platforms import CANVAS

LEARNER = CANVAS.people[0]
INSTRUCTOR = next(p for p in CANVAS.people if p.persona == "instructor")


def _launch(page, server, person=LEARNER):
    page.goto(f"{server.lms_url}/sandbox/canvas/launch?user={person.sub}")
    frame = page.frame_locator("iframe[name=tool_frame]")
    return frame


def _tool_frame(page):
    return next(f for f in page.frames if f.name == "tool_frame")


def test_drill_then_mock_exam_survives_a_reload(page, cross_site_server):
    tool = _launch(page, cross_site_server)
    tool.get_by_role("heading", name="Welcome, Ana").wait_for(timeout=30000)
    tool.get_by_role("link", name="Maintenance Awareness", exact=True).click()
    tool.get_by_role("button", name="Drill: Recognize hydraulic system problems").click()
    tool.get_by_role("group", name=re.compile("Question 1")).wait_for()
    tool.get_by_role("radio").first.check()
    tool.get_by_role("button", name="Check answer").click()
    tool.get_by_text("best answer").first.wait_for()
    assert tool.locator("[aria-live=polite]").count() == 1
    tool.get_by_role("link", name="Next question").click()
    tool.get_by_role("group", name=re.compile("Question 2")).wait_for()

    tool.get_by_role("link", name="Maintenance Awareness").first.click()
    tool.get_by_role("link", name=re.compile("Timed mock exam")).click()
    tool.get_by_role("button", name=re.compile("Start the mock exam")).click()
    tool.get_by_role("timer").wait_for()
    tool.get_by_role("radio").nth(2).check()
    tool.get_by_role("button", name="Save answer and go on").click()
    tool.get_by_role("group", name=re.compile("Question 2 of 80")).wait_for()
    before = tool.locator("#timer").get_attribute("data-seconds")

    page.reload()  # the whole LMS page: the tool relaunches and must resume the exam
    tool = page.frame_locator("iframe[name=tool_frame]")
    tool.get_by_role("heading", name="Welcome, Ana").wait_for(timeout=30000)
    tool.get_by_role("link", name="Maintenance Awareness", exact=True).click()
    tool.get_by_role("link", name=re.compile("Timed mock exam")).click()
    tool.get_by_role("link", name=re.compile(r"^Resume — \d+ min left$")).click()
    tool.get_by_role("group", name=re.compile("Question 2 of 80")).wait_for()
    after = tool.locator("#timer").get_attribute("data-seconds")
    assert 0 <= int(before) - int(after) <= 60  # same deadline, not a fresh timer
    tool.get_by_role("button", name="Question 1, answered").click()
    tool.get_by_role("group", name=re.compile("Question 1 of 80")).wait_for()
    assert tool.get_by_role("radio").nth(2).is_checked()  # the saved answer is still there
    tool.get_by_role("link", name="Review and submit").click()
    tool.get_by_role("button", name="Yes, submit my mock exam").click()
    tool.get_by_role("heading", name="Your results").wait_for()
    assert tool.get_by_text(re.compile(r"of 80 correct")).count() == 1
    assert tool.get_by_role("heading", name=re.compile("Question 80")).count() == 1


@pytest.fixture
def axe():
    return Axe()


def _serious(results) -> list[str]:
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
            for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")]


def test_every_page_type_passes_axe(page, cross_site_server, axe):
    tool = _launch(page, cross_site_server)
    tool.get_by_role("heading", name="Welcome, Ana").wait_for(timeout=30000)
    home_url = _tool_frame(page).url
    sid = re.search(r"[?&]s=([^&]+)", home_url).group(1)
    base = cross_site_server.url
    # Scan top-level (axe cannot reach into a cross-origin frame); the session rides in ?s=.
    pages: dict[str, str] = {}
    page.goto(f"{base}/home?s={sid}")
    pages["home"] = page.url
    page.get_by_role("link", name="Safety").first.click()
    pages["module"] = page.url
    page.get_by_role("button", name=re.compile("Lesson: ")).first.click()
    pages["lesson"] = page.url
    page.get_by_role("radio").first.check()
    page.get_by_role("button", name="Check answer").click()
    page.get_by_text("best answer").first.wait_for()
    results = {"feedback": axe.run(page)}
    page.goto(pages["module"])
    page.get_by_role("link", name="Practice test (25 questions, feedback at the end)").click()
    page.get_by_role("button", name="Start the practice test").click()
    pages["practice player"] = page.url
    page.get_by_role("link", name="Review and submit").click()
    page.get_by_role("button", name="Yes, submit my practice test").click()
    page.get_by_role("heading", name="Your results").wait_for()
    pages["results"] = page.url
    pages["mastery"] = f"{base}/mastery?s={sid}"
    pages["front page"] = f"{base}/"
    pages["sandbox"] = f"{cross_site_server.lms_url}/sandbox/"
    for name, url in pages.items():
        page.goto(url)
        results[name] = axe.run(page)
    page.goto(f"{base}/lti/login?iss=https://unknown.example&login_hint=x")
    results["launch error"] = axe.run(page)
    problems = {name: _serious(r) for name, r in results.items() if _serious(r)}
    assert problems == {}


def test_instructor_pages_pass_axe(page, cross_site_server, axe):
    tool = _launch(page, cross_site_server, INSTRUCTOR)
    tool.get_by_role("heading", name="Instructor overview").wait_for(timeout=30000)
    href = tool.get_by_role("link", name="Class overview").get_attribute("href")
    sid = re.search(r"[?&]s=([^&]+)", href).group(1)
    page.goto(f"{cross_site_server.url}/instructor/class?s={sid}")
    page.get_by_role("button", name="Refresh roster").click()
    page.get_by_text("last synced").wait_for()
    assert _serious(axe.run(page)) == []
    page.goto(f"{cross_site_server.lms_url}/sandbox/canvas/launch/frame?user="
              f"{INSTRUCTOR.sub}&link=deep-link")
    page.get_by_role("heading", name=re.compile("Add CPT Practice activities")).wait_for(
        timeout=30000)
    assert _serious(axe.run(page)) == []
