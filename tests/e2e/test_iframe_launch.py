"""Launches inside the LMS iframe in a real browser, where the tool's cookies are
third-party: platform storage (Canvas-shaped) and the new-window fallback (Moodle-shaped)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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



@contextmanager
def _host_site(tool_url: str) -> Iterator[str]:
    """A real site on its own loopback port (another origin than the tool and the LMS)
    whose page frames the tool."""
    body = (f'<!doctype html><title>host</title><iframe name="t" src="{tool_url}">'
            "</iframe>").encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_site_that_is_no_registered_lms_cannot_frame_the_tool(page, cross_site_server):
    """Clickjacking: the tool answers, but Chromium refuses to show it inside a page from
    an origin no platform registration names (the allowed case is the Canvas test above,
    where the sandbox LMS's origin frames the tool)."""
    tool_url = f"{cross_site_server.url}/"
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text))
    with _host_site(tool_url) as host:
        with page.expect_response(lambda r: r.url == tool_url) as answer:
            page.goto(f"{host}/course")
        assert answer.value.status == 200
        page.wait_for_timeout(500)
    refusals = [v for v in violations if "frame-ancestors" in v]
    assert refusals, f"Chromium showed the tool inside an unregistered site: {violations}"
    assert host not in refusals[0].split("frame-ancestors", 1)[1]


def test_the_lms_frame_grows_with_the_page(page, cross_site_server):
    """The tool sends lti.frameResize; the sandbox LMS (like Canvas) sizes the frame to
    the page, so the page scrolls with the course instead of inside a fixed box."""
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{cross_site_server.lms_url}/sandbox/canvas/launch?user="
              f"{CANVAS.people[0].sub}")
    tool = page.frame_locator("iframe[name=tool_frame]")
    tool.get_by_role("heading", name="Welcome, Ana").wait_for(timeout=30000)
    frame = next(f for f in page.frames if f.name == "tool_frame")
    content = frame.evaluate("document.documentElement.scrollHeight")
    page.wait_for_function(
        f"() => document.querySelector('iframe[name=tool_frame]').clientHeight >= {content}",
        timeout=10000)
    assert content > 0.7 * 800  # taller than the frame's fixed 70vh would have shown
    assert frame.evaluate("document.documentElement.scrollHeight") <= frame.evaluate(
        "window.innerHeight") + 2  # nothing left to scroll inside the frame
