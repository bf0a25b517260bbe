"""PracticeService: one public method per student action, one transaction each.

The caller owns the transaction (``with runtime.transaction() as session``); every method
leaves the session with the rows it changed plus the outbox rows the change causes, so a
commit records both or neither.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from random import Random
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from lti_tool.delivery import events
from lti_tool.models import (
    Attempt,
    AttemptMode,
    AttemptStatus,
    Enrollment,
    Mastery,
    Response,
)
from lti_tool.practice import catalog, grading, modes
from lti_tool.practice.errors import (
    AttemptClosedError,
    ConflictError,
    CurriculumError,
    InvalidRequestError,
    NotFoundError,
)
from lti_tool.practice.mastery import (
    ActivityMastery,
    Readiness,
    p_correct,
    readiness,
    standard_error,
    update_theta,
)
from lti_tool.practice.placement import Placement, link_placement
from lti_tool.practice.selection import (
    REVIEW_GAP,
    Exposure,
    ItemRef,
    Seen,
    next_drill_item,
)


@dataclass(frozen=True)
class OptionView:
    index: int
    text: str


@dataclass(frozen=True)
class ItemView:
    """An item as a student sees it before answering: no key, no rationales."""

    id: str
    position: int
    total: int | None
    stem: str
    figure: dict[str, Any] | None
    options: list[OptionView]
    chosen: int | None = None


@dataclass(frozen=True)
class Feedback:
    correct: bool
    chosen: int
    answer: int
    rationales: list[str]


@dataclass(frozen=True)
class AnswerResult:
    attempt_id: str
    item_id: str
    position: int
    recorded: bool  # False when this was a repeat of an answer already recorded
    feedback: Feedback | None  # immediate only in drills and lesson checks
    attempt_closed: bool = False
    next_item: ItemView | None = None  # only when asked for (``with_next``)


@dataclass(frozen=True)
class ItemReview:
    """An item after answering. ``withheld``: the item is also in the student's open
    practice test or mock exam, so its key, rationales and the verdict wait until that is
    submitted (options carry their text only)."""

    id: str
    key_activity_id: str
    stem: str
    figure: dict[str, Any] | None
    options: list[dict[str, Any]]
    chosen: int | None
    correct: bool | None
    withheld: bool = False


@dataclass(frozen=True)
class ActivityScore:
    """``correct`` is None while a test or exam is open: a count that moves when an answer
    is changed would tell the student which answer is right."""

    key_activity_id: str
    title: str
    correct: int | None
    total: int

    @property
    def percent(self) -> float | None:
        return 100.0 * self.correct / self.total if self.correct is not None and self.total \
            else None


@dataclass(frozen=True)
class AttemptResult:
    attempt_id: str
    mode: str
    status: str
    module_id: str
    score_raw: int | None
    score_max: int | None
    percent: float | None
    passed: bool | None
    started_at: datetime
    submitted_at: datetime | None
    deadline_at: datetime | None
    auto_submitted: bool
    by_activity: list[ActivityScore] = field(default_factory=list)
    review: list[ItemReview] = field(default_factory=list)

    @property
    def minutes_used(self) -> int | None:
        """Whole minutes from start to submit (at least 1 once submitted)."""
        if self.submitted_at is None:
            return None
        return max(1, round((self.submitted_at - self.started_at).total_seconds() / 60))

    @property
    def minutes_allowed(self) -> int | None:
        """The time limit of a timed exam, in minutes."""
        if self.deadline_at is None:
            return None
        return round((self.deadline_at - self.started_at).total_seconds() / 60)

    @property
    def by_need(self) -> list[ActivityScore]:
        """Topics lowest score first (most to gain first), ties by more questions."""
        return sorted(self.by_activity, key=lambda s: (
            s.percent if s.percent is not None else 101.0, -s.total, s.title))

    def weakest(self, limit: int = 3) -> list[ActivityScore]:
        """The topics to practise next: the lowest scores of this attempt, leaving out
        topics answered all right; none while the scores are held back."""
        return [s for s in self.by_need if s.percent is not None and s.percent < 100][:limit]


@dataclass(frozen=True)
class Sitting:
    """An open attempt as the "Resume" card and the page before submitting show it."""

    attempt_id: str
    mode: str
    module_id: str
    key_activity_id: str | None
    lesson_id: str | None
    answered: int
    total: int | None  # None for a drill (it has no fixed length)
    seconds_left: int | None  # None when untimed
    flagged: list[int]


@dataclass(frozen=True)
class StartFacts:
    """The start screen of a practice test or mock exam, before the clock starts."""

    mode: str
    module_id: str
    items: int
    minutes: int | None  # the student's limit, extra time applied; None when untimed
    base_minutes: int | None
    multiplier: float
    graded: bool  # this start counts toward the grade of the link launched from
    pass_percent: float | None
    open_attempt: Sitting | None  # starting would resume this one


@dataclass(frozen=True)
class MasteryMap:
    activities: list[ActivityMastery]
    readiness: list[Readiness]


# The answer path runs these on every question. Built once: composing a select costs
# more than SQLite takes to run it (bench/answers.py measures the path).
_RECENT_IN_ATTEMPT = (select(Response.item_id, Response.position)
                      .where(Response.attempt_id == bindparam("attempt_id"))
                      .order_by(Response.position.desc()).limit(bindparam("n")))
_LAST_PER_ITEM = (select(Response.item_id, func.max(Response.id).label("last_id"),
                         func.count().label("times"))
                  .join(Attempt, Attempt.id == Response.attempt_id)
                  .where(Attempt.user_id == bindparam("user_id"),
                         Attempt.module_id == bindparam("module_id"))
                  .group_by(Response.item_id).subquery())
_HISTORY = (select(Response.item_id, Response.correct, Response.answered_at,
                   _LAST_PER_ITEM.c.times)
            .join(_LAST_PER_ITEM, Response.id == _LAST_PER_ITEM.c.last_id))
# An answer's attempt, the response already recorded under its idempotency key (a
# double submit), the student's mastery row for the item's key activity and the attempt's
# last answer position: one round trip.
_FOR_ANSWER = (
    select(Attempt,
           select(Response.id).where(Response.attempt_id == Attempt.id,
                                     Response.idempotency_key == bindparam("key"))
           .scalar_subquery().label("repeat_id"),
           Mastery,
           select(func.max(Response.position)).where(Response.attempt_id == Attempt.id)
           .scalar_subquery().label("last_position"))
    .outerjoin(Mastery, and_(Mastery.user_id == Attempt.user_id,
                             Mastery.key_activity_id == bindparam("key_activity_id")))
    .where(Attempt.id == bindparam("attempt_id")))


class PracticeService:
    def __init__(self, session: Session, clock: Callable[[], datetime], rng: Random) -> None:
        self.session = session
        self.clock = clock
        self.rng = rng
        # The session's identity map holds rows weakly: an answer followed by "what next"
        # in one transaction would load the attempt twice. Keep what this unit of work read.
        self._loaded: dict[str, Attempt] = {}
        # An attempt's responses, read once per unit of work (a submit scores, updates
        # mastery, reports progress and shows results from the same rows).
        self._responses_of: dict[str, list[Response]] = {}

    # -- reading helpers ----------------------------------------------------------------
    def _attempt(self, attempt_id: str, user_id: int) -> Attempt:
        attempt = self._loaded.get(attempt_id) or self.session.get(Attempt, attempt_id)
        if attempt is not None:
            self._loaded[attempt_id] = attempt
        # Someone else's attempt is "not found": never confirm that an id exists.
        if attempt is None or attempt.user_id != user_id:
            raise NotFoundError("No such attempt.")
        return attempt

    def _module(self, module_id: str) -> catalog.CachedModule:
        module = catalog.module(self.session, module_id)
        if module is None:
            raise NotFoundError(f"No module {module_id!r}.")
        return module

    def _activities(self, module_id: str) -> list[tuple[str, str]]:
        """(id, title) of the module's live key activities, in order (cached)."""
        return list(catalog.outline(self.session).activities.get(module_id, []))

    def _pass_percent(self, module_id: str) -> float:
        """The module's pass mark, from the curriculum tables. The shipped blueprint gives
        every module one (content checks refuse a release without), so a missing mark
        means the content was loaded by an older release: say so, never guess a mark."""
        mark = self._module(module_id).pass_percent
        if mark is None:
            raise CurriculumError(
                f"Module {module_id!r} has no pass mark in the database; load the current "
                "content with `cpt-lti init`.")
        return float(mark)

    def _weights(self, module_id: str) -> dict[str, float]:
        """Each live key activity's share of the module's exam (curriculum/weights.py)."""
        return {ka.id: ka.weight for ka in catalog.live_activities(self.session, module_id)
                if ka.weight is not None}

    def _exposure(self, user_id: int, module_id: str, mode: AttemptMode
                  ) -> dict[str, Exposure]:
        """How the person has met each item of the module: answered anywhere, or put in
        front of them by an earlier practice test or mock exam (answered or not). For a
        mock exam, items of earlier mock exams come last, so successive mocks are parallel
        forms even after drills and practice tests used up the unseen items."""
        last: dict[str, float] = {}
        in_mock: set[str] = set()
        for item_id, _correct, at, _times in self.session.execute(
                _HISTORY, {"user_id": user_id, "module_id": module_id}):
            last[item_id] = max(last.get(item_id, 0.0), at.timestamp())
        for item_ids, attempt_mode, started in self.session.execute(
                select(Attempt.item_ids, Attempt.mode, Attempt.started_at).where(
                    Attempt.user_id == user_id, Attempt.module_id == module_id,
                    Attempt.mode.in_(modes.GRADED_MODES))):
            for item_id in item_ids or []:
                last[item_id] = max(last.get(item_id, 0.0), started.timestamp())
                if attempt_mode in modes.EXAM_MODES:
                    in_mock.add(item_id)
        later = in_mock if modes.spec(mode).exam else set()
        return {item_id: Exposure(2 if item_id in later else 1, at)
                for item_id, at in last.items()}

    def _item_refs(self, module_id: str, key_activity_id: str | None) -> list[ItemRef]:
        return catalog.refs(self.session, module_id, key_activity_id)

    def _get_item(self, item_id: str) -> catalog.CachedItem | None:
        return catalog.items(self.session).get(item_id)

    def _responses(self, attempt: Attempt) -> list[Response]:
        """In position order; answers recorded by this unit of work are appended."""
        found = self._responses_of.get(attempt.id)
        if found is None:
            found = list(self.session.scalars(select(Response).where(
                Response.attempt_id == attempt.id).order_by(Response.position)))
            self._responses_of[attempt.id] = found
        return found

    def _final_answers(self, attempt: Attempt) -> dict[str, Response]:
        """The last answer to each item (tests and exams let you change your mind)."""
        final: dict[str, Response] = {}
        for response in self._responses(attempt):
            final[response.item_id] = response
        return final

    def _sealed(self, user_id: int, except_attempt: str | None = None) -> set[str]:
        """Items of the student's open practice tests and mock exams: no feedback, key or
        rationale is given for them anywhere until that attempt is submitted (an open exam
        whose time ran out is submitted here and seals nothing)."""
        sealed: set[str] = set()
        for attempt in self.session.scalars(select(Attempt).where(
                Attempt.user_id == user_id, Attempt.status == AttemptStatus.OPEN,
                Attempt.mode.in_(modes.GRADED_MODES))):
            if attempt.id != except_attempt and not self._expire_if_due(attempt):
                sealed.update(attempt.item_ids)
        return sealed

    # -- time ------------------------------------------------------------------------------
    def _expire_if_due(self, attempt: Attempt) -> bool:
        """Auto-submit a timed attempt whose deadline passed (server time decides)."""
        if (attempt.status == AttemptStatus.OPEN and attempt.deadline_at is not None
                and self.clock() >= attempt.deadline_at):
            self._finish(attempt, auto=True)
            return True
        return False

    def _require_open(self, attempt: Attempt) -> None:
        """AttemptClosedError unless the attempt is open; a timed one past its deadline is
        submitted first (server time decides)."""
        if self._expire_if_due(attempt) or attempt.status != AttemptStatus.OPEN:
            raise AttemptClosedError("This attempt is finished.")

    # -- actions ---------------------------------------------------------------------------
    def start(self, user_id: int, mode: AttemptMode | str, module_id: str, *,
              course_id: int | None = None, resource_link_id: int | None = None,
              key_activity_id: str | None = None, lesson_id: str | None = None,
              size: int | None = None, time_multiplier: float | None = None) -> Attempt:
        """Start an attempt, or resume the open one for the same activity (a relaunch).

        Timed exams get the student's extra time (set by the instructor for the course)
        unless a multiplier is given. ``resource_link_id`` is the link the student
        launched from; the attempt counts toward that link's grade only when it is exactly
        the activity the link placed (see placement.py).
        """
        mode = AttemptMode(mode)
        spec = modes.spec(mode)
        module = self._module(module_id)
        size = spec.size(module.exam_items, size)
        if key_activity_id is not None:
            ka = catalog.key_activity(self.session, key_activity_id)
            if ka is None or ka.module_id != module_id:
                raise NotFoundError(f"No key activity {key_activity_id!r} in {module_id}.")
        lesson = None
        if spec.lesson_checks:
            lesson = catalog.lesson(self.session, lesson_id) if lesson_id else None
            if lesson is None or lesson.module_id != module_id or lesson.retired:
                raise NotFoundError(f"No lesson {lesson_id!r} in {module_id}.")
        graded = self._counts_for(link_placement(self.session, resource_link_id), mode,
                                  module_id, key_activity_id, lesson_id, size)
        open_key = self._open_key(mode, module_id, key_activity_id, lesson_id, course_id,
                                  resource_link_id if graded else None, size)
        existing = self._open_attempt(user_id, open_key)
        if existing is not None:
            return existing
        now = self.clock()
        if time_multiplier is None:
            time_multiplier = self.time_multiplier(user_id, course_id)
        activities = [ka_id for ka_id, _ in self._activities(module_id)]
        if key_activity_id:
            activities = [key_activity_id]
        refs = self._item_refs(module_id, key_activity_id)
        deadline = (now + timedelta(minutes=module.exam_minutes * time_multiplier)
                    if spec.timed else None)
        planned = spec.planner(modes.PlanRequest(
            refs=refs, activities=activities, size=size, rng=self.rng,
            weights=lambda: self._weights(module_id),
            exposure=lambda: self._exposure(user_id, module_id, mode),
            lesson_checks=list(lesson.checks) if lesson is not None else []))
        # A bank too small for the placed size cannot give the graded activity.
        graded = graded and len(planned) == size
        attempt = Attempt(
            id=str(uuid.uuid4()), user_id=user_id, course_id=course_id,
            resource_link_id=resource_link_id, mode=mode, status=AttemptStatus.OPEN,
            module_id=module_id, key_activity_id=key_activity_id, lesson_id=lesson_id,
            open_key=open_key, item_ids=planned, time_multiplier=time_multiplier,
            counts_for_grade=graded,
            started_at=now, deadline_at=deadline, updated_at=now)
        self.session.add(attempt)
        try:
            self.session.flush()
        except IntegrityError as exc:  # the same start from another tab won the race
            raise ConflictError("This activity was just started in another window.") from exc
        queued: list[events.LearningEvent] = [events.Initialized(
            user_id=user_id, attempt_id=attempt.id, mode=mode.value, module_id=module_id,
            key_activity_id=key_activity_id, lesson_id=lesson_id, course_id=course_id,
            resource_link_id=resource_link_id)]
        if lesson is not None:
            queued.append(events.Experienced(
                user_id=user_id, attempt_id=attempt.id, lesson_id=lesson.id,
                module_id=module_id, key_activity_id=lesson.key_activity_id,
                course_id=course_id))
        events.queue(self.session, now, *queued)
        return attempt

    @staticmethod
    def _open_key(mode: AttemptMode, module_id: str, key_activity_id: str | None,
                  lesson_id: str | None, course_id: int | None, graded_link: int | None,
                  size: int | None) -> str:
        """The one open attempt per activity and person: a relaunch resumes it."""
        scope = lesson_id or key_activity_id or "-"
        open_key = f"{mode.value}:{module_id}:{scope}:{course_id or '-'}"
        if graded_link is not None:  # the link's graded attempt is resumed apart
            open_key += f":link{graded_link}"
        elif modes.spec(mode).default_size is not None:  # each size is its own activity
            open_key += f":size{size}"
        return open_key

    def _open_attempt(self, user_id: int, open_key: str) -> Attempt | None:
        """The open attempt under ``open_key``; a timed one past its deadline is submitted
        (server time decides) and is no longer open."""
        existing = self.session.scalars(select(Attempt).where(
            Attempt.user_id == user_id, Attempt.open_key == open_key)).first()
        if existing is None:
            return None
        if self._expire_if_due(existing):
            self.session.flush()
            return None
        return existing

    def time_multiplier(self, user_id: int, course_id: int | None) -> float:
        """The student's extra time in this course (set by the instructor), 1.0 if none."""
        if course_id is None:
            return 1.0
        enrollment = self.session.scalars(select(Enrollment).where(
            Enrollment.course_id == course_id, Enrollment.user_id == user_id)).first()
        return enrollment.time_multiplier if enrollment else 1.0

    def start_facts(self, user_id: int, mode: AttemptMode | str, module_id: str, *,
                    course_id: int | None = None, resource_link_id: int | None = None,
                    size: int | None = None) -> StartFacts:
        """What the start screen tells a student before the clock starts, or the open
        attempt that starting would resume. Creates nothing."""
        mode = AttemptMode(mode)
        spec = modes.spec(mode)
        if not spec.graded:
            raise InvalidRequestError("Only practice tests and mock exams have a start screen.")
        module = self._module(module_id)
        size = spec.size(module.exam_items, size)
        assert size is not None
        graded = self._counts_for(link_placement(self.session, resource_link_id), mode,
                                  module_id, None, None, size)
        existing = self._open_attempt(user_id, self._open_key(
            mode, module_id, None, None, course_id, resource_link_id if graded else None,
            size))
        multiplier = self.time_multiplier(user_id, course_id)
        minutes = round(module.exam_minutes * multiplier) if spec.timed else None
        return StartFacts(
            mode=mode.value, module_id=module_id, items=size, minutes=minutes,
            base_minutes=module.exam_minutes if spec.timed else None,
            multiplier=multiplier, graded=graded,
            pass_percent=self._pass_percent(module_id) if spec.exam else None,
            open_attempt=self._sitting(existing) if existing is not None else None)

    def _sitting(self, attempt: Attempt) -> Sitting:
        adaptive = modes.spec(attempt.mode).adaptive
        answered = (len(self._final_answers(attempt)) if not adaptive
                    else len(self._responses(attempt)))
        left = (max(0, int((attempt.deadline_at - self.clock()).total_seconds()))
                if attempt.deadline_at is not None else None)
        return Sitting(attempt.id, attempt.mode.value, attempt.module_id,
                       attempt.key_activity_id, attempt.lesson_id, answered,
                       len(attempt.item_ids) if not adaptive else None,
                       left, sorted(attempt.flagged or []))

    def open_sittings(self, user_id: int, course_id: int | None,
                      module_id: str | None = None) -> list[Sitting]:
        """The student's open attempts in this course (the "Resume" cards), timed ones
        first and soonest deadline first. Timed ones past their deadline are submitted
        here rather than offered."""
        query = select(Attempt).where(Attempt.user_id == user_id,
                                      Attempt.status == AttemptStatus.OPEN)
        query = query.where(Attempt.course_id == course_id if course_id is not None
                            else Attempt.course_id.is_(None))
        if module_id is not None:
            query = query.where(Attempt.module_id == module_id)
        sittings = []
        for attempt in self.session.scalars(query.order_by(Attempt.started_at)):
            if self._expire_if_due(attempt):
                continue
            sittings.append(self._sitting(attempt))
        self.session.flush()
        return sorted(sittings, key=lambda s: (modes.spec(s.mode).resume_rank,
                                               s.seconds_left or 0))

    def sitting(self, attempt_id: str, user_id: int) -> Sitting:
        """One open attempt's state for the page before submitting: answered, flagged and
        time left. A finished attempt raises AttemptClosedError."""
        attempt = self._attempt(attempt_id, user_id)
        self._require_open(attempt)
        return self._sitting(attempt)

    def sitting_row(self, attempt_id: str, user_id: int) -> Attempt:
        """The student's own attempt (404 for anyone else's), for a page that branches on
        its mode before acting."""
        return self._attempt(attempt_id, user_id)

    def answered_positions(self, attempt_id: str, user_id: int) -> set[int]:
        """Positions of a test or exam that have an answer (for the question navigator)."""
        attempt = self._attempt(attempt_id, user_id)
        final = self._final_answers(attempt)
        return {n for n, item_id in enumerate(attempt.item_ids, 1) if item_id in final}

    def set_flag(self, attempt_id: str, user_id: int, position: int, flagged: bool) -> None:
        """Flag a question of an open test or exam for review before submitting (or clear
        the flag). Flags only help the student find questions again; they are not scored."""
        attempt = self._attempt(attempt_id, user_id)
        self._require_open(attempt)
        if not modes.spec(attempt.mode).graded:
            raise InvalidRequestError("Only tests and exams have flags.")
        if not 1 <= position <= len(attempt.item_ids):
            raise InvalidRequestError(f"Position must be between 1 and {len(attempt.item_ids)}.")
        marks = set(attempt.flagged or [])
        (marks.add if flagged else marks.discard)(position)
        if sorted(marks) != sorted(attempt.flagged or []):
            attempt.flagged = sorted(marks)
            attempt.updated_at = self.clock()
            try:
                self.session.flush()
            except StaleDataError as exc:
                raise ConflictError("This attempt changed in another window; reload it."
                                    ) from exc

    @staticmethod
    def _counts_for(placed: Placement | None, mode: AttemptMode, module_id: str,
                    key_activity_id: str | None, lesson_id: str | None,
                    size: int | None) -> bool:
        """Whether an attempt so started is exactly the placed activity."""
        return (placed is not None and placed.mode == mode and placed.module_id == module_id
                and key_activity_id is None and lesson_id is None and placed.size == size)

    def _item_view(self, item: catalog.CachedItem, position: int, total: int | None,
                   chosen: int | None) -> ItemView:
        return ItemView(id=item.id, position=position, total=total, stem=item.stem,
                        figure=item.figure, chosen=chosen,
                        options=[OptionView(i, o["text"]) for i, o in enumerate(item.options)])

    def item(self, attempt_id: str, user_id: int, position: int | None = None
             ) -> ItemView | None:
        """The item to show: the first unanswered one, or the one at ``position`` (tests
        and exams can be navigated). None when there is nothing left to answer."""
        attempt = self._attempt(attempt_id, user_id)
        self._require_open(attempt)
        if modes.spec(attempt.mode).adaptive:
            answered, count = self._recent(attempt)
            sealed = self._sealed(user_id)
            shown = self._get_item(attempt.served_item_id) if attempt.served_item_id else None
            if shown is not None and shown.id not in sealed:  # a reload: the same question
                return self._item_view(shown, count + 1, None, None)
            view = self._drill_view(attempt, self._history(user_id, attempt.module_id),
                                    answered, count, sealed)
            self._serve(attempt, view)
            return view
        return self._plan_view(attempt, self._final_answers(attempt), position)

    def _serve(self, attempt: Attempt, view: ItemView | None) -> None:
        """Remember the drill question on screen: the only one it takes an answer for."""
        served = view.id if view is not None else None
        if attempt.served_item_id != served:
            attempt.served_item_id = served
            # Showing a question is activity: the answer's time is counted from here,
            # and a drill is idle (practice/idle.py) only when nothing happens.
            attempt.updated_at = self.clock()
            try:
                self.session.flush()
            except StaleDataError as exc:
                raise ConflictError("This drill changed in another window; reload it.") from exc

    def _plan_view(self, attempt: Attempt, final: dict[str, Response],
                   position: int | None) -> ItemView | None:
        plan = attempt.item_ids
        if position is None:
            position = next((n for n, item_id in enumerate(plan, 1) if item_id not in final),
                            None)
            if position is None:
                return None
        if not 1 <= position <= len(plan):
            raise InvalidRequestError(f"Position must be between 1 and {len(plan)}.")
        item = self._get_item(plan[position - 1])
        assert item is not None
        answered = final.get(item.id)
        return self._item_view(item, position, len(plan), answered.choice if answered else None)

    def _recent(self, attempt: Attempt) -> tuple[list[str], int]:
        """The drill's last few items, oldest first, and how many it has had in all."""
        recent = self.session.execute(_RECENT_IN_ATTEMPT, {
            "attempt_id": attempt.id, "n": REVIEW_GAP}).all()
        return [item_id for item_id, _ in reversed(recent)], (
            recent[0].position if recent else 0)

    def _drill_view(self, attempt: Attempt, history: dict[str, Seen], answered: list[str],
                    count: int, sealed: set[str]) -> ItemView | None:
        refs = [ref for ref in self._item_refs(attempt.module_id, attempt.key_activity_id)
                if ref.id not in sealed]
        item_id = next_drill_item(refs, history, answered, self.rng)
        if item_id is None:
            return None
        item = self._get_item(item_id)
        assert item is not None
        return self._item_view(item, count + 1, None, None)

    def _history(self, user_id: int, module_id: str) -> dict[str, Seen]:
        """The person's last answer to each item of the module, aggregated by the database:
        one row per item seen rather than one per answer ever given (a busy student's
        history is thousands of rows, read on every drill question)."""
        rows = self.session.execute(_HISTORY, {"user_id": user_id, "module_id": module_id})
        return {item_id: Seen(last_correct=correct, last_at=at, times=times)
                for item_id, correct, at, times in rows}

    def answer(self, attempt_id: str, user_id: int, item_id: str, choice: int,
               idempotency_key: str, duration_ms: int | None = None, *,
               with_next: bool = False) -> AnswerResult:
        """Record one answer. ``with_next`` also works out the item to show next (the
        page's one round trip per question), for a first recording only."""
        item = self._get_item(item_id)
        found = self.session.execute(_FOR_ANSWER, {
            "attempt_id": attempt_id, "key": idempotency_key,
            "key_activity_id": item.key_activity_id if item else ""}).first()
        if found is None or found[0].user_id != user_id:
            raise NotFoundError("No such attempt.")
        attempt, repeat_id, known_mastery, last_position = found
        self._loaded[attempt.id] = attempt
        spec = modes.spec(attempt.mode)
        if repeat_id is not None:
            repeat = self._repeat(attempt, repeat_id)
            sealed = self._sealed(user_id, attempt.id) if spec.immediate_feedback \
                else set()
            return self._answer_result(attempt, repeat, recorded=False, sealed=sealed)
        if self._expire_if_due(attempt) or attempt.status != AttemptStatus.OPEN:
            raise AttemptClosedError("This attempt is finished; it takes no more answers.")
        if item is None:
            raise NotFoundError(f"No item {item_id!r}.")
        if spec.adaptive:
            # Only the question the drill put on screen: otherwise a drill would give the
            # key of any item id a student names (an open exam's included).
            if item_id != attempt.served_item_id:
                raise InvalidRequestError("That is not the drill question on screen; reload "
                                          "the drill to see it.")
        elif item_id not in attempt.item_ids:
            raise InvalidRequestError("That item is not part of this attempt.")
        if not 0 <= choice < len(item.options):
            raise InvalidRequestError("Choose one of the four options.")
        sealed: set[str] = set()
        if spec.immediate_feedback:
            sealed = self._sealed(user_id, attempt.id)
            if item.id in sealed:
                raise ConflictError("This question is also in your open practice test or "
                                    "mock exam. Submit that first; then answer it here to see "
                                    "the feedback.")
        final = self._final_answers(attempt) if not spec.adaptive else {}
        if spec.lesson_checks and item_id in final:
            raise InvalidRequestError("You already answered this check.")
        now = self.clock()
        if duration_ms is None:
            duration_ms = self._time_on_item(attempt, now)
        correct = bool(item.options[choice].get("correct"))
        upcoming: ItemView | None = None
        position = (last_position or 0) + 1
        if spec.adaptive:
            if with_next:
                answered, _ = self._recent(attempt)
                # Worked out before the writes, with this answer folded in, so SQLite's
                # single write lock is held only for the inserts below.
                history = self._history(user_id, attempt.module_id)
                before = history.get(item.id)
                history[item.id] = Seen(last_correct=correct, last_at=now,
                                        times=(before.times if before else 0) + 1)
                upcoming = self._drill_view(attempt, history,
                                            (answered + [item.id])[-REVIEW_GAP:], position,
                                            sealed)
            attempt.served_item_id = upcoming.id if upcoming is not None else None
        mastery = None
        if spec.immediate_feedback:
            mastery = known_mastery or self._new_mastery(user_id, item.key_activity_id, now)
        response = Response(attempt_id=attempt.id, item_id=item.id, item_revision=item.revision,
                            position=position, choice=choice, correct=correct,
                            idempotency_key=idempotency_key, answered_at=now,
                            duration_ms=duration_ms)
        if mastery is not None:  # before the flush: a new row is one INSERT, not two writes
            self._apply_mastery(mastery, item, correct, now)
        self.session.add(response)
        if attempt.id in self._responses_of:
            self._responses_of[attempt.id].append(response)
        attempt.updated_at = now
        # Always an UPDATE (even when the clock has not moved), so the version is bumped
        # and a tab that read the attempt before this write gets a conflict.
        flag_modified(attempt, "updated_at")
        try:
            self.session.flush()
        except (IntegrityError, StaleDataError) as exc:
            raise ConflictError("This attempt changed in another window; reload it.") from exc
        events.queue(self.session, now, events.Answered(
            user_id=user_id, attempt_id=attempt.id, item_id=item.id, choice=choice,
            correct=correct, duration_ms=duration_ms, mode=attempt.mode.value,
            module_id=attempt.module_id, key_activity_id=item.key_activity_id,
            course_id=attempt.course_id))
        closed = False
        if not spec.adaptive:
            final[item.id] = response
            if spec.lesson_checks and set(attempt.item_ids) <= set(final):
                self._finish(attempt, auto=False)
                closed = True
            elif with_next:
                upcoming = self._plan_view(attempt, final, None)
        return replace(self._answer_result(attempt, response, recorded=True, closed=closed),
                       next_item=upcoming)

    @staticmethod
    def _time_on_item(attempt: Attempt, now: datetime) -> int:
        """The time an answer took when the page did not measure it: since the attempt's
        last activity (its start, a drill question shown, the previous answer or a flag):
        when the item was put on screen in a drill or a lesson, near enough in a test."""
        return max(0, round((now - attempt.updated_at).total_seconds() * 1000))

    def _repeat(self, attempt: Attempt, repeat_id: int) -> Response:
        repeat = self.session.get(Response, repeat_id)
        assert repeat is not None
        return repeat

    def _answer_result(self, attempt: Attempt, response: Response, *, recorded: bool,
                       closed: bool = False, sealed: set[str] | None = None) -> AnswerResult:
        feedback = None
        if (modes.spec(attempt.mode).immediate_feedback
                and response.item_id not in (sealed or set())):
            item = self._get_item(response.item_id)
            assert item is not None
            answer = next(i for i, o in enumerate(item.options) if o.get("correct"))
            feedback = Feedback(correct=response.correct, chosen=response.choice, answer=answer,
                                rationales=[o["rationale"] for o in item.options])
        return AnswerResult(attempt.id, response.item_id, response.position, recorded,
                            feedback, attempt_closed=closed or attempt.status !=
                            AttemptStatus.OPEN)

    def _new_mastery(self, user_id: int, key_activity_id: str, now: datetime) -> Mastery:
        row = Mastery(user_id=user_id, key_activity_id=key_activity_id, theta=0.0,
                      evidence=0, correct=0, updated_at=now)
        self.session.add(row)
        return row

    def _mastery_rows(self, user_id: int, key_activity_ids: set[str],
                      now: datetime) -> dict[str, Mastery]:
        """The student's rows for these key activities in one query, new ones added."""
        rows = {m.key_activity_id: m for m in self.session.scalars(select(Mastery).where(
            Mastery.user_id == user_id, Mastery.key_activity_id.in_(sorted(key_activity_ids))))}
        for ka_id in sorted(key_activity_ids - rows.keys()):
            rows[ka_id] = self._new_mastery(user_id, ka_id, now)
        return rows

    @staticmethod
    def _apply_mastery(row: Mastery, item: catalog.CachedItem, correct: bool,
                       now: datetime) -> None:
        row.theta = update_theta(row.theta, row.evidence, item.difficulty, correct)
        row.evidence += 1
        row.correct += int(correct)
        row.updated_at = now

    def submit(self, attempt_id: str, user_id: int) -> AttemptResult:
        self.finish(attempt_id, user_id)
        return self.results(attempt_id, user_id)

    def finish(self, attempt_id: str, user_id: int) -> None:
        """Submit for scoring (a no-op on a finished attempt); for callers that show the
        results on another request."""
        attempt = self._attempt(attempt_id, user_id)
        if not self._expire_if_due(attempt) and attempt.status == AttemptStatus.OPEN:
            self._finish(attempt, auto=False)

    def _finish(self, attempt: Attempt, *, auto: bool) -> None:
        now = self.clock()
        # A timed-out exam is submitted as of its deadline, not as of when we noticed.
        finished_at = min(now, attempt.deadline_at) if auto and attempt.deadline_at else now
        final = self._final_answers(attempt)
        spec = modes.spec(attempt.mode)
        if spec.adaptive:
            scored = list(self._responses(attempt))
            raw, total = sum(r.correct for r in scored), len(scored)
        else:
            raw = sum(1 for item_id in attempt.item_ids if item_id in final
                      and final[item_id].correct)
            total = len(attempt.item_ids)
        mastery: dict[str, Mastery] | None = None
        if not spec.immediate_feedback:  # mastery moves when the student learns the verdict
            answered = [(self._get_item(item_id), response) for item_id, response in
                        final.items()]
            mastery = self._mastery_rows(attempt.user_id, {
                item.key_activity_id for item, _ in answered if item is not None}, now)
            for item, response in answered:
                assert item is not None
                self._apply_mastery(mastery[item.key_activity_id], item, response.correct, now)
        attempt.status = AttemptStatus.SUBMITTED
        attempt.open_key = None
        attempt.submitted_at = finished_at
        attempt.auto_submitted = auto
        attempt.score_raw, attempt.score_max = raw, total
        attempt.updated_at = now
        try:
            self.session.flush()
        except StaleDataError as exc:
            raise ConflictError("This attempt changed in another window; reload it.") from exc
        module = self._module(attempt.module_id)
        passed = None
        if spec.exam and module.exam_items and total:
            pass_mark = self._pass_percent(module.id)
            passed = raw * 100 >= pass_mark * total
        common: dict[str, Any] = dict(
            user_id=attempt.user_id, attempt_id=attempt.id, mode=attempt.mode.value,
            module_id=attempt.module_id, key_activity_id=attempt.key_activity_id,
            lesson_id=attempt.lesson_id, course_id=attempt.course_id,
            score_raw=raw, score_max=total,
            duration_seconds=round((finished_at - attempt.started_at).total_seconds(), 2))
        queued: list[events.LearningEvent] = [events.Completed(**common)]
        if passed is not None:
            queued.append(events.Passed(**common) if passed else events.Failed(**common))
        queued += self._progress_events(attempt, mastery)
        queued.append(events.Terminated(**common))
        events.queue(self.session, now, *queued)
        if attempt.counts_for_grade and attempt.resource_link_id is not None:
            grading.queue_link_score(self.session, now, attempt.resource_link_id,
                                     attempt.user_id)

    def _progress_events(self, attempt: Attempt, mastery: dict[str, Mastery] | None
                         ) -> list[events.Progressed]:
        """One "progressed" event per key activity the attempt gave evidence on, carrying
        the mastery estimate as it stands after the attempt (for analytics dashboards).
        ``mastery``: the rows the attempt just updated, when it did (tests and exams)."""
        touched = set()
        for response in self._responses(attempt):
            item = self._get_item(response.item_id)
            if item is not None:
                touched.add(item.key_activity_id)
        if not touched:
            return []
        if mastery is None:
            mastery = {m.key_activity_id: m for m in self.session.scalars(select(Mastery).where(
                Mastery.user_id == attempt.user_id,
                Mastery.key_activity_id.in_(sorted(touched))))}
        return [events.Progressed(
            user_id=attempt.user_id, attempt_id=attempt.id, mode=attempt.mode.value,
            module_id=attempt.module_id, key_activity_id=row.key_activity_id,
            course_id=attempt.course_id, estimate=round(p_correct(row.theta, 2), 4),
            evidence=row.evidence)
            for row in (mastery[ka_id] for ka_id in sorted(touched) if ka_id in mastery)]

    def results(self, attempt_id: str, user_id: int, *, reviewer: bool = False
                ) -> AttemptResult:
        """Scores by key activity; the item-by-item review once the attempt is finished
        (drills and lessons show the items answered so far, never one not yet answered).
        A student's review withholds the items of their open tests and exams; a
        ``reviewer`` (their instructor) sees everything."""
        attempt = self._attempt(attempt_id, user_id)
        self._expire_if_due(attempt)
        finished = attempt.status == AttemptStatus.SUBMITTED
        spec = modes.spec(attempt.mode)
        show_review = finished or spec.immediate_feedback
        sealed = (self._sealed(user_id, attempt.id) if show_review and not reviewer
                  else set())
        final = self._final_answers(attempt)
        item_ids = (list(dict.fromkeys(r.item_id for r in self._responses(attempt)))
                    if spec.adaptive else list(attempt.item_ids))
        cached = catalog.items(self.session)
        items = {item_id: cached[item_id] for item_id in item_ids}
        titles = dict(self._activities(attempt.module_id))
        per: dict[str, list[int]] = {}
        if spec.adaptive:
            # A drill scores every answer (an item missed twice counts twice), so the topic
            # rows count every answer too and add up to the total.
            for response in self._responses(attempt):
                tally = per.setdefault(items[response.item_id].key_activity_id, [0, 0])
                tally[0] += int(response.correct)
                tally[1] += 1
        review = []
        for item_id in item_ids:
            item = items[item_id]
            response = final.get(item_id)
            correct = bool(response and response.correct)
            if not spec.adaptive:
                tally = per.setdefault(item.key_activity_id, [0, 0])
                tally[0] += int(correct)
                tally[1] += 1
            if not show_review or (response is None and not finished):
                continue
            if item.id in sealed:
                review.append(ItemReview(item.id, item.key_activity_id, item.stem, item.figure,
                                         [{"text": o["text"]} for o in item.options],
                                         response.choice if response else None, None,
                                         withheld=True))
            else:
                review.append(ItemReview(item.id, item.key_activity_id, item.stem, item.figure,
                                         list(item.options),
                                         response.choice if response else None, correct))
        by_activity = [ActivityScore(ka, titles.get(ka, ka), c if show_review else None, t)
                       for ka, (c, t) in per.items()]
        percent = (100.0 * attempt.score_raw / attempt.score_max
                   if finished and attempt.score_max else None)
        passed = None
        if finished and spec.exam and percent is not None:
            passed = percent >= self._pass_percent(attempt.module_id)
        return AttemptResult(
            attempt.id, attempt.mode.value, attempt.status.value, attempt.module_id,
            attempt.score_raw if finished else None, attempt.score_max if finished else None,
            percent, passed, attempt.started_at, attempt.submitted_at, attempt.deadline_at,
            attempt.auto_submitted, by_activity, review)

    def mastery(self, user_id: int, rows: dict[str, Mastery] | None = None) -> MasteryMap:
        """``rows``: the learner's mastery rows by key activity, when the caller read a
        whole class's at once (see ``mastery_rows``)."""
        if rows is None:
            rows = {m.key_activity_id: m for m in self.session.scalars(
                select(Mastery).where(Mastery.user_id == user_id))}
        activities: list[ActivityMastery] = []
        ready: list[Readiness] = []
        shape = catalog.outline(self.session)
        for module_id, exam_items in shape.modules:
            mine = []
            module_activities = shape.activities.get(module_id, [])
            for ka_id, _title in module_activities:
                row = rows.get(ka_id)
                theta, evidence = (row.theta, row.evidence) if row else (0.0, 0)
                am = ActivityMastery(ka_id, theta, evidence, standard_error(theta, evidence))
                activities.append(am)
                if evidence:
                    mine.append(am)
            weights = {ka_id: shape.activity_rows[ka_id].weight
                       for ka_id, _title in module_activities}
            ready.append(readiness(module_id, mine, weights, exam_items,
                                   self._pass_percent(module_id)))
        return MasteryMap(activities, ready)

    def mastery_rows(self, learners: Select[tuple[int]]) -> dict[int, dict[str, Mastery]]:
        """Mastery rows of several learners (a select of their ids) in one query: a class
        view reads 30 students' in one round trip instead of 30."""
        out: dict[int, dict[str, Mastery]] = {}
        for m in self.session.scalars(select(Mastery).where(Mastery.user_id.in_(learners))):
            out.setdefault(m.user_id, {})[m.key_activity_id] = m
        return out
