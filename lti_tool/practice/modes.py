"""One spec per attempt mode: everything that differs between a lesson, a drill, a practice
test and a mock exam, in one place.

The engine (service.py), grading and placement, deep linking, the xAPI renderer and the
pages read these flags instead of asking "is this a mock exam?" themselves, so a new mode
is a new ``ModeSpec`` here, its planner (which items, in which order), a template and a
test. Only plain data and the planners live here: delivery and the pages import it
without pulling in the engine.

Adding a mode: its ``AttemptMode`` member (models.py; the column is a plain string, no
migration), its ``ModeSpec`` and planner here, its value in the published xAPI profile
(xapi/vocabulary.py ``ATTEMPT_MODES``: analytics teams filter on it), a start button in
a template, and a test. tests/unit/test_attempt_modes.py checks that nothing else
branches on a mode.

The stored values stay what they were: ``AttemptMode``'s strings in the database, the
outbox payloads and the xAPI ``attempt-mode`` extension (the published profile lists
them, xapi/events.py ``MODES``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from random import Random

from lti_tool.models import AttemptMode
from lti_tool.practice.selection import Exposure, ItemRef, plan_test

# Placed practice tests may ask for another size (Deep Linking's ``size``), within this.
MAX_PLACED_SIZE = 100


@dataclass(frozen=True)
class PlanRequest:
    """What a planner may draw on when an attempt starts. ``weights`` and ``exposure``
    are read from the database only when a planner asks for them."""

    refs: list[ItemRef]  # the live items in scope (the module, or one key activity)
    activities: list[str]  # the key activities in scope, in blueprint order
    size: int | None  # the attempt's length, for a mode that has one (ModeSpec.size)
    rng: Random
    weights: Callable[[], dict[str, float]]
    exposure: Callable[[], dict[str, Exposure]]
    lesson_checks: list[str]  # the lesson's check items, for a mode of lesson checks


Planner = Callable[[PlanRequest], list[str]]


def plan_lesson_checks(request: PlanRequest) -> list[str]:
    """The lesson's own checks, in the lesson's order."""
    return list(request.lesson_checks)


def plan_adaptive(request: PlanRequest) -> list[str]:
    """Nothing up front: a drill picks each question as it goes
    (selection.next_drill_item)."""
    return []


def plan_test_form(request: PlanRequest) -> list[str]:
    """A fixed form across the key activities by their exam weights, unseen items first
    (selection.plan_test); practice tests and mock exams differ only in size."""
    assert request.size is not None
    return plan_test(request.refs, request.activities, request.size, request.rng,
                     request.weights(), request.exposure())


@dataclass(frozen=True)
class ModeSpec:
    """How one attempt mode behaves. The flags are independent facts, each read where it
    matters; none is derived from the mode's name."""

    mode: AttemptMode
    # "Practice test": page headings and cards; lower-cased (``noun``) in sentences and
    # in the LMS line item's label and comment ("Hydraulics: practice test").
    label: str
    # The name of the xAPI assessment activity ("Practice test: Hydraulics").
    statement_title: str
    # A test: a fixed form, answers can be changed and flagged, feedback and mastery wait
    # for the submit (after a confirm), its items are sealed everywhere while it is open,
    # and a placed link can grade it.
    graded: bool
    # Each answer's verdict, key and rationales straight away (and mastery moves with it).
    immediate_feedback: bool
    # The module's exam time limit (with the student's extra time) runs from the start.
    timed: bool
    # A rehearsal of the module's exam: its length, a pass/fail verdict against the pass
    # mark, and successive forms kept parallel (items of earlier ones last).
    exam: bool
    # No fixed form: one question at a time, chosen from the answers so far; every
    # answer is scored (an item missed twice counts twice).
    adaptive: bool
    # One lesson's checks: needs a lesson, each check is answered once, and the attempt
    # finishes itself on the last one.
    lesson_checks: bool
    planner: Planner
    # The length when nothing placed another (a practice test's 25), for a mode whose
    # length a placement may choose; None when the mode has no such length.
    default_size: int | None
    # Deep Linking: the ``activity`` custom parameter of a placed link, the placed
    # title's tail and the picker's description (``{module}``, ``{items}``,
    # ``{minutes}`` are filled in).
    link_kind: str
    link_title: str
    link_description: str
    # Deep Linking of one topic: the ``activity`` parameter of a link that places this
    # mode on one lesson (a mode of lesson checks) or one key activity (placement.py).
    # None for a mode that spans the module: a test's form is drawn across all its key
    # activities.
    topic_link_kind: str | None
    # Where open attempts of this mode come in the "Resume" cards (timed ones first).
    resume_rank: int
    # Has no end a student must reach, so one left idle (drill_idle_minutes) is closed by
    # the worker: its xAPI session gets its "terminated" (practice/idle.py).
    closes_when_idle: bool = False

    def size(self, exam_items: int, requested: int | None = None) -> int | None:
        """The attempt's length: the module's exam length for an exam, the requested (or
        default) size for a sized test, None for a mode without a fixed length."""
        if self.exam:
            return exam_items
        if self.default_size is not None:
            return requested or self.default_size
        return None


SPECS: dict[AttemptMode, ModeSpec] = {spec.mode: spec for spec in (
    ModeSpec(AttemptMode.LESSON, label="Lesson", statement_title="Lesson checks",
             graded=False, immediate_feedback=True, timed=False, exam=False, adaptive=False,
             lesson_checks=True, planner=plan_lesson_checks, default_size=None,
             link_kind="lessons", link_title="lessons",
             link_description="The {module} lessons with their checks.",
             topic_link_kind="lesson", resume_rank=2),
    ModeSpec(AttemptMode.DRILL, label="Drill", statement_title="Drill",
             graded=False, immediate_feedback=True, timed=False, exam=False, adaptive=True,
             lesson_checks=False, planner=plan_adaptive, default_size=None,
             link_kind="drill", link_title="drill",
             link_description="Questions with instant feedback, missed ones come back.",
             topic_link_kind="drill", resume_rank=3, closes_when_idle=True),
    ModeSpec(AttemptMode.PRACTICE, label="Practice test", statement_title="Practice test",
             graded=True, immediate_feedback=False, timed=False, exam=False, adaptive=False,
             lesson_checks=False, planner=plan_test_form, default_size=25,
             link_kind="practice", link_title="practice test",
             link_description="{items} questions across the module, feedback at the end.",
             topic_link_kind=None, resume_rank=1),
    ModeSpec(AttemptMode.MOCK, label="Mock exam", statement_title="Mock exam",
             graded=True, immediate_feedback=False, timed=True, exam=True, adaptive=False,
             lesson_checks=False, planner=plan_test_form, default_size=None,
             link_kind="mock", link_title="mock exam",
             link_description="{items} questions in {minutes} minutes, like the real exam.",
             topic_link_kind=None, resume_rank=0),
)}

# The tests (gradable; their open attempts seal their items), the exam rehearsals (kept
# as parallel forms) and the lesson checks, for queries over stored attempts.
GRADED_MODES = tuple(m for m, s in SPECS.items() if s.graded)
EXAM_MODES = tuple(m for m, s in SPECS.items() if s.exam)
LESSON_MODES = tuple(m for m, s in SPECS.items() if s.lesson_checks)
IDLE_CLOSED_MODES = tuple(m for m, s in SPECS.items() if s.closes_when_idle)


def one_of(words: list[str]) -> str:
    """"a, b or c": the modes in an error message."""
    return f"{', '.join(words[:-1])} or {words[-1]}" if len(words) > 1 else "".join(words)


# "lesson, drill, practice or mock" (the API's values) and "lesson, drill, practice test
# or mock exam" (the pages' names), in spec order.
VALUES_TEXT = one_of([m.value for m in SPECS])
LABELS_TEXT = one_of([s.label.lower() for s in SPECS.values()])


def spec(mode: AttemptMode | str) -> ModeSpec:
    """The spec of ``mode`` (a stored string works too); ValueError for an unknown one."""
    return SPECS[AttemptMode(mode)]


def label(mode: AttemptMode | str) -> str:
    """The mode's name for people ("Practice test"); an unknown value is shown as is."""
    try:
        return spec(mode).label
    except ValueError:
        return str(mode)


def noun(mode: AttemptMode | str) -> str:
    """The mode's name inside a sentence or a gradebook label ("practice test"); an
    unknown value is given back as is."""
    try:
        return spec(mode).label.lower()
    except ValueError:
        return str(mode)


def by_link_kind(kind: object) -> ModeSpec | None:
    """The mode a placed link's ``activity`` parameter names for a whole module, if any."""
    return next((s for s in SPECS.values() if s.link_kind == kind), None)


def by_topic_link_kind(kind: object) -> ModeSpec | None:
    """The mode a placed link's ``activity`` parameter names for one topic, if any."""
    return next((s for s in SPECS.values()
                 if s.topic_link_kind is not None and s.topic_link_kind == kind), None)
