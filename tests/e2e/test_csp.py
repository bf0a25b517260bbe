"""The pages that need JavaScript work under the strict Content-Security-Policy
(``script-src 'self'``, no inline script): a Canvas launch in a cross-site iframe that
finishes through platform storage (its settings in a JSON data block), the mock exam's
countdown, and the Deep Linking page that posts the signed response back to the LMS by
itself. Chromium reports every CSP refusal on the console; none may appear."""

from __future__ import annotations

import re

from lti_tool.sandbox.platforms import CANVAS

LEARNER = CANVAS.people[0]
INSTRUCTOR = next(p for p in CANVAS.people if p.persona == "instructor")


def _csp_violations(page) -> list[str]:
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    return messages


def _refused(messages: list[str]) -> list[str]:
    return [m for m in messages if "Content Security Policy" in m or "Refused to" in m]


def test_platform_storage_launch_and_exam_countdown_run_under_the_csp(page,
                                                                       cross_site_server):
    messages = _csp_violations(page)
    requests_seen: list[str] = []
    page.on("request", lambda r: requests_seen.append(r.url))
    page.goto(f"{cross_site_server.lms_url}/sandbox/canvas/launch?user={LEARNER.sub}")
    tool = page.frame_locator("iframe[name=tool_frame]")
    tool.get_by_role("heading", name=f"Welcome, {LEARNER.given_name}").wait_for(
        timeout=30000)
    # The launch went through the LMS's storage frame (the cookie-less path).
    assert any(u.endswith("/sandbox/canvas/post_message_forwarding") for u in requests_seen)
    tool.get_by_role("link", name="Maintenance Awareness", exact=True).click()
    tool.get_by_role("link", name=re.compile("Timed mock exam")).click()
    tool.get_by_role("button", name=re.compile("Start the mock exam")).click()
    timer = tool.locator("#timer")
    timer.wait_for()
    first = timer.inner_text()
    page.wait_for_timeout(2500)
    assert timer.inner_text() != first, "the countdown did not tick"
    assert re.fullmatch(r"\d+ min \d+ s", timer.inner_text())
    assert _refused(messages) == []


def test_deep_link_return_posts_itself_under_the_csp(page, cross_site_server):
    messages = _csp_violations(page)
    page.goto(f"{cross_site_server.lms_url}/sandbox/canvas/launch/frame?user="
              f"{INSTRUCTOR.sub}&link=deep-link")
    page.get_by_role("heading", name=re.compile("Add CPT Practice activities")).wait_for(
        timeout=30000)
    page.get_by_role("checkbox", name=re.compile("Safety: practice test")).check()
    page.get_by_role("button", name="Add to course").click()
    # No click on Continue: the return page submits itself to the LMS.
    page.get_by_text(re.compile(r"1 activit(y|ies) added")).wait_for(timeout=30000)
    assert page.url.startswith(cross_site_server.lms_url)
    assert _refused(messages) == []
