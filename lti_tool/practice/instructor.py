"""What the instructor's pages show, read and worked out here so the views only parse
input, call one function and render: the class overview, the grades page of a graded
link, item analysis, one student's attempts and extra time, and an attempt's review.

The class overview and the grades page read the whole class in a fixed number of
queries, whatever the roster's size (a class of 300 costs what a class of 3 does): every
per-student figure is grouped in Python from one query over the course or the link.

Every function takes the course id (or a link of that course) and reads only that course's
rows: an instructor's session names one course, and nothing here may reach another
course's students.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from random import Random
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.delivery import provenance
from lti_tool.delivery.scores import latest_syncs
from lti_tool.models import (
    Attempt,
    AttemptStatus,
    Course,
    Deployment,
    Enrollment,
    GradingPolicy,
    Outbox,
    Platform,
    ResourceLink,
    Role,
    User,
)
from lti_tool.practice import catalog, class_report, modes
from lti_tool.practice.analytics import ItemStats, item_analysis
from lti_tool.practice.grading import policy_score, queue_link_score
from lti_tool.practice.mastery import ActivityMastery
from lti_tool.practice.placement import placement
from lti_tool.practice.service import AttemptResult, PracticeService

# A student needs attention when any of these holds (each is said in words on the page).
INACTIVE_DAYS = 14  # no launch and no answer in the course for this many days
LOW_MASTERY = 0.6  # average chance on a medium question across the topics they tried...
LOW_MASTERY_MIN_ANSWERS = 10  # ...once they have answered at least this many questions
FAILING_READINESS = 0.5  # estimated chance of passing a module's exam under this

CLASS_SORTS = ("name", "last_active", "attempts", "mastery", "readiness")
ITEM_SORTS = ("question", "topic", "module", "responses", "facility", "discrimination")
SHORT_STEM = 80  # characters of a question shown in the item table
EXTRA_TIME = (1.0, 1.25, 1.5, 2.0)

Clock = Callable[[], datetime]


def sorted_rows(rows: list[Any], key: Callable[[Any], Any], direction: str) -> list[Any]:
    """Rows by ``key`` with rows that have no value (None) last in either direction."""
    known = [r for r in rows if key(r) is not None]
    unknown = [r for r in rows if key(r) is None]
    return sorted(known, key=key, reverse=direction == "desc") + unknown


def course_link(session: Session, course_id: int | None, link_id: int | None
                ) -> ResourceLink | None:
    """The viewer's resource link when it belongs to the viewer's course."""
    row = session.get(ResourceLink, link_id) if link_id else None
    return row if row is not None and row.course_id == course_id else None


# --- The grades page -----------------------------------------------------------------


@dataclass
class GradeRow:
    """One roster learner's grade on the link and where it stands in the LMS."""

    name: str
    status: str
    launched: bool
    attempts: int = 0  # submitted attempts that count for the link's grade
    practice: int = 0  # submitted attempts from the link that do not
    score: tuple[float, float] | None = None
    sync: Outbox | None = None  # the latest score sent (or being sent) to the LMS
    story: provenance.GradeStory | None = None  # why that grade, and every try to send it
    elsewhere: bool = False  # did exactly this activity, but from another link


def grade_note(row: GradeRow) -> str:
    """What the grade cell says when there is no grade yet - the truth, not "not started"
    for a student who did the work from another link."""
    if row.score:
        return ""
    if not row.launched:
        return "Has not opened CPT Practice yet"
    if row.elsewhere:
        return "Did this activity from another link (not graded here)"
    if row.practice:
        return "No graded attempt yet"
    return "not started"


@dataclass
class GradesPage:
    link: ResourceLink
    rows: list[GradeRow]
    placed: str | None  # what the link grades, in words; None when it grades nothing
    open_attempts: int  # graded attempts still in progress
    lms: str = "the LMS"  # the course's LMS as a sentence names it ("Canvas accepted")


def grades_page(session: Session, link_row: ResourceLink) -> GradesPage:
    """The whole roster of the course - NRPS-synced students who never launched too - with
    each one's grade on this link and where it stands in the LMS gradebook."""
    placed = placement(session, link_row)
    module = catalog.module(session, placed.module_id) if placed else None
    elsewhere = class_report.did_elsewhere(session, link_row.course_id, link_row.id, placed)
    taken: dict[int, list[Attempt]] = {}
    for a in session.scalars(select(Attempt).where(
            Attempt.resource_link_id == link_row.id, Attempt.status == AttemptStatus.SUBMITTED)
            .order_by(Attempt.submitted_at)):
        taken.setdefault(a.user_id, []).append(a)
    syncs = latest_syncs(session, link_row.id)
    stories = provenance.latest_for_link(session, link_row.id)
    family, platform_name = session.execute(
        select(Platform.lms_family, Platform.name)
        .join(Deployment, Deployment.platform_id == Platform.id)
        .join(Course, Course.deployment_id == Deployment.id)
        .where(Course.id == link_row.course_id)).one()
    rows = []
    for entry in class_report.roster(session, link_row.course_id):
        row = GradeRow(entry.name, entry.status, entry.launched)
        if entry.user is not None:
            user_id = entry.user.id
            mine = taken.get(user_id, [])
            attempts = [a for a in mine if a.counts_for_grade]
            given, maximum = policy_score(attempts, link_row.grading_policy)
            row.attempts, row.practice = len(attempts), len(mine) - len(attempts)
            row.score = (given, maximum) if attempts else None
            row.sync = syncs.get(user_id)
            row.story = stories.get(user_id)
            row.elsewhere = not attempts and user_id in elsewhere
        rows.append(row)
    pending = session.scalar(select(func.count()).select_from(Attempt).where(
        Attempt.resource_link_id == link_row.id, Attempt.status == AttemptStatus.OPEN,
        Attempt.counts_for_grade.is_(True))) or 0
    return GradesPage(link_row, rows,
                      placed.describe(module.title) if placed and module else None, pending,
                      provenance.lms_name(family, platform_name))


def requeue_scores(session: Session, now: datetime, link_row: ResourceLink) -> int:
    """Queue every graded student's score on the link again; how many were queued."""
    students = session.scalars(select(Attempt.user_id).where(
        Attempt.resource_link_id == link_row.id, Attempt.status == AttemptStatus.SUBMITTED,
        Attempt.counts_for_grade.is_(True)).distinct())
    return sum(queue_link_score(session, now, link_row.id, user_id)
               for user_id in list(students))


def set_policy(session: Session, now: datetime, link_row: ResourceLink,
               policy: GradingPolicy) -> None:
    """A new grading policy for the link; the gradebook follows it (scores re-sent)."""
    if link_row.grading_policy != policy:
        link_row.grading_policy = policy
        session.flush()
        requeue_scores(session, now, link_row)


# --- The class overview --------------------------------------------------------------


@dataclass
class ClassRow:
    """One roster learner on the class overview."""

    name: str
    status: str
    launched: bool
    user_id: int | None
    last_active: datetime | None
    attempts: int = 0
    best: dict[str, float] = field(default_factory=dict)  # module -> best test score %
    ready: dict[str, float] = field(default_factory=dict)  # module -> chance to pass
    mastery: dict[str, ActivityMastery] = field(default_factory=dict)  # by key activity
    mastery_pct: float | None = None  # average chance on a medium question, topics tried
    answers: int = 0
    readiness: tuple[float, str] | None = None  # the weakest module: (chance, title)
    risks: list[str] = field(default_factory=list)


def risks(row: ClassRow, now: datetime, titles: dict[str, str]) -> list[str]:
    """Why a student needs attention, in words (never colour alone)."""
    if row.status != "Active":
        return []  # dropped or inactive in the LMS: nothing to act on here
    if not row.launched:
        return ["Has not opened CPT Practice yet"]
    reasons = []
    if row.last_active is not None:
        days = (now - row.last_active).days
        if days >= INACTIVE_DAYS:
            reasons.append(f"No activity for {days} days")
    if (row.mastery_pct is not None and row.answers >= LOW_MASTERY_MIN_ANSWERS
            and row.mastery_pct < LOW_MASTERY):
        reasons.append(f"Low mastery: {row.mastery_pct * 100:.0f}% on average "
                       f"(below {LOW_MASTERY * 100:.0f}%)")
    for module_id, chance in row.ready.items():
        if chance < FAILING_READINESS:
            reasons.append(f"Likely to fail {titles.get(module_id, module_id)}: "
                           f"{chance * 100:.0f}% chance to pass")
    return reasons


@dataclass
class ClassOverview:
    rows: list[ClassRow]  # in the order asked for
    modules: list[catalog.CachedModule]
    synced: datetime | None  # when the LMS roster was last fetched
    heat_module: str  # the module whose topics the heat map shows
    activities: list[catalog.CachedKeyActivity]  # that module's live topics
    now: datetime

    @property
    def attention(self) -> list[ClassRow]:
        return [r for r in self.rows if r.risks]


_CLASS_KEYS: dict[str, Callable[[ClassRow], Any]] = {
    "name": lambda r: r.name.casefold(),
    "last_active": lambda r: r.last_active,
    "attempts": lambda r: r.attempts if r.launched else None,
    "mastery": lambda r: r.mastery_pct,
    "readiness": lambda r: r.readiness[0] if r.readiness else None}


def class_overview(session: Session, clock: Clock, course_id: int, sort: str = "name",
                   direction: str = "asc", heat_module: str = "") -> ClassOverview:
    """Every student - from the LMS roster too, so those who never launched show up -
    with attempts, last activity, mastery, readiness and who needs attention, and the
    topics of the heat map's module (``heat_module``, or the first module)."""
    now = clock()
    roster = class_report.roster(session, course_id)
    synced = session.scalar(select(Course.roster_synced_at).where(Course.id == course_id))
    seen = class_report.last_active(session, course_id)
    modules = catalog.modules(session)
    titles = {m.id: m.title for m in modules}
    service = PracticeService(session, clock, Random())
    # The whole class's submitted attempts and mastery in two queries, not two a student.
    submitted: dict[int, list[Attempt]] = {}
    for a in session.scalars(select(Attempt).where(
            Attempt.course_id == course_id, Attempt.status == AttemptStatus.SUBMITTED)):
        submitted.setdefault(a.user_id, []).append(a)
    mastery_rows = service.mastery_rows(select(Enrollment.user_id).where(
        Enrollment.course_id == course_id, Enrollment.role == Role.LEARNER))
    rows = []
    for entry in roster:
        user = entry.user
        row = ClassRow(entry.name, entry.status, entry.launched, user.id if user else None,
                       seen.get(user.id) if user else None)
        if user is not None:
            attempts = submitted.get(user.id, [])
            row.attempts = len(attempts)
            for a in attempts:
                if a.mode in modes.GRADED_MODES and a.score_max:
                    pct = 100.0 * (a.score_raw or 0) / a.score_max
                    row.best[a.module_id] = max(row.best.get(a.module_id, 0), pct)
            mastery = service.mastery(user.id, mastery_rows.get(user.id, {}))
            for r in mastery.readiness:
                if r.ready and r.probability is not None:
                    row.ready[r.module_id] = r.probability
            row.mastery = {a.key_activity_id: a for a in mastery.activities}
            tried = [a for a in mastery.activities if a.evidence]
            row.answers = sum(a.evidence for a in tried)
            if tried:
                row.mastery_pct = sum(a.p_medium for a in tried) / len(tried)
            if row.ready:  # the weakest module is the one that decides
                weakest = min(row.ready, key=row.ready.__getitem__)
                row.readiness = (row.ready[weakest], titles.get(weakest, weakest))
        row.risks = risks(row, now, titles)
        rows.append(row)
    if sort in _CLASS_KEYS and sort != "name":
        rows = sorted_rows(rows, _CLASS_KEYS[sort], direction)
    elif direction == "desc":
        rows = list(reversed(rows))
    if heat_module not in titles:
        heat_module = modules[0].id if modules else ""
    return ClassOverview(rows, modules, synced, heat_module,
                         catalog.live_activities(session, heat_module), now)


# --- Item analysis -------------------------------------------------------------------


def short_stem(text: str, limit: int = SHORT_STEM) -> str:
    """A question's first words for a table row: markdown marks and line breaks dropped,
    cut at a word boundary."""
    flat = " ".join(re.sub(r"[*_`#>|]", "", text).split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0].rstrip(",;:.") + "…"


@dataclass
class ItemRow:
    """One item this course's students answered in finished tests, with its statistics."""

    stats: ItemStats
    item: catalog.CachedItem
    question: str
    topic: str
    module: str
    module_position: int
    key: int | None  # the correct option's index


def item_rows(session: Session, course_id: int) -> list[ItemRow]:
    """Every item this course's students answered in a finished test, by item id."""
    stats = item_analysis(session, course_id)
    bank = catalog.items(session)
    kas = catalog.key_activities(session)
    modules = {m.id: m for m in catalog.modules(session)}
    rows = []
    for s in stats:
        item = bank[s.item_id]
        ka, module = kas.get(item.key_activity_id), modules.get(item.module_id)
        rows.append(ItemRow(s, item, short_stem(item.stem),
                            ka.title if ka else item.key_activity_id,
                            module.title if module else item.module_id,
                            module.position if module else 0,
                            next((n for n, o in enumerate(item.options) if o["correct"]),
                                 None)))
    return rows


_ITEM_KEYS: dict[str, Callable[[ItemRow], Any]] = {
    "question": lambda r: r.question.casefold(),
    "topic": lambda r: r.topic.casefold(),
    "module": lambda r: (r.module_position, r.topic.casefold()),
    "responses": lambda r: r.stats.responses,
    "facility": lambda r: r.stats.facility,
    "discrimination": lambda r: r.stats.discrimination}


def sort_items(rows: Iterable[ItemRow], sort: str, direction: str) -> list[ItemRow]:
    """Rows in the order asked for; by default the items most students miss first, then
    the hardest."""
    if sort not in _ITEM_KEYS:
        return sorted(rows, key=lambda r: (not r.stats.most_miss, r.stats.facility,
                                           r.item.id))
    return sorted_rows(sorted(rows, key=lambda r: r.item.id), _ITEM_KEYS[sort], direction)


@dataclass
class ItemDetail:
    item: catalog.CachedItem
    stats: ItemStats
    topic: str
    module: str


def item_detail(session: Session, course_id: int, item_id: str) -> ItemDetail | None:
    """One item with how this course's students answered it; None when none of them
    answered it in a finished test (another course's answers never show here)."""
    stats = {s.item_id: s for s in item_analysis(session, course_id)}.get(item_id)
    item = catalog.items(session).get(item_id)
    if stats is None or item is None:
        return None
    ka = catalog.key_activity(session, item.key_activity_id)
    module = catalog.module(session, item.module_id)
    return ItemDetail(item, stats, ka.title if ka else item.key_activity_id,
                      module.title if module else item.module_id)


# --- One student ---------------------------------------------------------------------


def enrollment(session: Session, course_id: int | None, user_id: int) -> Enrollment | None:
    """The student's enrollment in the course; None when they are not in it."""
    return session.scalars(select(Enrollment).where(
        Enrollment.course_id == course_id, Enrollment.user_id == user_id)).first()


@dataclass
class StudentPage:
    user: User | None
    enrollment: Enrollment
    attempts: list[Attempt]  # newest first


def student_page(session: Session, course_id: int | None, user_id: int
                 ) -> StudentPage | None:
    """One student's attempts in the course, newest first; None when not enrolled."""
    enrolled = enrollment(session, course_id, user_id)
    if enrolled is None:
        return None
    attempts = list(session.scalars(select(Attempt).where(
        Attempt.user_id == user_id, Attempt.course_id == course_id)
        .order_by(Attempt.started_at.desc())))
    return StudentPage(session.get(User, user_id), enrolled, attempts)


def time_saved(session: Session, user: User | None, multiplier: float) -> str:
    """The confirmation after saving extra time, with the minutes it gives on each length
    of mock exam (as the server will set the deadline: exam minutes x multiplier)."""
    name = (user.name if user else None) or "This student"
    lengths = sorted({m.exam_minutes for m in catalog.modules(session)}, reverse=True)
    parts = [f"{minutes * multiplier:g} minutes on a {minutes}-minute mock exam"
             for minutes in lengths]
    amount = "standard time" if multiplier == 1 else f"{multiplier:g}× time"
    return f"Saved: {name} gets {amount} ({'; '.join(parts)})."


def set_extra_time(session: Session, course_id: int | None, user_id: int,
                   multiplier: float) -> bool:
    """Extra time on timed exams for one student of the course (an accommodation);
    False when they are not in the course."""
    enrolled = enrollment(session, course_id, user_id)
    if enrolled is None:
        return False
    enrolled.time_multiplier = multiplier
    return True


@dataclass
class AttemptReview:
    result: AttemptResult
    module: catalog.CachedModule | None
    student: User | None


def attempt_review(session: Session, clock: Clock, course_id: int | None,
                   attempt_id: str) -> AttemptReview | None:
    """A student's attempt as their instructor reviews it; None unless it is an attempt
    of the course."""
    attempt = session.get(Attempt, attempt_id)
    # No course on either side is not "the same course": an instructor launched from a
    # link outside any course must not read course-less attempts of other platforms.
    if attempt is None or course_id is None or attempt.course_id != course_id:
        return None
    result = PracticeService(session, clock, Random()).results(attempt.id, attempt.user_id,
                                                              reviewer=True)
    return AttemptReview(result, catalog.module(session, result.module_id),
                         session.get(User, attempt.user_id))
