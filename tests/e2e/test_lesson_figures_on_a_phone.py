"""Every lesson with figures, in a real browser on a phone-sized screen (issue 17): each
figure is drawn, fits the 390 px column without sideways scrolling, keeps its caption
visible, and the page has no axe-core violations of any impact."""

from __future__ import annotations

import re

from axe_playwright_python.sync_playwright import Axe

from lti_tool.curriculum.checks import load_bank
from lti_tool.sandbox.platforms import CANVAS

PHONE = {"width": 390, "height": 844}


def test_lesson_figures_fit_a_phone_and_pass_axe(page, cross_site_server):
    bank = load_bank()
    assert bank.blueprint is not None
    titles = {ka.id: ka.title for m in bank.blueprint.modules for ka in m.key_activities}
    lessons = [lesson for _, lesson in sorted(bank.lessons.values(), key=lambda p: p[1].id)
               if lesson.figures]
    assert len(lessons) >= 8
    page.goto(f"{cross_site_server.lms_url}/sandbox/canvas/launch?user={CANVAS.people[0].sub}")
    frame = page.frame_locator("iframe[name=tool_frame]")
    frame.get_by_role("heading", name="Welcome, Ana").wait_for(timeout=30000)
    tool_url = next(f for f in page.frames if f.name == "tool_frame").url
    sid = re.search(r"[?&]s=([^&]+)", tool_url).group(1)
    page.set_viewport_size(PHONE)
    axe = Axe()
    problems: dict[str, list[str]] = {}
    for lesson in lessons:
        module = lesson.key_activity.split(".", 1)[0]
        page.goto(f"{cross_site_server.url}/modules/{module}?s={sid}")
        page.get_by_role("button", name=f"Lesson: {titles[lesson.key_activity]}",
                         exact=True).click()
        page.get_by_role("heading", name=f"Lesson: {lesson.title}").wait_for()
        page.wait_for_load_state()
        figures = page.locator("figure.lesson-figure")
        assert figures.count() == len(lesson.figures), lesson.id
        for n, figure in enumerate(lesson.figures):
            drawing = figures.nth(n).get_by_role("img", name=figure.alt)
            box = drawing.bounding_box()
            assert box and 200 <= box["width"] <= PHONE["width"] and box["height"] > 50, \
                (lesson.id, box)
            assert figures.nth(n).locator("figcaption").inner_text() == figure.caption
            assert figures.nth(n).locator("figcaption").is_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= PHONE["width"], (lesson.id, overflow)
        found = [f"{v['id']} ({v.get('impact')}): {v['help']}"
                 for v in axe.run(page).response["violations"]]
        if found:
            problems[lesson.id] = found
    assert problems == {}
