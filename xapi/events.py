"""Learning events as plain data: what happened, to whom, in which LMS course.

The tool builds these from its database rows; statements.py turns them into xAPI. They
check themselves on construction because tincan does not: it takes naive datetimes and
scores outside their range, and an LRS would store such a statement (or reject the whole
batch it came in) long after the mistake could be traced.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from xapi.vocabulary import ATTEMPT_MODES

MODES = ATTEMPT_MODES
_SHA1 = re.compile(r"^[0-9a-f]{40}$")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class Actor:
    """The learner. By default an account (platform issuer + LTI ``sub``): no name or
    e-mail leaves the tool unless a college chose ``mbox`` or ``mbox_sha1sum``."""

    homepage: str
    name: str
    mbox: str | None = None
    mbox_sha1sum: str | None = None

    def __post_init__(self) -> None:
        _require(bool(self.homepage) and bool(self.name), "an actor needs a homepage and name")
        _require(self.mbox is None or self.mbox.startswith("mailto:"),
                 "mbox must be a mailto: IRI")
        _require(self.mbox_sha1sum is None or bool(_SHA1.match(self.mbox_sha1sum)),
                 "mbox_sha1sum must be 40 lower-case hex digits")
        _require(not (self.mbox and self.mbox_sha1sum), "give mbox or mbox_sha1sum, not both")


@dataclass(frozen=True)
class LmsContext:
    """Where the learner came from: the LTI ids analytics teams join on."""

    issuer: str
    deployment_id: str | None = None
    context_id: str | None = None
    context_title: str | None = None
    resource_link_id: str | None = None


@dataclass(frozen=True)
class Event:
    """What every learning event has. ``statement_id`` is made once, when the event
    happens, and kept: the LRS drops a resent statement by it."""

    statement_id: str
    timestamp: datetime
    actor: Actor
    lms: LmsContext
    registration: str  # the attempt's UUID: groups one session's statements
    mode: str
    module_id: str
    module_title: str
    key_activity_id: str | None = None
    language: str = "en-US"  # of the experience and of the titles, stems and choices sent
    # The mode's name for people ("Practice test"), from the tool's mode spec: the name
    # of the assessment activity. Without one, the mode's value names it.
    mode_title: str = ""

    def __post_init__(self) -> None:
        _require(self.timestamp.tzinfo is not None
                 and self.timestamp.utcoffset() is not None,
                 "timestamp must be timezone-aware (a naive time is ambiguous in an LRS)")
        for label, value in (("statement_id", self.statement_id),
                             ("registration", self.registration)):
            try:
                uuid.UUID(value)
            except (ValueError, TypeError, AttributeError) as exc:
                raise ValueError(f"{label} must be a UUID, not {value!r}") from exc
        _require(self.mode in MODES, f"mode must be one of {', '.join(MODES)}")


def _duration(value: float | None, label: str = "duration_seconds") -> None:
    _require(value is None or (math.isfinite(value) and value >= 0),
             f"{label} must be a finite number of seconds, not negative")


@dataclass(frozen=True)
class SessionInitialized(Event):
    """``lesson_id``/``lesson_title``: a lesson's session is about the lesson itself (the
    same activity its "experienced" and "completed" name), not an assessment."""

    lesson_id: str | None = None
    lesson_title: str | None = None


@dataclass(frozen=True)
class SessionTerminated(SessionInitialized):
    duration_seconds: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _duration(self.duration_seconds)


@dataclass(frozen=True)
class LessonExperienced(Event):
    lesson_id: str = ""
    lesson_title: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(bool(self.lesson_id and self.lesson_title), "a lesson needs an id and title")


@dataclass(frozen=True)
class LessonCompleted(LessonExperienced):
    """``score_raw``/``score_max``: the lesson checks answered right, of all (what the
    gradebook got); None for a lesson without checks."""

    duration_seconds: float = 0.0
    score_raw: float | None = None
    score_max: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _duration(self.duration_seconds)
        if self.score_max is not None or self.score_raw is not None:
            _require(self.score_max is not None and math.isfinite(self.score_max)
                     and self.score_max > 0, "score_max must be a finite number above 0")
            _require(self.score_raw is not None and 0 <= self.score_raw <= self.score_max,
                     f"score_raw {self.score_raw} is outside 0..{self.score_max}")

    @property
    def scaled(self) -> float | None:
        if self.score_raw is None or not self.score_max:
            return None
        return round(self.score_raw / self.score_max, 4)


@dataclass(frozen=True)
class ItemAnswered(Event):
    item_id: str = ""
    stem: str = ""
    choices: tuple[str, ...] = ()
    correct_index: int = 0
    chosen_index: int = 0
    success: bool = False
    duration_seconds: float | None = None
    lesson_id: str | None = None  # set when the item is a lesson check
    lesson_title: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(bool(self.item_id and self.stem), "an item needs an id and a stem")
        _require(len(self.choices) >= 2, "an item needs at least two choices")
        for label, index in (("correct_index", self.correct_index),
                             ("chosen_index", self.chosen_index)):
            _require(0 <= index < len(self.choices), f"{label} {index} is not a choice")
        _require(self.success == (self.chosen_index == self.correct_index),
                 "success must say whether the chosen choice is the correct one")
        _duration(self.duration_seconds)


@dataclass(frozen=True)
class AttemptCompleted(Event):
    score_raw: float = 0
    score_max: float = 1
    duration_seconds: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(math.isfinite(self.score_max) and self.score_max > 0,
                 "score_max must be a finite number above 0")
        _require(0 <= self.score_raw <= self.score_max,
                 f"score_raw {self.score_raw} is outside 0..{self.score_max}")
        _duration(self.duration_seconds)

    @property
    def scaled(self) -> float:
        return round(self.score_raw / self.score_max, 4)


@dataclass(frozen=True)
class AttemptJudged(AttemptCompleted):
    """A mock exam's verdict against the module's pass mark: passed or failed."""

    passed: bool = False


@dataclass(frozen=True)
class MasteryProgressed(Event):
    key_activity_title: str = ""
    estimate: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(bool(self.key_activity_id), "mastery is about a key activity")
        _require(0.0 <= self.estimate <= 1.0, "estimate must be between 0 and 1")


EVENT_TYPES = (SessionInitialized, SessionTerminated, LessonExperienced, LessonCompleted,
               ItemAnswered, AttemptCompleted, AttemptJudged, MasteryProgressed)
