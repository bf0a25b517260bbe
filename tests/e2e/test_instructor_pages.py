"""The instructor's pages in Chromium at a phone's width (390 px) and in a wide LMS frame
(1280 px): the page itself never scrolls sideways (wide tables scroll inside their own
box), and axe-core finds no violation of any impact."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from axe_playwright_python.sync_playwright import Axe
from instructor_support import bank_items, db_sessions, ids, key_of, place, seed
from lti_helpers import full_launch
from sqlalchemy import select

from lti_tool.db import transaction
from lti_tool.models import (
    CurriculumKeyActivity,
    GradeDeliveryTry,
    GradeRecord,
    Mastery,
    ResourceLink,
)
from lti_tool.sandbox.platforms import CANVAS

ANA, BEN = CANVAS.people[0], CANVAS.people[1]
INSTRUCTOR = next(p for p in CANVAS.people if p.persona == "instructor")


def _seed_class(server) -> int:
    """Two students with six finished tests (one question most of them miss), mastery
    at every level on Safety, and a graded practice test placed in the course."""
    for person in (ANA, BEN):
        full_launch(server, "canvas", person.sub)
    course, (ana, ben) = ids(server, CANVAS, ANA, BEN)
    hard, easy, half = bank_items(server, "safety", 3)
    for n in range(6):
        seed(server, course, ana if n < 3 else ben, {
            hard.id: key_of(hard) if n == 0 else (key_of(hard) + 1) % 4,
            easy.id: key_of(easy),
            half.id: key_of(half) if n % 2 else (key_of(half) + 2) % 4})
    engine, sessions = db_sessions(server)
    with transaction(sessions) as db:
        safety = list(db.scalars(select(CurriculumKeyActivity).where(
            CurriculumKeyActivity.module_id == "safety").order_by(
            CurriculumKeyActivity.position)))
        for ka, (theta, evidence) in zip(safety, [(3.0, 8), (1.0, 6), (-2.0, 6), (0.5, 2)],
                                         strict=False):
            db.add(Mastery(user_id=ana, key_activity_id=ka.id, theta=theta,
                           evidence=evidence, correct=evidence // 2,
                           updated_at=datetime.now(UTC)))
    engine.dispose()
    return place(server, CANVAS)


def _grade_story(server) -> None:
    """A grade Canvas refused after a busy answer, on the link the instructor launched
    (grade provenance, issue 20): the grades page shows it with its tries."""
    ana = ids(server, CANVAS, ANA)[1][0]
    engine, sessions = db_sessions(server)
    now = datetime.now(UTC)
    with transaction(sessions) as db:
        link = db.scalars(select(ResourceLink).order_by(ResourceLink.id.desc())).first()
        record = GradeRecord(
            outbox_key=f"score:{link.id}:{ana}:e2e", user_id=ana, resource_link_id=link.id,
            policy="best", attempts=[{"id": "a1", "score": 6, "max": 10, "submitted_at": None},
                                     {"id": "a2", "score": 8, "max": 10, "submitted_at": None}],
            score_given=8, score_maximum=10, queued_at=now, state="failed", updated_at=now)
        db.add(record)
        db.flush()
        db.add_all([GradeDeliveryTry(grade_record_id=record.id, at=now, http_status=503,
                                     body="busy", outcome="retrying"),
                    GradeDeliveryTry(grade_record_id=record.id, at=now, http_status=400,
                                     body='{"errors":["bad user"]}', outcome="failed")])
    engine.dispose()


def _check(page, name: str, width: int, axe: Axe, problems: dict[str, list[str]]) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        problems.setdefault(name, []).append(f"page is {scroll}px wide in {width}px")
    violations = axe.run(page).response["violations"]
    if violations:
        problems.setdefault(name, []).extend(
            f"{v['id']} ({v.get('impact')}): {v['help']} - "
            f"{[n['target'] for n in v['nodes']][:3]}" for v in violations)


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)])
def test_instructor_pages_fit_and_pass_axe(browser, cross_site_server, width, height):
    placed = _seed_class(cross_site_server)
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    axe = Axe()
    problems: dict[str, list[str]] = {}
    try:
        page.goto(f"{cross_site_server.lms_url}/sandbox/canvas/launch/frame?user="
                  f"{INSTRUCTOR.sub}&link=placed-{placed}")
        page.get_by_role("heading", name="Instructor overview").wait_for(timeout=30000)
        _check(page, "instructor overview", width, axe, problems)
        hrefs = {name: page.get_by_role("link", name=name).first.get_attribute("href")
                 for name in ("Class overview", "Item analysis", "Grades for this activity",
                              "Preview as a student")}
        base = cross_site_server.url

        page.goto(base + hrefs["Class overview"])
        page.get_by_role("button", name="Refresh roster").click()
        page.get_by_text("last synced").wait_for()
        assert page.get_by_text("Has not opened CPT Practice yet").count() >= 1
        _check(page, "class overview", width, axe, problems)
        region = page.get_by_role("region", name=re.compile("^Students:"))
        assert region.get_attribute("tabindex") == "0"
        if width == 390:  # the wide table scrolls inside its own box
            assert region.evaluate("e => e.scrollWidth > e.clientWidth")
        page.get_by_role("link", name="Last active").click()
        page.locator("th[aria-sort=ascending]").wait_for()
        _check(page, "class overview sorted", width, axe, problems)

        page.goto(base + hrefs["Item analysis"])
        page.get_by_role("heading", name="Item analysis").wait_for()
        assert page.get_by_text("Most students miss this").count() >= 1
        _check(page, "item analysis", width, axe, problems)
        page.get_by_role("link", name="Facility").click()
        page.locator("th[aria-sort=ascending]").wait_for()
        page.locator("table.items tbody th a").first.click()
        page.get_by_role("heading", name=re.compile("^Question ")).wait_for()
        _check(page, "item detail", width, axe, problems)

        _grade_story(cross_site_server)
        page.goto(base + hrefs["Grades for this activity"])
        page.get_by_role("heading", name=re.compile("^Grades")).wait_for()
        assert page.get_by_text("Canvas refused it: 400").count() == 1
        page.get_by_text("Every try").first.click()  # the disclosure opens by keyboard too
        page.get_by_text("gave up").wait_for()
        _check(page, "grades", width, axe, problems)

        page.goto(base + hrefs["Preview as a student"])
        # A click only starts the navigation: check the page it leads to, not the one
        # being torn down (whose documentElement can be null for a moment).
        with page.expect_navigation():
            page.get_by_role("link", name="Safety").click()
        _check(page, "preview module", width, axe, problems)
        with page.expect_navigation():
            page.get_by_role("link", name=re.compile("^Lesson: ")).first.click()
        _check(page, "preview lesson", width, axe, problems)
        page.get_by_role("radio").first.check()
        page.get_by_role("button", name="Check answer").click()
        page.get_by_role("status").wait_for()
        _check(page, "preview feedback", width, axe, problems)
    finally:
        context.close()
    assert problems == {}
