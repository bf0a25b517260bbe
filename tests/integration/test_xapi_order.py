"""Statements as an analyst reads them back from a real Ralph LRS (issue 19, defects 3, 4).

- Order: an LRS returns one registration's statements in any order (Learning Locker gave
  progressed, failed, completed, terminated, progressed), so the order the profile's
  session pattern describes must be carried by the timestamps alone: strictly increasing
  within a registration, a batch's first statement at the event's own time.
- Version: xAPI 1.0.3 makes an LRS set ``"version": "1.0.0"`` on a statement stored
  without one (the sandbox Ralph does, as Learning Locker does); the stored statements
  must still follow the tool's own profile, checked with the Profiles spec's algorithms.
"""

from __future__ import annotations

import secrets
import sys
from datetime import datetime, timedelta
from pathlib import Path
from random import Random

import pytest
from sqlalchemy import select
from test_xapi_delivery import World

from lti_tool.db import transaction
from lti_tool.models import CurriculumLesson
from lti_tool.practice.service import PracticeService
from xapi import vocabulary as v
from xapi.lrs import LrsClient, LrsEndpoint
from xapi.profile import load_profile, template_id
from xapi.profile.check import SUCCESS, follows, in_timestamp_order, validates
from xapi.statements import statement_bytes, statement_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_xapi_profile import _template_kind  # noqa: E402
from test_xapi_statements import every_event  # noqa: E402


@pytest.fixture
def world(database_url):
    w = World(database_url)
    yield w
    w.close()


def _instant(statement: dict) -> datetime:
    return datetime.fromisoformat(statement["timestamp"].replace("Z", "+00:00"))


def _read_back(ralph, registration: str) -> list[dict]:
    """The registration's statements as the LRS returns them, in an order nobody chose
    (shuffled: a reader cannot rely on the LRS's order or on ``stored``)."""
    stored = ralph.statements(registration=registration)
    Random(registration).shuffle(stored)
    return stored


def _verbs(statements: list[dict]) -> list[str]:
    return [s["verb"]["id"].rsplit("/", 1)[-1] for s in statements]


def _strictly_increasing(statements: list[dict]) -> bool:
    instants = [_instant(s) for s in statements]
    return all(a < b for a, b in zip(instants, instants[1:], strict=False))


def test_a_submits_statements_come_back_in_the_patterns_order_by_timestamp(world, ralph):
    world.add_lrs("a", ralph)
    registration = world.session("a", "mock", answers=3)  # 3 of 80 answered: failed
    submitted_at = world.clock.now
    world.drain(world.delivery())

    ordered = in_timestamp_order(_read_back(ralph, registration))
    assert _strictly_increasing(ordered), [s["timestamp"] for s in ordered]
    verbs = _verbs(ordered)
    progressed = verbs.count("progressed")
    assert progressed >= 1
    assert verbs == (["initialized"] + ["answered"] * 3 + ["completed", "failed"]
                     + ["progressed"] * progressed + ["terminated"])
    # The submit's batch: the first statement at the submit's time, then 1 ms apart.
    batch = ordered[4:]
    assert [_instant(s) for s in batch] == [submitted_at + timedelta(milliseconds=n)
                                            for n in range(len(batch))]
    # The whole registration, as stored, follows the profile's session pattern.
    assert follows(ordered, load_profile())


def test_a_lessons_start_is_ordered_too_and_follows_the_profile(world, ralph):
    world.add_lrs("a", ralph)
    user = world.students["a"]
    with transaction(world.sessions) as db:
        lesson = db.scalars(select(CurriculumLesson).where(
            CurriculumLesson.module_id == "safety").order_by(CurriculumLesson.id)).first()
        assert lesson is not None
        svc = PracticeService(db, world.clock, Random(7))
        started_at = world.clock.now
        attempt_id = svc.start(user, "lesson", "safety", course_id=world.courses["a"],
                               lesson_id=lesson.id).id
    for _ in range(2):
        world.clock.advance(seconds=20)
        with transaction(world.sessions) as db:
            svc = PracticeService(db, world.clock, Random(7))
            item = svc.item(attempt_id, user)
            if item is None:
                break
            svc.answer(attempt_id, user, item.id, 0, secrets.token_hex(8))
    world.clock.advance(seconds=5)
    with transaction(world.sessions) as db:
        PracticeService(db, world.clock, Random(7)).submit(attempt_id, user)
    world.drain(world.delivery())

    ordered = in_timestamp_order(_read_back(ralph, attempt_id))
    assert _strictly_increasing(ordered), [s["timestamp"] for s in ordered]
    assert _verbs(ordered)[:2] == ["initialized", "experienced"]
    assert [_instant(s) for s in ordered[:2]] == [started_at,
                                                  started_at + timedelta(milliseconds=1)]
    assert _verbs(ordered)[-1] == "terminated"
    assert follows(ordered, load_profile())


def test_statements_read_back_from_ralph_follow_the_profile(ralph):
    """Every kind, POSTed as the tool sends it (no version) and validated as Ralph stores
    it (with the version xAPI 1.0.3 makes it add)."""
    profile = load_profile()
    client = LrsClient(LrsEndpoint("ralph", ralph.endpoint, *ralph.auth))
    events = every_event()
    outcomes = client.deliver([(e.statement_id, statement_bytes(e)) for e in events])
    assert {o.kind for _, o in outcomes} == {"delivered"}
    stored = {s["id"]: s for s in ralph.statements()}
    assert set(stored) == {e.statement_id for e in events}
    for event in events:
        sent, copy = statement_json(event), stored[event.statement_id]
        assert "version" not in sent  # the tool pins no spec revision
        assert copy["version"] == "1.0.0"  # the LRS does, as xAPI 1.0.3 requires
        kind = _template_kind(event)
        result = validates(copy, profile)
        assert (result.outcome, result.templates) == (SUCCESS, (template_id(kind),)), \
            (kind, result.broken)


def test_a_drill_session_read_back_from_ralph_follows_the_profile(world, ralph):
    world.add_lrs("a", ralph)
    registration = world.session("a", "drill", answers=3)
    world.drain(world.delivery())
    stored = _read_back(ralph, registration)
    assert {s["version"] for s in stored} == {"1.0.0"}
    assert all(validates(s, load_profile()).outcome == SUCCESS for s in stored)
    assert follows(stored, load_profile())
    # The profile says how order is carried, where an analyst reads the pattern.
    session = next(p for p in load_profile()["patterns"] if p.get("primary"))
    assert "by timestamp" in session["definition"]["en"]
    assert v.PROFILE_VERSION in {c["id"] for s in stored
                                 for c in s["context"]["contextActivities"]["category"]}

