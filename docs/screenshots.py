"""Screenshots of CPT Practice's main pages, at desktop and phone size.

    PYTHONPATH=. .venv/bin/python docs/screenshots.py [OUTPUT_DIR]  # default /tmp/cpt-screenshots

Starts the tool with its sandbox LMS in this process, the way the tests do
(``tests/support.py`` ``LiveServer``: a throwaway SQLite database, the shipped curriculum,
the two sandbox platforms, a free loopback port), launches as a student and as an
instructor through real LTI 1.3 launches, signs in to the admin console, and drives
Debian's ``chromium`` with Playwright (no browser download). Every page is saved as
``NN-name-desktop.png`` (1280x800) and ``NN-name-phone.png`` (390x844), full page.

A page that cannot be reached (a changed button label, a page not built yet) is skipped
with one line saying why; the others are still taken. Exit status 0 unless nothing at all
could be taken. The PNGs are not part of the repository (see docs/screenshots.md).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
ADMIN_USER, ADMIN_PASSWORD = "screenshots", "screenshots-password-1"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
STEP_TIMEOUT_MS = 15000


class Shooter:
    """Takes each page at every size and remembers what it took and what it skipped."""

    def __init__(self, page: Any, out: Path) -> None:
        self.page = page
        self.out = out
        self.taken: list[str] = []
        self.skipped: list[tuple[str, str]] = []

    def shot(self, name: str, reach: Callable[[], None]) -> bool:
        """Run ``reach`` (it brings the page to the state to show), then save it at each
        size. Resizing does not reload, so states reached by a form post are kept."""
        number = len(self.taken) + len(self.skipped) + 1
        try:
            reach()
            for size, (width, height) in SIZES.items():
                self.page.set_viewport_size({"width": width, "height": height})
                path = self.out / f"{number:02d}-{name}-{size}.png"
                self.page.screenshot(path=str(path), full_page=True)
            self.page.set_viewport_size(dict(zip(("width", "height"), SIZES["desktop"],
                                                 strict=True)))
        except Exception as exc:  # noqa: BLE001 - any failure skips this page only
            reason = _reason(exc)
            self.skipped.append((name, reason))
            print(f"skipped {name}: {reason}")
            return False
        self.taken.append(name)
        print(f"took {name}")
        return True


def _reason(exc: BaseException) -> str:
    """One short line: Playwright's errors carry a multi-line call log."""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _goto(page: Any, url: str) -> None:
    """Open a URL; a 4xx/5xx answer counts as a missing page."""
    response = page.goto(url)
    if response is not None and response.status >= 400:
        raise RuntimeError(f"{url} answered {response.status}")


def _launch(page: Any, lms_url: str, sub: str, heading: str) -> str:
    """A real launch from the sandbox Canvas, in its iframe. Returns the query that
    carries the tool session to top-level pages: ``?s=<id>`` while the session rides in
    the URL, or ``""`` once the tool's cookie works (the LMS and the tool share a site
    here). The tool's pages are then opened top level, as the accessibility tests do."""
    page.goto(f"{lms_url}/sandbox/canvas/launch?user={sub}")
    frame = page.frame_locator("iframe[name=tool_frame]")
    frame.get_by_role("heading", name=re.compile(heading)).wait_for(timeout=30000)
    tool = next(f for f in page.frames if f.name == "tool_frame")
    match = re.search(r"[?&]s=([^&]+)", tool.url)
    return f"?s={match.group(1)}" if match else ""


def student_pages(shoot: Shooter, base: str, lms_url: str) -> None:
    from lti_tool.sandbox.platforms import CANVAS

    page = shoot.page
    learner = next(p for p in CANVAS.people if p.persona == "learner")
    try:
        query = _launch(page, lms_url, learner.sub, f"Welcome, {learner.given_name}")
    except Exception as exc:  # noqa: BLE001
        for name in ("student-home", "module", "lesson", "drill-feedback", "start-screen",
                     "practice-player", "submit-check", "results", "mock-player", "mastery"):
            shoot.skipped.append((name, f"the student launch failed: {_reason(exc)}"))
            print(f"skipped {name}: the student launch failed: {_reason(exc)}")
        return
    home = f"{base}/home{query}"
    module = f"{base}/modules/safety{query}"
    shoot.shot("student-home", lambda: _goto(page, home))
    shoot.shot("module", lambda: _goto(page, module))

    def lesson() -> None:
        _goto(page, module)
        page.get_by_role("button", name=re.compile("^Lesson: ")).first.click()
        page.get_by_role("radio").first.wait_for(timeout=STEP_TIMEOUT_MS)

    shoot.shot("lesson", lesson)

    def drill_feedback() -> None:
        _goto(page, module)
        page.get_by_role("button", name=re.compile("^Drill: ")).first.click()
        page.get_by_role("radio").first.check(timeout=STEP_TIMEOUT_MS)
        page.get_by_role("button", name=re.compile("Check answer")).click()
        page.get_by_text(re.compile("best answer", re.I)).first.wait_for(
            timeout=STEP_TIMEOUT_MS)

    shoot.shot("drill-feedback", drill_feedback)

    def open_test(module_page: str, kind: str) -> None:
        """From the module page through the start screen (or its Resume link: the shots
        are taken once per window size, and the first round leaves the test open)."""
        _goto(page, module_page)
        page.get_by_role("link", name=re.compile(kind)).first.click()
        start = page.get_by_role("button", name=re.compile("^Start the "))
        if start.count():
            start.click()
        else:
            page.get_by_role("link", name=re.compile("^Resume")).first.click()
        page.get_by_role("radio").first.wait_for(timeout=STEP_TIMEOUT_MS)

    def start_screen() -> None:
        sep = "&" if query else "?"
        _goto(page, f"{base}/attempts/new{query}{sep}mode=mock&module_id=quality")
        page.get_by_role("heading", name=re.compile("Before you start|already started")
                         ).first.wait_for(timeout=STEP_TIMEOUT_MS)

    shoot.shot("start-screen", start_screen)

    def practice_player() -> None:
        open_test(module, "^Practice test")
        page.get_by_role("radio").first.check(timeout=STEP_TIMEOUT_MS)
        page.get_by_role("button", name=re.compile("Flag for review|Remove flag")).click()
        page.get_by_role("radio").first.wait_for(timeout=STEP_TIMEOUT_MS)

    if shoot.shot("practice-player", practice_player):
        def submit_check() -> None:
            page.get_by_role("link", name="Review and submit").click()
            page.get_by_role("heading", name="Check before you submit").wait_for(
                timeout=STEP_TIMEOUT_MS)

        def results() -> None:
            page.get_by_role("button", name=re.compile("Yes, submit")).click()
            page.get_by_role("heading", name=re.compile("results", re.I)).first.wait_for(
                timeout=STEP_TIMEOUT_MS)

        if shoot.shot("submit-check", submit_check):
            shoot.shot("results", results)
    else:
        shoot.skipped.append(("results", "needs the practice player"))
        print("skipped results: needs the practice player")

    shoot.shot("mock-player", lambda: open_test(f"{base}/modules/green{query}",
                                                "Timed mock exam"))
    shoot.shot("mastery", lambda: _goto(page, f"{base}/mastery{query}"))


def instructor_pages(shoot: Shooter, base: str, lms_url: str) -> None:
    from lti_tool.sandbox.platforms import CANVAS

    page = shoot.page
    teacher = next(p for p in CANVAS.people if p.persona == "instructor")
    names = ("instructor-overview", "class-overview", "item-analysis", "grades")
    try:
        query = _launch(page, lms_url, teacher.sub, "Instructor overview")
    except Exception as exc:  # noqa: BLE001
        for name in names:
            shoot.skipped.append((name, f"the instructor launch failed: {_reason(exc)}"))
            print(f"skipped {name}: the instructor launch failed: {_reason(exc)}")
        return
    for name, path in zip(names, ("/home", "/instructor/class", "/instructor/items",
                                  "/instructor/grades"), strict=True):
        shoot.shot(name, lambda path=path: _goto(page, f"{base}{path}{query}"))


def admin_pages(shoot: Shooter, server: Any) -> None:
    from lti_tool.db import make_engine, make_session_factory, transaction
    from lti_tool.ops.admin import AdminService
    from lti_tool.web.runtime import system_clock

    engine = make_engine(server.settings.database_url)
    with transaction(make_session_factory(engine)) as db:
        AdminService(db, system_clock).create(ADMIN_USER, ADMIN_PASSWORD)
    engine.dispose()
    page = shoot.page

    def console() -> None:
        _goto(page, f"{server.url}/admin/login")
        page.get_by_label("User name").fill(ADMIN_USER)
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Admin console").wait_for(timeout=STEP_TIMEOUT_MS)

    if shoot.shot("admin-console", console):
        shoot.shot("admin-add-platform", lambda: _goto(page, f"{server.url}/admin/platforms/new"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", nargs="?", default="/tmp/cpt-screenshots", type=Path,
                        help="directory for the PNG files (default: /tmp/cpt-screenshots)")
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("error: Debian chromium is not installed (apt-get install chromium)",
              file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright
    from support import LiveServer

    from lti_tool.ops.migrate import upgrade_to_head

    out: Path = args.output
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cpt-screenshots-") as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'screenshots.db'}"
        upgrade_to_head(database_url)
        server = LiveServer(database_url).start()
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                             args=CHROMIUM_ARGS)
                context = browser.new_context(viewport=dict(zip(
                    ("width", "height"), SIZES["desktop"], strict=True)))
                shoot = Shooter(context.new_page(), out)
                shoot.page.set_default_timeout(STEP_TIMEOUT_MS)
                student_pages(shoot, server.url, server.lms_url)
                instructor_pages(shoot, server.url, server.lms_url)
                admin_pages(shoot, server)
                context.close()
                browser.close()
        finally:
            server.stop()
    print(f"{len(shoot.taken)} pages taken ({len(shoot.taken) * len(SIZES)} PNG files in "
          f"{out}); {len(shoot.skipped)} skipped"
          + (": " + ", ".join(name for name, _ in shoot.skipped) if shoot.skipped else ""))
    return 0 if shoot.taken else 1


if __name__ == "__main__":
    sys.exit(main())
