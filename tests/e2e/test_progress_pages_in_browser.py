"""The mastery map and results page in Chromium at a phone's width (390 px): no sideways
scrolling, every axe-core rule passes (any impact), and the study buttons work by keyboard."""

from __future__ import annotations

import re

from axe_playwright_python.sync_playwright import Axe

from lti_tool.sandbox.platforms import CANVAS

LEARNER = CANVAS.people[0]
WIDTH = 390


def _session_id(page, server) -> str:
    page.goto(f"{server.lms_url}/sandbox/canvas/launch?user={LEARNER.sub}")
    tool = page.frame_locator("iframe[name=tool_frame]")
    tool.get_by_role("heading", name="Welcome, Ana").wait_for(timeout=30000)
    frame = next(f for f in page.frames if f.name == "tool_frame")
    return re.search(r"[?&]s=([^&]+)", frame.url).group(1)


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{page.url}: {width} px wide"


def _violations(page) -> list[str]:
    return [f"{v['id']} ({v.get('impact')}): {v['help']}"
            for v in Axe().run(page).response["violations"]]


def test_mastery_map_and_results_fit_a_phone_and_pass_axe(browser, cross_site_server):
    context = browser.new_context(viewport={"width": WIDTH, "height": 800})
    page = context.new_page()
    try:
        sid = _session_id(page, cross_site_server)
        base = cross_site_server.url
        page.goto(f"{base}/mastery?s={sid}")
        page.get_by_role("heading", name="Your mastery map").wait_for()
        _fits(page)
        assert _violations(page) == []
        # The first screen's study button starts the suggested topic, by keyboard.
        first = page.locator(".next-step button").first
        first.focus()
        page.keyboard.press("Enter")
        page.get_by_role("group", name=re.compile("Question 1")).wait_for()
        page.goto(f"{base}/modules/maintenance?s={sid}")
        page.get_by_role("button", name="Drill: Recognize hydraulic system problems").click()
        for _ in range(4):
            page.get_by_role("group", name=re.compile("Question")).wait_for()
            page.get_by_role("radio").first.check()
            page.get_by_role("button", name="Check answer").click()
            page.get_by_role("link", name="Next question").click()
        page.get_by_role("button", name=re.compile("Finish|Submit|End")).first.click()
        page.get_by_role("heading", name="Your results").wait_for()
        page.get_by_role("heading", name="What to do next").wait_for()
        assert page.get_by_text(re.compile(r"Time used: \d+ minutes?")).count() == 1
        _fits(page)
        assert _violations(page) == []
        page.goto(f"{base}/mastery?s={sid}")
        page.get_by_text(re.compile("Next: drill")).wait_for()
        _fits(page)
        assert _violations(page) == []
        # A mock exam's review shows all 80 questions, figures and tables included.
        page.goto(f"{base}/modules/maintenance?s={sid}")
        page.get_by_role("link", name=re.compile("Timed mock exam")).click()
        page.get_by_role("button", name=re.compile("Start the mock exam")).click()
        page.get_by_role("link", name="Review and submit").click()
        page.get_by_role("button", name="Yes, submit my mock exam").click()
        page.get_by_role("heading", name="Your results").wait_for()
        assert page.get_by_text(re.compile(r"minutes? of the 90 allowed")).count() == 1
        assert page.locator(".review-list .item-figure table").count() > 0
        _fits(page)
        assert _violations(page) == []
    finally:
        context.close()
