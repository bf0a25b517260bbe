"""The typed learning events (lti_tool.delivery.events) and what they promise: a stable
stored kind, the stored key order, a renderer for each, and a light import for the engine."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from lti_tool.delivery import events
from lti_tool.delivery.render import RENDERERS
from lti_tool.delivery.retry import GRADES, STATEMENTS

ROOT = Path(__file__).resolve().parents[2]


def test_every_kind_is_stored_under_its_verb_and_has_a_renderer():
    assert set(events.KINDS) == {"initialized", "experienced", "answered", "completed",
                                 "passed", "failed", "terminated", "progressed"}
    assert all(cls.kind == kind for kind, cls in events.KINDS.items())
    assert set(RENDERERS) == set(events.KINDS.values())


def test_stored_fields_keep_the_declared_order():
    answered = events.Answered(user_id=1, attempt_id="a", item_id="i", choice=2, correct=True,
                               duration_ms=None, mode="drill", module_id="m",
                               key_activity_id="k", course_id=None)
    assert list(answered.stored_fields()) == [
        "user_id", "attempt_id", "item_id", "choice", "correct", "duration_ms", "mode",
        "module_id", "key_activity_id", "course_id"]
    for cls in events.KINDS.values():
        names = [f.name for f in dataclasses.fields(cls)]
        assert names[:2] == ["user_id", "attempt_id"]


def test_a_missing_field_fails_where_the_event_is_made():
    with pytest.raises(TypeError, match="evidence"):
        events.Progressed(  # type: ignore[call-arg]
            user_id=1, attempt_id="a", mode="drill", module_id="m", key_activity_id="k",
            course_id=None, estimate=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        events.Experienced(user_id=1, attempt_id="a", lesson_id="l", module_id="m",
                           key_activity_id=None, course_id=None).user_id = 2  # type: ignore[misc]


def test_the_two_backoffs_keep_their_numbers():
    assert (GRADES.first, GRADES.cap, GRADES.give_up_after) == (
        timedelta(seconds=10), timedelta(hours=1), 12)
    assert (STATEMENTS.first, STATEMENTS.cap, STATEMENTS.give_up_after) == (
        timedelta(seconds=5), timedelta(minutes=30), None)


def test_the_engine_loads_neither_requests_nor_pylti1p3():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, lti_tool.practice.service; "
         "print(sorted(m for m in ('requests', 'pylti1p3') if m in sys.modules))"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_a_batch_is_stamped_1_ms_apart_in_order_from_the_events_time():
    """Issue 19: an LRS returns a batch in any order, so the timestamps carry it."""
    from datetime import UTC, datetime

    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from lti_tool.models import Outbox

    engine = create_engine("sqlite://")
    Outbox.__table__.create(engine)
    now = datetime(2026, 12, 4, 10, 0, 0, 999_900, tzinfo=UTC)  # truncated, never rounded
    common = dict(user_id=1, attempt_id="a", mode="mock", module_id="m",
                  key_activity_id=None, lesson_id=None, course_id=None, score_raw=1,
                  score_max=2, duration_seconds=60.0)
    with Session(engine) as session:
        ids = events.queue(session, now, events.Completed(**common),
                           events.Failed(**common), events.Terminated(**common))
        rows = list(session.scalars(select(Outbox).order_by(Outbox.id)))
    assert [r.payload["statement_id"] for r in rows] == ids
    assert [(r.payload["verb"], r.payload["timestamp"]) for r in rows] == [
        ("completed", "2026-12-04T10:00:00.999+00:00"),
        ("failed", "2026-12-04T10:00:01.000+00:00"),
        ("terminated", "2026-12-04T10:00:01.001+00:00")]
    assert {r.created_at.replace(tzinfo=UTC) for r in rows} == {now}


def test_no_engine_module_loads_the_lti_or_web_packages():
    """DESIGN.md: the engine imports no web or LTI code - its instructor service and
    grading included, not only the service the student pages call."""
    # What the package's own __init__ (the app factory) loads is not the engine's doing.
    script = ("import sys, pkgutil, importlib, lti_tool\n"
              "before = set(sys.modules)\n"
              "import lti_tool.practice as p\n"
              "for m in pkgutil.iter_modules(p.__path__):\n"
              "    importlib.import_module('lti_tool.practice.' + m.name)\n"
              "print(sorted(m for m in set(sys.modules) - before if m.startswith(("
              "'lti_tool.lti', 'lti_tool.web'))))")
    loaded = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.strip()
    assert loaded == "[]"
