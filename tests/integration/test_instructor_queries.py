"""The class overview and the grades page read a class in a fixed number of SQL statements:
a class of 30 costs what a class of 3 does (no query per learner)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from factories import (
    course_row,
    db_sessions,
    graded_link,
    learner,
    platform_id_of,
    submitted_attempt,
)
from sqlalchemy import event

from lti_tool.db import transaction
from lti_tool.models import Mastery, Role, RosterMember
from lti_tool.practice import catalog
from lti_tool.practice import instructor as report
from lti_tool.practice.grading import queue_link_score

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _class(db, name: str, learners: int) -> tuple[int, int]:
    """A course with ``learners`` who launched (each with graded and practice attempts, a
    score in the outbox and mastery) and one LMS roster learner who never did."""
    course = course_row(db, name)
    platform_id = platform_id_of(db, course)
    link = graded_link(db, course)
    for n in range(learners):
        user = learner(db, platform_id, f"{name}-{n}", course, name=f"Learner {n} {name}",
                       family_name=f"L{n:03d}")
        for k in range(2):
            submitted_attempt(db, user.id, course.id, link_id=link.id,
                              at=NOW - timedelta(days=k), score_raw=10 + n % 10 + k)
        submitted_attempt(db, user.id, course.id, link_id=link.id, counts=False,
                          at=NOW - timedelta(hours=1))
        queue_link_score(db, NOW, link.id, user.id)
        db.add(Mastery(user_id=user.id, key_activity_id=_first_topic(db), theta=0.3,
                       evidence=4, correct=3, updated_at=NOW))
    db.add(RosterMember(course_id=course.id, sub=f"{name}-never", name="Never Launched",
                        role=Role.LEARNER, status="Active", synced_at=NOW))
    db.flush()
    return course.id, link.id


def _first_topic(db) -> str:
    return catalog.live_activities(db, catalog.modules(db)[0].id)[0].id


@contextmanager
def _counting(engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_class_overview_and_grades_take_the_same_queries_for_3_or_30_learners(settings):
    engine, sessions = db_sessions(settings)
    try:
        with transaction(sessions) as db:
            small = _class(db, "small", 3)
            large = _class(db, "large", 30)
        counts: dict[str, dict[int, int]] = {"class": {}, "grades": {}}
        with transaction(sessions) as db:  # warm the curriculum cache first
            report.class_overview(db, lambda: NOW, small[0])
            report.grades_page(db, report.course_link(db, small[0], small[1]))
        for size, (course_id, link_id) in ((3, small), (30, large)):
            with transaction(sessions) as db:
                with _counting(engine) as statements:
                    view = report.class_overview(db, lambda: NOW, course_id)
                counts["class"][size] = len(statements)
                assert len(view.rows) == size + 1
                assert sum(1 for r in view.rows if r.launched and r.mastery_pct) == size
                link_row = report.course_link(db, course_id, link_id)
                with _counting(engine) as statements:
                    page = report.grades_page(db, link_row)
                counts["grades"][size] = len(statements)
                assert len(page.rows) == size + 1
                assert sum(1 for r in page.rows if r.score and r.sync and r.practice) == size
        assert counts["class"][3] == counts["class"][30], counts
        assert counts["grades"][3] == counts["grades"][30], counts
        # The grades page: 7 statements, plus 2 for grade provenance (issue 20): the newest
        # grade record of every student with its tries (one join), and the course's LMS
        # family for the wording ("Canvas accepted").
        assert counts["grades"][30] == 9, counts
        assert counts["grades"][30] <= 10 and counts["class"][30] <= 10, counts
    finally:
        engine.dispose()
