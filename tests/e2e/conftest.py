"""Headless Debian Chromium driven by Playwright (no downloaded browser builds).

The LMS (sandbox) is served as http://localhost:PORT and the tool as http://127.0.0.1:PORT:
two different sites, so the tool runs as a cross-site iframe exactly as inside Canvas or
Moodle, where its cookies are third-party.
"""

from __future__ import annotations

import shutil

import pytest
from support import LiveServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path) -> str:
    """Browser tests exercise the pages, not the DB: SQLite only keeps them quick."""
    from lti_tool.ops.migrate import upgrade_to_head

    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    upgrade_to_head(url)
    return url


@pytest.fixture
def cross_site_server(database_url):
    server = LiveServer(database_url, sandbox_host="localhost").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM:
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    pg = context.new_page()
    yield pg
    context.close()
