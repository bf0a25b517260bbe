"""Launches inside the LMS iframe in a real browser, where the tool's cookies are
third-party: platform storage (Canvas-shaped) and the new-window fallback (Moodle-shaped)."""

from __future__ import annotations

from lti_tool.sandbox.platforms import CANVAS, MOODLE


def _course_page(page, server, platform, person):
    page.goto(f"{server.lms_url}/sandbox/{platform.key}/launch?user={person.sub}")
    return page.frame_locator("iframe[name=tool_frame]")


def test_canvas_launch_in_cross_site_iframe_uses_platform_storage(page, cross_site_server):
    learner = CANVAS.people[0]
    requests_seen = []
    page.on("request", lambda r: requests_seen.append((r.method, r.url)))
    tool = _course_page(page, cross_site_server, CANVAS, learner)
    tool.get_by_role("heading", name=f"Welcome, {learner.given_name}").wait_for(timeout=30000)
    # The launch was posted twice: once without the cookie, once with the values read back
    # from the platform's storage frame.
    launches = [u for m, u in requests_seen if m == "POST" and u.endswith("/lti/launch")]
    assert len(launches) == 2
    assert any(u.endswith("/sandbox/canvas/post_message_forwarding") for _, u in requests_seen)


def test_moodle_launch_without_storage_offers_a_new_window(page, cross_site_server):
    learner = MOODLE.people[0]
    tool = _course_page(page, cross_site_server, MOODLE, learner)
    link = tool.get_by_role("link", name="Open CPT Practice in a new window")
    link.wait_for(timeout=30000)
    assert tool.locator("code").first.inner_text() == "bad_state"
    with page.context.expect_page() as popup_info:
        link.click()
    popup = popup_info.value
    popup.get_by_role("heading", name=f"Welcome, {learner.given_name}").wait_for(timeout=30000)
