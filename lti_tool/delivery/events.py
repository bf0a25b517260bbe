"""Learning events queued in the outbox, in the same transaction as what they report.

One frozen class per kind of event. ``kind`` is the string stored as the payload's
``"verb"``: rows queued before a deploy are still pending after it, so a kind is never
renamed. The fields are the payload's other keys, in the order they are stored, so the
JSON on the row is what the engine has always written; a missing field fails where the
event is made (in the request and the tests), not in the worker an hour later.

Each event gets its statement id (UUID4) now, when it happens, and keeps it through every
delivery retry: that is what lets the LRS side drop duplicates (xapi package, issue 6).

A new kind of event: a class here, its renderer in render.py, its verb and template in the
xAPI vocabulary and profile, and a test.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import insert
from sqlalchemy.orm import Session

from lti_tool.models import Outbox, OutboxKind, OutboxStatus

_INSERT = insert(Outbox.__table__)


@dataclass(frozen=True)
class LearningEvent:
    """A kind of learning event. Subclasses declare their fields in stored key order
    (none are inherited from here, or dataclasses would put them first); all have
    ``user_id`` and ``attempt_id``, which the renderer and erasure (ops/privacy.py) read."""

    kind: ClassVar[str]

    def stored_fields(self) -> dict[str, Any]:
        """The payload keys besides verb, statement id and timestamp, in stored order."""
        return {name: getattr(self, name) for name in _field_names(type(self))}


_FIELD_NAMES: dict[type[LearningEvent], tuple[str, ...]] = {}


def _field_names(cls: type[LearningEvent]) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


# ``mode`` is the attempt mode's stored value ("drill", "mock", ...). Keyword-only: many
# fields share a type, and a swapped pair would be stored without complaint.

@dataclass(frozen=True, kw_only=True)
class Initialized(LearningEvent):
    """An attempt started (a drill, a test, an exam, a lesson)."""

    kind: ClassVar[str] = "initialized"

    user_id: int
    attempt_id: str
    mode: str
    module_id: str
    key_activity_id: str | None
    lesson_id: str | None
    course_id: int | None
    resource_link_id: int | None


@dataclass(frozen=True, kw_only=True)
class Experienced(LearningEvent):
    """A lesson was opened (a lesson attempt's mode is always "lesson": none is stored)."""

    kind: ClassVar[str] = "experienced"

    user_id: int
    attempt_id: str
    lesson_id: str
    module_id: str
    key_activity_id: str | None
    course_id: int | None


@dataclass(frozen=True, kw_only=True)
class Answered(LearningEvent):
    """One item answered (``choice``: the option's index as shown)."""

    kind: ClassVar[str] = "answered"

    user_id: int
    attempt_id: str
    item_id: str
    choice: int
    correct: bool
    duration_ms: int | None
    mode: str
    module_id: str
    key_activity_id: str
    course_id: int | None


@dataclass(frozen=True, kw_only=True)
class _Finished(LearningEvent):
    """The facts of a finished attempt, which each of its closing events carries."""

    user_id: int
    attempt_id: str
    mode: str
    module_id: str
    key_activity_id: str | None
    lesson_id: str | None
    course_id: int | None
    score_raw: int
    score_max: int
    duration_seconds: float


@dataclass(frozen=True, kw_only=True)
class Completed(_Finished):
    """An attempt (or a lesson) was finished."""

    kind: ClassVar[str] = "completed"


@dataclass(frozen=True, kw_only=True)
class Passed(_Finished):
    """A mock exam scored at or above the module's pass mark."""

    kind: ClassVar[str] = "passed"


@dataclass(frozen=True, kw_only=True)
class Failed(_Finished):
    """A mock exam scored below the module's pass mark."""

    kind: ClassVar[str] = "failed"


@dataclass(frozen=True, kw_only=True)
class Terminated(_Finished):
    """The attempt's session ended: its last event."""

    kind: ClassVar[str] = "terminated"


@dataclass(frozen=True, kw_only=True)
class Progressed(LearningEvent):
    """One key activity's mastery estimate after an attempt gave evidence on it."""

    kind: ClassVar[str] = "progressed"

    user_id: int
    attempt_id: str
    mode: str
    module_id: str
    key_activity_id: str
    course_id: int | None
    estimate: float
    evidence: int


KINDS: dict[str, type[LearningEvent]] = {cls.kind: cls for cls in (
    Initialized, Experienced, Answered, Completed, Passed, Failed, Terminated, Progressed)}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


# How far apart the statements of one batch are stamped: the smallest step a timestamp
# shows (they are sent with milliseconds, statements.py).
STEP = timedelta(milliseconds=1)


def queue(session: Session, now: datetime, *events: LearningEvent) -> list[str]:
    """Queue events for the LRS in one statement, in order; their statement ids.

    The events are given in the order the profile's session pattern puts them (completed,
    the verdict, progressed, terminated), and their timestamps carry that order: the first
    is ``now``, each next one ``STEP`` later. An LRS returns statements in any order (its
    ``stored`` order is its own), and the xAPI Profiles spec orders a pattern's statements
    by timestamp, so one shared timestamp would leave a reader no way to recover the
    sequence (issue 19).

    A Core insert on the session's connection and transaction: the ORM unit of work
    would cost more than the rest of an answer's writes together (bench/answers.py), and
    a submit's four to ten events go to PostgreSQL as one pipelined batch, not one round
    trip each.
    """
    rows, ids = [], []
    for n, event in enumerate(events):
        statement_id = str(uuid.uuid4())
        ids.append(statement_id)
        rows.append({"kind": OutboxKind.XAPI, "dedupe_key": statement_id,
                     "payload": {"verb": event.kind, "statement_id": statement_id,
                                 "timestamp": _iso(now + n * STEP),
                                 **event.stored_fields()},
                     "status": OutboxStatus.PENDING, "attempts": 0,
                     "next_attempt_at": now, "created_at": now})
    if rows:
        session.execute(_INSERT, rows)
    return ids
