"""Every page type at phone size (390 x 844, as inside an LMS iframe on a phone) and at
desktop size: no page wider than the viewport, and axe-core finds no violation of any
impact - the mock exam's player included."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe

from lti_tool.sandbox.platforms import CANVAS

LEARNER = CANVAS.people[0]
INSTRUCTOR = next(p for p in CANVAS.people if p.persona == "instructor")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def _sid(page, server, person) -> str:
    page.goto(f"{server.lms_url}/sandbox/canvas/launch?user={person.sub}")
    heading = "Welcome" if person is LEARNER else "Instructor overview"
    page.frame_locator("iframe[name=tool_frame]").get_by_role(
        "heading", name=re.compile(heading)).wait_for(timeout=30000)
    frame = next(f for f in page.frames if f.name == "tool_frame")
    found = re.search(r"[?&]s=([^&]+)", frame.url) or re.search(
        r"[?&]s=([^&\"]+)", frame.content())  # the cookie worked: links still carry it?
    assert found, frame.url
    return found.group(1)


def _student_pages(page, server) -> dict[str, str]:
    """Walk Ana through every student page type, recording each URL."""
    sid = _sid(page, server, LEARNER)
    base = server.url
    pages: dict[str, str] = {"front page": f"{base}/", "home": f"{base}/home?s={sid}",
                             "mastery": f"{base}/mastery?s={sid}",
                             "module": f"{base}/modules/quality?s={sid}",
                             "not found": f"{base}/modules/no-such-module?s={sid}",
                             "launch error": f"{base}/lti/login?iss=https://unknown.example"
                                             "&login_hint=x"}
    page.goto(pages["module"])
    page.get_by_role("button", name=re.compile("Lesson: ")).first.click()
    page.get_by_role("heading", name=re.compile("Question 1")).wait_for()
    pages["lesson"] = page.url
    page.get_by_role("radio").first.check()
    page.get_by_role("button", name="Check answer").click()
    page.get_by_text("best answer").first.wait_for()
    pages["lesson feedback (live)"] = ""
    page.goto(pages["module"])
    page.get_by_role("button", name=re.compile("Drill: ")).first.click()
    page.get_by_role("heading", name=re.compile("Question 1")).wait_for()
    pages["drill player"] = page.url
    page.goto(pages["module"])
    page.get_by_role("link", name=re.compile("Practice test")).click()
    pages["practice start screen"] = page.url
    page.get_by_role("button", name=re.compile("Start the practice test")).click()
    page.get_by_role("heading", name=re.compile("Question 1 of")).wait_for()
    page.get_by_role("radio").first.check()
    page.get_by_role("button", name="Flag for review").click()
    page.get_by_text("Flagged for review").first.wait_for()
    pages["practice player"] = page.url
    page.get_by_role("link", name="Review and submit").click()
    pages["check before submitting"] = page.url
    page.get_by_role("button", name=re.compile("Yes, submit")).click()
    page.get_by_role("heading", name="Your results").wait_for()
    pages["results"] = page.url
    page.goto(pages["module"])
    page.get_by_role("link", name=re.compile("Timed mock exam")).click()
    pages["mock start screen"] = page.url
    page.get_by_role("button", name=re.compile("Start the mock exam")).click()
    page.get_by_role("timer").wait_for()
    pages["mock player"] = page.url
    page.goto(pages["home"])  # now with a Resume card
    return {k: v for k, v in pages.items() if v}


def _overflow(page) -> int:
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


def _violations(axe, page) -> list[str]:
    return [f"{v['id']} ({v.get('impact')}): {v['help']} - "
            f"{[n.get('target') for n in v['nodes']][:3]}"
            for v in axe.run(page).response["violations"]]


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_student_pages_fit_and_pass_axe(browser, cross_site_server, size):
    context = browser.new_context(viewport=size)
    page = context.new_page()
    axe = Axe()
    try:
        pages = _student_pages(page, cross_site_server)
        problems: dict[str, list[str]] = {}
        for name, url in pages.items():
            page.goto(url)
            page.wait_for_load_state("load")
            found = _violations(axe, page)
            if _overflow(page) > 0:
                found.append(f"{_overflow(page)} px wider than the {size['width']} px viewport")
            if found:
                problems[name] = found
        assert problems == {}
    finally:
        context.close()


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_feedback_page_fits_and_passes_axe(browser, cross_site_server, size):
    """Feedback is the answer's POST response: scanned where it lands."""
    context = browser.new_context(viewport=size)
    page = context.new_page()
    try:
        sid = _sid(page, cross_site_server, LEARNER)
        page.goto(f"{cross_site_server.url}/modules/safety?s={sid}")
        page.get_by_role("button", name=re.compile("Drill: ")).first.click()
        page.get_by_role("radio").first.check()
        page.get_by_role("button", name="Check answer").click()
        page.get_by_text("best answer").first.wait_for()
        found = _violations(Axe(), page)
        assert found == [] and _overflow(page) <= 0, (found, _overflow(page))
    finally:
        context.close()


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_instructor_pages_fit_and_pass_axe(browser, cross_site_server, size):
    context = browser.new_context(viewport=size)
    page = context.new_page()
    axe = Axe()
    try:
        # The launch at top level (the LMS's auto-posting form), so axe can read it.
        page.goto(f"{cross_site_server.lms_url}/sandbox/canvas/launch/frame?user="
                  f"{INSTRUCTOR.sub}")
        page.get_by_role("heading", name="Instructor overview").wait_for(timeout=30000)
        problems: dict[str, list[str]] = {}

        def scan(name: str) -> None:
            found = _violations(axe, page)
            if _overflow(page) > 0:
                found.append(f"{_overflow(page)} px wider than the {size['width']} px viewport")
            if found:
                problems[name] = found

        scan("instructor overview")
        overview = page.url
        for name in ("Class overview", "Item analysis"):
            page.goto(overview)
            link = page.get_by_role("link", name=re.compile(name))
            if link.count():
                link.first.click()
                page.wait_for_load_state("load")
                scan(name)
        page.goto(f"{cross_site_server.lms_url}/sandbox/canvas/launch/frame?user="
                  f"{INSTRUCTOR.sub}&link=deep-link")
        page.get_by_role("heading", name=re.compile("Add CPT Practice activities")).wait_for(
            timeout=30000)
        scan("deep-link picker")
        page.locator("details summary").first.click()  # a module's single topics
        page.get_by_role("checkbox", name=re.compile(r"^Drill \(")).first.wait_for()
        page.locator("details").evaluate_all("all => all.forEach(d => d.open = true)")
        scan("deep-link picker, every topic open")
        assert problems == {}
    finally:
        context.close()
