"""lti/copies.py: reading ``$...id.history`` values and finding a copied link's source
without ever crossing a deployment (issue 19, defect 5)."""

from __future__ import annotations

import pytest
from factories import course_row, graded_link
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from lti_tool.lti.copies import carry_from_history, history_ids
from lti_tool.models import Base, Course, Deployment, GradingPolicy, ResourceLink


@pytest.mark.parametrize(("value", "ids"), [
    ("$ResourceLink.id.history", ()),  # Moodle, Open edX: not substituted
    ("$Context.id.history", ()),
    ("", ()), (None, ()), (42, ()), ("  ", ()),
    ("abc", ("abc",)),
    ("new,older , oldest", ("new", "older", "oldest")),  # Canvas: most recent first
    ("a%2Cb,c", ("a,b", "c")),  # LTI 1.2 lists URL-encoded ids
    ("a,,a,b", ("a", "b")),  # empty and repeated ids dropped
    ("x" * 256 + ",ok", ("ok",)),  # longer than an LTI id can be
])
def test_history_ids(value, ids):
    assert history_ids(value) == ids


def test_history_is_capped():
    assert len(history_ids(",".join(f"id{n}" for n in range(500)))) == 20


@pytest.fixture
def db():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def _new_link(db: Session, course: Course, link_id: str, **custom: str) -> ResourceLink:
    link = ResourceLink(course_id=course.id, link_id=link_id, custom=dict(custom),
                        title="Safety: practice test")
    db.add(link)
    db.flush()
    return link


def test_another_deployment_of_the_same_platform_finds_nothing(db):
    """Deployment 2 of the same LMS names deployment 1's link and course: no source."""
    course = course_row(db, "college", context_id="c1")
    source = graded_link(db, course, title="Safety: practice test",
                         grading_policy=GradingPolicy.LATEST)
    dep1 = db.get(Deployment, course.deployment_id)
    dep2 = Deployment(platform_id=dep1.platform_id, deployment_id="other")
    db.add(dep2)
    db.flush()
    other = Course(deployment_id=dep2.id, context_id="c2")
    db.add(other)
    db.flush()
    link = _new_link(db, other, "copy-1", activity="practice", module="safety", size="25",
                     resource_link_history=source.link_id, context_history="c1")
    assert carry_from_history(db, dep2.id, link, link.custom) is None
    assert link.grading_policy != GradingPolicy.LATEST and link.copied_from_id is None
    # The same launch in the link's own deployment finds it.
    mine = Course(deployment_id=dep1.id, context_id="c3")
    db.add(mine)
    db.flush()
    link = _new_link(db, mine, "copy-2", resource_link_history=source.link_id)
    assert carry_from_history(db, dep1.id, link, link.custom) is source
    assert link.grading_policy == GradingPolicy.LATEST
    assert link.carried_placement == {"activity": "practice", "module": "safety",
                                      "size": "25"}


def test_the_most_recent_known_id_wins(db):
    course = course_row(db, "college", context_id="c1")
    older = graded_link(db, course, grading_policy=GradingPolicy.AVERAGE)
    newer = graded_link(db, course, grading_policy=GradingPolicy.LATEST)
    copy = Course(deployment_id=course.deployment_id, context_id="c2")
    db.add(copy)
    db.flush()
    link = _new_link(db, copy, "copy", resource_link_history=(
        f"never-seen,{newer.link_id},{older.link_id}"))
    assert carry_from_history(db, course.deployment_id, link, link.custom) is newer


def test_course_history_never_guesses_between_twins(db):
    """Two links of the source course with the same placement and title: which one the
    copy came from is unknown, so nothing is carried."""
    course = course_row(db, "college", context_id="c1")
    for policy in (GradingPolicy.LATEST, GradingPolicy.AVERAGE):
        graded_link(db, course, title="Safety: practice test", grading_policy=policy)
    copy = Course(deployment_id=course.deployment_id, context_id="c2")
    db.add(copy)
    db.flush()
    link = _new_link(db, copy, "copy", activity="practice", module="safety", size="25",
                     resource_link_history="$ResourceLink.id.history", context_history="c1")
    assert carry_from_history(db, course.deployment_id, link, link.custom) is None
    assert link.copied_from_id is None
