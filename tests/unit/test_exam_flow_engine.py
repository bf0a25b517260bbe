"""The engine behind the start screen, the Resume cards and the page before submitting:
start facts create nothing, sittings report time left and answers, flags are kept per
attempt and refused once it is finished."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from test_practice_engine import Clock, _svc, world  # noqa: F401 - fixture

from lti_tool.db import transaction
from lti_tool.models import (
    Attempt,
    AttemptStatus,
    Course,
    Deployment,
    Enrollment,
    Outbox,
    Role,
    User,
)
from lti_tool.practice.errors import AttemptClosedError, InvalidRequestError


def _count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def test_start_facts_create_nothing_and_show_the_extra_time(world):  # noqa: F811
    sessions, clock, (ana, _) = world
    with transaction(sessions) as db:
        facts = _svc(db, clock).start_facts(ana, "mock", "mod")
        assert (facts.items, facts.minutes, facts.base_minutes) == (10, 20, 20)
        assert facts.open_attempt is None and not facts.graded
        assert _count(db, Attempt) == 0 and _count(db, Outbox) == 0
        with pytest.raises(InvalidRequestError):
            _svc(db, clock).start_facts(ana, "drill", "mod")


def test_extra_time_is_on_the_start_screen_and_in_the_deadline(world):  # noqa: F811
    sessions, clock, (ana, _) = world
    with transaction(sessions) as db:
        platform_id = db.get(User, ana).platform_id
        deployment = Deployment(platform_id=platform_id, deployment_id="d-1")
        db.add(deployment)
        db.flush()
        course = Course(deployment_id=deployment.id, context_id="c-1", title="C")
        db.add(course)
        db.flush()
        db.add(Enrollment(course_id=course.id, user_id=ana, role=Role.LEARNER,
                          time_multiplier=1.5))
        course_id = course.id
    with transaction(sessions) as db:
        facts = _svc(db, clock).start_facts(ana, "mock", "mod", course_id=course_id)
        assert facts.minutes == 30 and facts.multiplier == 1.5
        attempt = _svc(db, clock).start(ana, "mock", "mod", course_id=course_id)
        assert (attempt.deadline_at - attempt.started_at).total_seconds() == 30 * 60


def test_open_attempt_is_offered_for_resume_with_time_left(world):  # noqa: F811
    sessions, clock, (ana, ben) = world
    with transaction(sessions) as db:
        svc = _svc(db, clock)
        attempt = svc.start(ana, "mock", "mod")
        item = svc.item(attempt.id, ana)
        svc.answer(attempt.id, ana, item.id, 0, "k1")
        attempt_id = attempt.id
    clock.advance(minutes=5)
    with transaction(sessions) as db:
        svc = _svc(db, clock)
        facts = svc.start_facts(ana, "mock", "mod")
        assert facts.open_attempt is not None
        assert facts.open_attempt.attempt_id == attempt_id
        assert facts.open_attempt.seconds_left == 15 * 60
        assert facts.open_attempt.answered == 1
        (sitting,) = svc.open_sittings(ana, None)
        assert sitting.attempt_id == attempt_id and sitting.total == 10
        assert svc.open_sittings(ben, None) == []  # someone else's is never offered
    clock.advance(minutes=16)  # past the deadline: submitted, not offered
    with transaction(sessions) as db:
        assert _svc(db, clock).open_sittings(ana, None) == []
        assert db.get(Attempt, attempt_id).status == AttemptStatus.SUBMITTED


def test_flags_are_kept_and_refused_on_a_finished_attempt(world):  # noqa: F811
    sessions, clock, (ana, ben) = world
    with transaction(sessions) as db:
        svc = _svc(db, clock)
        attempt = svc.start(ana, "practice", "mod", size=4)
        svc.set_flag(attempt.id, ana, 3, True)
        svc.set_flag(attempt.id, ana, 1, True)
        svc.set_flag(attempt.id, ana, 3, False)
        assert svc.sitting(attempt.id, ana).flagged == [1]
        with pytest.raises(InvalidRequestError):
            svc.set_flag(attempt.id, ana, 5, True)  # no question 5
        from lti_tool.practice.errors import NotFoundError

        with pytest.raises(NotFoundError):
            svc.set_flag(attempt.id, ben, 2, True)  # not hers to flag
        svc.finish(attempt.id, ana)
        with pytest.raises(AttemptClosedError):
            svc.set_flag(attempt.id, ana, 2, True)
        drill = svc.start(ana, "drill", "mod", key_activity_id="mod.work")
        with pytest.raises(InvalidRequestError):
            svc.set_flag(drill.id, ana, 1, True)
