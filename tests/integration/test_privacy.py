"""Erasing a learner keeps anonymous class statistics and nothing that points at them;
retention purges delivered rows and expired state, never undelivered work."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from test_xapi_delivery import World

from lti_tool.db import transaction
from lti_tool.models import (
    Attempt,
    Enrollment,
    Mastery,
    Outbox,
    OutboxStatus,
    Response,
    RosterMember,
    User,
)
from lti_tool.ops.privacy import EraseError, erase_user, purge_expired


@pytest.fixture
def world(database_url):
    w = World(database_url)
    yield w
    w.close()


def _count(db, table, *where) -> int:
    return db.scalar(select(func.count()).select_from(table).where(*where)) or 0


def test_erase_keeps_anonymous_statistics_and_nothing_personal(world):
    world.session("a", "drill", answers=3)
    world.session("a", "practice", answers=2)
    world.session("b", "drill", answers=2)
    ana = world.students["a"]
    with transaction(world.sessions) as db:
        db.add(Enrollment(user_id=ana, course_id=world.courses["a"], role="learner"))
        db.add(RosterMember(course_id=world.courses["a"], sub="student-a", name="Ana A",
                            email="student@college-a.test", role="learner",
                            synced_at=world.clock()))
        responses_before = _count(db, Response)
        attempts_before = _count(db, Attempt)
        b_rows = _count(db, Outbox, Outbox.payload["user_id"].as_integer()
                        == world.students["b"])
    with transaction(world.sessions) as db:
        done = erase_user(db, "https://lms.college-a.test", "student-a",
                          tool_home="https://tool.college-a.test")
    assert done.attempts_kept_anonymously == 2 and done.roster_rows_removed == 1
    with transaction(world.sessions) as db:
        assert db.get(User, ana) is None
        assert _count(db, Response) == responses_before  # item statistics keep their data
        assert _count(db, Attempt) == attempts_before
        placeholder = db.scalars(select(User).where(User.sub.like("erased-%"))).one()
        assert placeholder.email is None and placeholder.name is None
        assert _count(db, Attempt, Attempt.user_id == placeholder.id) == 2
        assert _count(db, Mastery, Mastery.user_id == ana) == 0
        assert _count(db, Enrollment, Enrollment.user_id == ana) == 0
        # Nothing queued about Ana is sent any more; Ben's work is untouched.
        assert _count(db, Outbox, Outbox.payload["user_id"].as_integer() == ana) == 0
        assert _count(db, Outbox, Outbox.payload["user_id"].as_integer()
                      == world.students["b"]) == b_rows
        everything = json.dumps([
            [r.sub, r.email, r.name] for r in db.scalars(select(User))] + [
            [r.sub, r.email] for r in db.scalars(select(RosterMember))] + [
            [r.payload, r.body] for r in db.scalars(select(Outbox))])
    assert "student-a" not in everything and "college-a.test\"" not in everything
    with transaction(world.sessions) as db, pytest.raises(EraseError):
        erase_user(db, "https://lms.college-a.test", "student-a",
                          tool_home="https://tool.college-a.test")


def test_retention_purges_delivered_rows_and_expired_state_only(world):
    world.session("a", "drill", answers=2)
    now = world.clock()
    with transaction(world.sessions) as db:
        ids = list(db.scalars(select(Outbox.id).order_by(Outbox.id)))
        db.execute(update(Outbox).where(Outbox.id.in_(ids[:2])).values(
            status=OutboxStatus.SENT, sent_at=now - timedelta(days=40)))
        db.execute(update(Outbox).where(Outbox.id == ids[2]).values(
            status=OutboxStatus.SENT, sent_at=now - timedelta(days=5)))
        db.execute(update(Outbox).where(Outbox.id == ids[3]).values(
            status=OutboxStatus.FAILED, created_at=now - timedelta(days=400)))
    with transaction(world.sessions) as db:
        counts = purge_expired(db, now, delivered_days=30)
        assert counts["outbox"] == 2
        left = set(db.scalars(select(Outbox.id)))
    assert left == set(ids[2:])  # recent sent, parked and pending rows all stay
    with transaction(world.sessions) as db:
        assert purge_expired(db, now, delivered_days=0).get("outbox") is None
