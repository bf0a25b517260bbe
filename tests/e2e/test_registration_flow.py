"""Dynamic Registration in a real browser: the sandbox LMS frames the tool's registration
page, the tool registers and posts org.imsglobal.lti.close, the LMS closes the frame; the
pages pass axe."""

from __future__ import annotations

import re
from html import unescape

import requests
from axe_playwright_python.sync_playwright import Axe


def _serious(results) -> list[str]:
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")]


def test_the_lms_frame_closes_when_the_tool_has_registered(page, cross_site_server):
    lms = cross_site_server.lms_url
    page.goto(f"{lms}/sandbox/moodle/register-tool")
    status = page.get_by_role("status")
    status.filter(has_text="finished registering").wait_for(timeout=30000)
    assert page.locator("#registration-frame").count() == 0
    axe = Axe()
    assert _serious(axe.run(page)) == []
    # The tool's own pages, top level: done and failed.
    start = requests.get(f"{lms}/sandbox/moodle/register-tool", timeout=10).text
    url = unescape(re.search(r'id="registration-frame"[^>]*src="([^"]+)"', start,
                             re.S).group(1))
    page.goto(url)
    page.get_by_role("heading", name="CPT Practice is registered").wait_for()
    assert _serious(axe.run(page)) == []
    page.goto(f"{cross_site_server.url}/lti/register?openid_configuration="
              f"{lms}/sandbox/moodle/jwks")
    page.get_by_role("heading", name="Registration did not complete").wait_for()
    assert _serious(axe.run(page)) == []


def test_admin_console_is_keyboard_and_axe_clean(page, cross_site_server):
    from lti_tool.db import make_engine, make_session_factory, transaction
    from lti_tool.ops.admin import AdminService
    from lti_tool.web.runtime import system_clock

    engine = make_engine(cross_site_server.settings.database_url)
    with transaction(make_session_factory(engine)) as db:
        AdminService(db, system_clock).create("it-admin", "correct horse battery")
    engine.dispose()
    axe = Axe()
    page.goto(f"{cross_site_server.url}/admin/login")
    assert _serious(axe.run(page)) == []
    # Keyboard only: tab into the fields, type, press Enter.
    page.keyboard.press("Tab")  # skip link
    page.get_by_label("User name").focus()
    page.keyboard.type("it-admin")
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse battery")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Admin console").wait_for(timeout=15000)
    assert _serious(axe.run(page)) == []
