"""The admin console's platform pages in Chromium: axe-core finds nothing (of any impact)
on the console, the add, edit, delete and per-platform pages, at desktop and phone width; nothing is
wider than a 390 px phone; delete works from the keyboard alone, without JavaScript."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe

from lti_tool.sandbox.platforms import MOODLE

PASSWORD = "correct horse battery"


def _violations(results) -> list[str]:
    return [f"{v['id']} ({v.get('impact')}): {v['help']}"
            for v in results.response["violations"]]


@pytest.fixture
def signed_in(page, cross_site_server):
    from sqlalchemy import select

    from lti_tool.db import make_engine, make_session_factory, transaction
    from lti_tool.models import Platform
    from lti_tool.ops.admin import AdminService
    from lti_tool.web.runtime import system_clock

    engine = make_engine(cross_site_server.settings.database_url)
    with transaction(make_session_factory(engine)) as db:
        AdminService(db, system_clock).create("it-admin", PASSWORD)
        moodle = db.scalars(select(Platform.id).where(
            Platform.client_id == MOODLE.client_id)).one()
    engine.dispose()
    page.goto(f"{cross_site_server.url}/admin/login")
    page.get_by_label("User name").fill("it-admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Admin console").wait_for(timeout=15000)
    return page, moodle


def _with_a_failed_launch(server, platform_id: int) -> None:
    """The per-platform page with its fullest launch facts (code, reason, what to check)."""
    from datetime import UTC, datetime

    from lti_tool.db import make_engine, make_session_factory, transaction
    from lti_tool.models import Platform

    engine = make_engine(server.settings.database_url)
    with transaction(make_session_factory(engine)) as db:
        row = db.get(Platform, platform_id)
        row.last_failed_launch_at = row.last_launch_at = datetime.now(UTC)
        row.last_failed_launch_code, row.last_failed_launch_reason = (
            "expired_token", "The launch has expired")
    engine.dispose()


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_platform_pages_pass_axe_and_fit_a_phone(signed_in, cross_site_server, width, height):
    page, moodle = signed_in
    _with_a_failed_launch(cross_site_server, moodle)
    page.set_viewport_size({"width": width, "height": height})
    base = f"{cross_site_server.url}/admin"
    problems: dict[str, list[str]] = {}
    for name, url in (("console", f"{base}/"), ("add", f"{base}/platforms/new"),
                      ("edit", f"{base}/platforms/{moodle}/edit"),
                      ("delete", f"{base}/platforms/{moodle}/delete"),
                      ("platform", f"{base}/platforms/{moodle}")):
        page.goto(url)
        found = _violations(Axe().run(page))
        overflow = page.evaluate("document.documentElement.scrollWidth")
        if overflow > width:
            found.append(f"page is {overflow} px wide at {width} px")
        if found:
            problems[name] = found
    assert problems == {}


def test_delete_from_the_keyboard_without_javascript(browser, cross_site_server):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{cross_site_server.url}/admin/login")
        page.get_by_label("User name").fill("nobody")
        from lti_tool.db import make_engine, make_session_factory, transaction
        from lti_tool.ops.admin import AdminService
        from lti_tool.web.runtime import system_clock

        engine = make_engine(cross_site_server.settings.database_url)
        with transaction(make_session_factory(engine)) as db:
            AdminService(db, system_clock).create("it-admin", PASSWORD)
        engine.dispose()
        page.get_by_label("User name").fill("it-admin")
        page.get_by_label("Password").fill(PASSWORD)
        page.keyboard.press("Enter")
        page.get_by_role("heading", name="Admin console").wait_for(timeout=15000)
        page.get_by_role("link", name=re.compile("^Delete " + re.escape(MOODLE.name))).focus()
        page.keyboard.press("Enter")
        page.get_by_role("heading", name=f"Delete {MOODLE.name}?").wait_for()
        # Without the box ticked the browser does not send the form (required)...
        page.get_by_role("button", name=f"Delete platform {MOODLE.name}").focus()
        page.keyboard.press("Enter")
        assert page.get_by_role("heading", name=f"Delete {MOODLE.name}?").count() == 1
        # ...with it ticked (Space on the focused checkbox), the platform is gone.
        page.get_by_label(f"Yes, delete {MOODLE.name} and all of its data").focus()
        page.keyboard.press("Space")
        page.get_by_role("button", name=f"Delete platform {MOODLE.name}").focus()
        page.keyboard.press("Enter")
        page.get_by_role("status").filter(has_text="deleted").wait_for(timeout=15000)
        assert page.get_by_role("heading", name=MOODLE.name).count() == 0
    finally:
        context.close()


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_launch_doctor_from_the_keyboard_and_its_result_pass_axe(signed_in, cross_site_server,
                                                                 width, height):
    """"Check this platform" pressed with the keyboard; the console then shows the result
    table, which passes axe and keeps the page within a phone's width."""
    page, _moodle = signed_in
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{cross_site_server.url}/admin/")
    button = page.get_by_role("button", name=re.compile(r"^Check this platform \(Sandbox Moodle"))
    button.focus()
    page.keyboard.press("Enter")
    page.get_by_role("table", name=re.compile("^Launch doctor result for Sandbox Moodle")
                     ).wait_for(timeout=30000)
    assert "every check passed" in page.get_by_role("status").inner_text()
    found = _violations(Axe().run(page))
    overflow = page.evaluate("document.documentElement.scrollWidth")
    if overflow > width:
        found.append(f"page is {overflow} px wide at {width} px")
    assert found == []
