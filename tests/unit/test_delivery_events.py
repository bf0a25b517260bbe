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
