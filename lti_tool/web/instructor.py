"""The instructor's door: class overview with the LMS roster, item analysis, the grade page
of a graded link (policy, per-student sync status, resend), extra time, and a student
preview that walks the curriculum as a student would without saving anything."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import datetime
from random import Random
from typing import Any

from flask import Blueprint, Response, abort, g, redirect, render_template, request
from sqlalchemy import func, select

from lti_tool.delivery.outbound import OutboundPolicy
from lti_tool.lti.ags import DeliveryError
from lti_tool.lti.nrps import sync_roster
from lti_tool.models import (
    Attempt,
    AttemptStatus,
    Enrollment,
    GradingPolicy,
    ResourceLink,
    Role,
    RosterMember,
    User,
)
from lti_tool.practice import catalog, class_report, modes
from lti_tool.practice.analytics import (
    MIN_RESPONSES,
    MOST_MISS_FACILITY,
    ItemStats,
    item_analysis,
)
from lti_tool.practice.grading import latest_sync, policy_score, queue_link_score
from lti_tool.practice.placement import placement
from lti_tool.practice.service import PracticeService
from lti_tool.web.auth import link, staff_required
from lti_tool.web.runtime import runtime

bp = Blueprint("instructor", __name__, url_prefix="/instructor")


def _link(db) -> ResourceLink:
    row = db.get(ResourceLink, g.viewer.resource_link_id) if g.viewer.resource_link_id else None
    if row is None or row.course_id != g.viewer.course_id:
        abort(404, description="Open this page from a graded CPT Practice activity in your "
                               "course.")
    return row


def _students_with_attempts(db, link_row: ResourceLink) -> list[int]:
    return list(db.scalars(select(Attempt.user_id).where(
        Attempt.resource_link_id == link_row.id, Attempt.status == AttemptStatus.SUBMITTED,
        Attempt.counts_for_grade.is_(True)).distinct()))


@bp.get("/grades")
@staff_required
def grades():
    """The whole roster of the course - NRPS-synced students who never launched too - with
    each one's grade on this link and where it stands in the LMS gradebook."""
    rt = runtime()
    with rt.transaction() as db:
        link_row = _link(db)
        placed = placement(db, link_row)
        module = catalog.module(db, placed.module_id) if placed else None
        elsewhere = class_report.did_elsewhere(db, link_row.course_id, link_row.id, placed)
        rows = []
        for entry in class_report.roster(db, link_row.course_id):
            row: dict[str, Any] = {"name": entry.name, "status": entry.status,
                                   "launched": entry.launched, "attempts": 0, "practice": 0,
                                   "score": None, "sync": None, "elsewhere": False}
            if entry.user is not None:
                user = entry.user
                taken = list(db.scalars(select(Attempt).where(
                    Attempt.user_id == user.id, Attempt.resource_link_id == link_row.id,
                    Attempt.status == AttemptStatus.SUBMITTED).order_by(Attempt.submitted_at)))
                attempts = [a for a in taken if a.counts_for_grade]
                given, maximum = policy_score(attempts, link_row.grading_policy)
                row.update(attempts=len(attempts), practice=len(taken) - len(attempts),
                           score=(given, maximum) if attempts else None,
                           sync=latest_sync(db, link_row.id, user.id),
                           elsewhere=not attempts and user.id in elsewhere)
            rows.append(row)
        pending = db.scalar(select(func.count()).select_from(Attempt).where(
            Attempt.resource_link_id == link_row.id, Attempt.status == AttemptStatus.OPEN,
            Attempt.counts_for_grade.is_(True)))
        if request.args.get("format") == "csv":
            return _csv("grades.csv", ["student", "attempts", "grade", "out of", "policy",
                                       "sync status", "sync error", "practice attempts",
                                       "note"],
                        [[r["name"], r["attempts"],
                          r["score"][0] if r["score"] else "",
                          r["score"][1] if r["score"] else "",
                          link_row.grading_policy.value,
                          r["sync"].status.value if r["sync"] else "",
                          (r["sync"].last_error or "") if r["sync"] else "",
                          r["practice"], _grade_note(r)] for r in rows])
        return render_template("instructor_grades.html", link_row=link_row, rows=rows,
                               placed=placed.describe(module.title) if placed and module
                               else None, grade_note=_grade_note,
                               policies=list(GradingPolicy), open_attempts=pending)


def _grade_note(row: dict[str, Any]) -> str:
    """What the grade cell says when there is no grade yet - the truth, not "not started"
    for a student who did the work from another link."""
    if row["score"]:
        return ""
    if not row["launched"]:
        return "Has not opened CPT Practice yet"
    if row["elsewhere"]:
        return "Did this activity from another link (not graded here)"
    if row["practice"]:
        return "No graded attempt yet"
    return "not started"


def _requeue(db, link_row: ResourceLink) -> int:
    now = runtime().clock()
    return sum(queue_link_score(db, now, link_row.id, user_id)
               for user_id in _students_with_attempts(db, link_row))


@bp.post("/grades/policy")
@staff_required
def set_policy():
    try:
        policy = GradingPolicy(request.form.get("policy", ""))
    except ValueError:
        abort(400, description="Choose best, latest or average.")
    with runtime().transaction() as db:
        link_row = _link(db)
        if link_row.grading_policy != policy:
            link_row.grading_policy = policy
            db.flush()
            _requeue(db, link_row)  # the gradebook must follow the new policy
    return redirect(link("instructor.grades"), 303)


@bp.post("/grades/resend")
@staff_required
def resend():
    with runtime().transaction() as db:
        _requeue(db, _link(db))
    return redirect(link("instructor.grades"), 303)


# A student needs attention when any of these holds (each is said in words on the page).
INACTIVE_DAYS = 14  # no launch and no answer in the course for this many days
LOW_MASTERY = 0.6  # average chance on a medium question across the topics they tried...
LOW_MASTERY_MIN_ANSWERS = 10  # ...once they have answered at least this many questions
FAILING_READINESS = 0.5  # estimated chance of passing a module's exam under this

CLASS_SORTS = ("name", "last_active", "attempts", "mastery", "readiness")


def _sort_args(allowed: tuple[str, ...], default: str, default_dir: str = "asc"
               ) -> tuple[str, str]:
    """The ``?sort=&dir=`` of a sortable table, checked against its columns."""
    sort = request.args.get("sort", "")
    if sort not in allowed:
        return default, default_dir
    return sort, "desc" if request.args.get("dir") == "desc" else "asc"


def _sorted(rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any],
            direction: str) -> list[dict[str, Any]]:
    """Rows by ``key`` with rows that have no value (None) last in either direction."""
    known = [r for r in rows if key(r) is not None]
    unknown = [r for r in rows if key(r) is None]
    return sorted(known, key=key, reverse=direction == "desc") + unknown


def _risks(row: dict[str, Any], now: datetime, titles: dict[str, str]) -> list[str]:
    """Why a student needs attention, in words (never colour alone)."""
    if row["status"] != "Active":
        return []  # dropped or inactive in the LMS: nothing to act on here
    if not row["launched"]:
        return ["Has not opened CPT Practice yet"]
    reasons = []
    if row["last_active"] is not None:
        days = (now - row["last_active"]).days
        if days >= INACTIVE_DAYS:
            reasons.append(f"No activity for {days} days")
    if (row["mastery_pct"] is not None and row["answers"] >= LOW_MASTERY_MIN_ANSWERS
            and row["mastery_pct"] < LOW_MASTERY):
        reasons.append(f"Low mastery: {row['mastery_pct'] * 100:.0f}% on average "
                       f"(below {LOW_MASTERY * 100:.0f}%)")
    for module_id, chance in row["ready"].items():
        if chance < FAILING_READINESS:
            reasons.append(f"Likely to fail {titles.get(module_id, module_id)}: "
                           f"{chance * 100:.0f}% chance to pass")
    return reasons


@bp.get("/class")
@staff_required
def class_overview():
    """Every student - from the LMS roster too, so those who never launched show up -
    with attempts, last activity, mastery, readiness and who needs attention, and a
    mastery heat map by topic."""
    rt = runtime()
    with rt.transaction() as db:
        course_id = g.viewer.course_id
        if course_id is None:
            abort(404, description="Open this page from your course.")
        now = rt.clock()
        roster = class_report.roster(db, course_id)
        synced = db.scalar(select(func.max(RosterMember.synced_at)).where(
            RosterMember.course_id == course_id))
        seen = class_report.last_active(db, course_id)
        modules = catalog.modules(db)
        titles = {m.id: m.title for m in modules}
        service = PracticeService(db, rt.clock, Random())
        # The whole class's submitted attempts and mastery in two queries, not two a student.
        submitted: dict[int, list[Attempt]] = {}
        for a in db.scalars(select(Attempt).where(
                Attempt.course_id == course_id, Attempt.status == AttemptStatus.SUBMITTED)):
            submitted.setdefault(a.user_id, []).append(a)
        mastery_rows = service.mastery_rows(select(Enrollment.user_id).where(
            Enrollment.course_id == course_id, Enrollment.role == Role.LEARNER))
        rows = []
        for entry in roster:
            user = entry.user
            row: dict[str, Any] = {
                "name": entry.name, "status": entry.status, "launched": entry.launched,
                "attempts": 0, "best": {}, "ready": {}, "user_id": user.id if user else None,
                "mastery": {}, "last_active": seen.get(user.id) if user else None,
                "mastery_pct": None, "answers": 0, "readiness": None}
            if user is not None:
                attempts = submitted.get(user.id, [])
                row["attempts"] = len(attempts)
                for a in attempts:
                    if a.mode in modes.GRADED_MODES and a.score_max:
                        pct = 100.0 * (a.score_raw or 0) / a.score_max
                        row["best"][a.module_id] = max(row["best"].get(a.module_id, 0), pct)
                mastery = service.mastery(user.id, mastery_rows.get(user.id, {}))
                for r in mastery.readiness:
                    if r.ready and r.probability is not None:
                        row["ready"][r.module_id] = r.probability
                row["mastery"] = {a.key_activity_id: a for a in mastery.activities}
                tried = [a for a in mastery.activities if a.evidence]
                row["answers"] = sum(a.evidence for a in tried)
                if tried:
                    row["mastery_pct"] = sum(a.p_medium for a in tried) / len(tried)
                if row["ready"]:  # the weakest module is the one that decides
                    weakest = min(row["ready"], key=row["ready"].__getitem__)
                    row["readiness"] = (row["ready"][weakest], titles.get(weakest, weakest))
            row["risks"] = _risks(row, now, titles)
            rows.append(row)
        sort, direction = _sort_args(CLASS_SORTS, "name")
        keys: dict[str, Callable[[dict[str, Any]], Any]] = {
            "name": lambda r: r["name"].casefold(),
            "last_active": lambda r: r["last_active"],
            "attempts": lambda r: r["attempts"] if r["launched"] else None,
            "mastery": lambda r: r["mastery_pct"],
            "readiness": lambda r: r["readiness"][0] if r["readiness"] else None}
        if sort != "name":
            rows = _sorted(rows, keys[sort], direction)
        elif direction == "desc":
            rows = list(reversed(rows))
        heat_module = request.args.get("module") or (modules[0].id if modules else "")
        if heat_module not in titles:
            heat_module = modules[0].id if modules else ""
        activities = catalog.live_activities(db, heat_module)
        if request.args.get("format") == "csv":
            return _csv("class-overview.csv",
                        ["student", "status", "launched", "attempts",
                         *[f"best {m.id} %" for m in modules],
                         *[f"pass chance {m.id}" for m in modules],
                         "last active", "needs attention"],
                        [[r["name"], r["status"], r["launched"], r["attempts"],
                          *[round(r["best"][m.id], 1) if m.id in r["best"] else ""
                            for m in modules],
                          *[round(r["ready"][m.id], 3) if m.id in r["ready"] else ""
                            for m in modules],
                          r["last_active"].strftime("%Y-%m-%d") if r["last_active"] else "",
                          "; ".join(r["risks"])] for r in rows])
        return render_template("instructor_class.html", rows=rows, modules=modules,
                               synced=synced, roster_error=request.args.get("roster_error"),
                               heat_module=heat_module, activities=activities,
                               sort=sort, dir=direction, now=now,
                               inactive_days=INACTIVE_DAYS,
                               attention=[r for r in rows if r["risks"]])


@bp.post("/class/roster")
@staff_required
def refresh_roster():
    """Fetch the roster from the LMS now (NRPS)."""
    rt = runtime()
    with rt.transaction() as db:
        enrollment = db.scalars(select(Enrollment).where(
            Enrollment.course_id == g.viewer.course_id,
            Enrollment.user_id == g.viewer.user_id)).first()
        url = enrollment.nrps_url if enrollment else None
    if not url or g.viewer.course_id is None:
        return redirect(link("instructor.class_overview",
                             roster_error="The LMS did not offer a roster for this course."),
                        303)
    try:
        sync_roster(rt.sessions, rt.clock, OutboundPolicy.from_settings(rt.settings),
                    g.viewer.course_id, url)
    except DeliveryError as exc:
        return redirect(link("instructor.class_overview", roster_error=str(exc)), 303)
    return redirect(link("instructor.class_overview"), 303)


# A cell a spreadsheet could run (OWASP "CSV injection"): one starting with = + - @, also
# behind leading whitespace or control characters (spreadsheets skip a TAB or CR and then
# see the formula), or starting with any control character at all.
_FORMULA = re.compile(r"^(?:[\x00-\x1f\x7f]|[\s\x00-\x1f\x7f]*[=+\-@])")


def _inert(value: object) -> object:
    """A text cell that would start a formula, prefixed with ``'`` so it stays text."""
    return f"'{value}" if isinstance(value, str) and _FORMULA.match(value) else value


def _csv(filename: str, header: list[str], rows: list[list]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_inert(v) for v in row])
    # Names and grades: never kept by a browser or proxy (security.py only covers HTML/JSON).
    return Response(buffer.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store"})


ITEM_SORTS = ("question", "topic", "module", "responses", "facility", "discrimination")
SHORT_STEM = 80  # characters of a question shown in the item table


def _short(text: str, limit: int = SHORT_STEM) -> str:
    """A question's first words for a table row: markdown marks and line breaks dropped,
    cut at a word boundary."""
    flat = " ".join(re.sub(r"[*_`#>|]", "", text).split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0].rstrip(",;:.") + "…"


def _course_stats(db) -> dict[str, ItemStats]:
    """Item statistics of the viewer's course only (its students' finished tests)."""
    if g.viewer.course_id is None:
        abort(404, description="Open this page from your course.")
    return {s.item_id: s for s in item_analysis(db, g.viewer.course_id)}


@bp.get("/items")
@staff_required
def items():
    """Item analysis for this course: facility, discrimination, distractor choice rates;
    the items most students miss first."""
    rt = runtime()
    with rt.transaction() as db:
        stats = _course_stats(db)
        bank = catalog.items(db)
        kas = catalog.key_activities(db)
        modules = {m.id: m for m in catalog.modules(db)}
    if request.args.get("format") == "csv":
        return _csv("item-analysis.csv", ["item", "key activity", "responses", "facility",
                                          "discrimination", "A", "B", "C", "D", "flag",
                                          "most students miss it"],
                    [[s.item_id, bank[s.item_id].key_activity_id, s.responses,
                      round(s.facility, 3),
                      None if s.discrimination is None else round(s.discrimination, 3),
                      *[round(r, 3) for r in s.choice_rates], s.flag or "",
                      "yes" if s.most_miss else ""] for s in stats.values()])
    rows = []
    for s in stats.values():
        item = bank[s.item_id]
        ka, module = kas.get(item.key_activity_id), modules.get(item.module_id)
        rows.append({"stats": s, "item": item, "question": _short(item.stem),
                     "topic": ka.title if ka else item.key_activity_id,
                     "module": module.title if module else item.module_id,
                     "module_position": module.position if module else 0,
                     "key": next((n for n, o in enumerate(item.options) if o["correct"]),
                                 None)})
    sort, direction = _sort_args(ITEM_SORTS, "", "asc")
    if not sort:  # the items most students miss first, then the hardest
        rows.sort(key=lambda r: (not r["stats"].most_miss, r["stats"].facility,
                                 r["item"].id))
    else:
        keys: dict[str, Callable[[dict[str, Any]], Any]] = {
            "question": lambda r: r["question"].casefold(),
            "topic": lambda r: r["topic"].casefold(),
            "module": lambda r: (r["module_position"], r["topic"].casefold()),
            "responses": lambda r: r["stats"].responses,
            "facility": lambda r: r["stats"].facility,
            "discrimination": lambda r: r["stats"].discrimination}
        rows = _sorted(sorted(rows, key=lambda r: r["item"].id), keys[sort], direction)
    return render_template("instructor_items.html", rows=rows, sort=sort, dir=direction,
                           missed=sum(1 for r in rows if r["stats"].most_miss),
                           most_miss=MOST_MISS_FACILITY, min_responses=MIN_RESPONSES)


@bp.get("/items/<item_id>")
@staff_required
def item_detail(item_id: str):
    """One item with its key and every option's rationale, and how this course's students
    answered it. Only items this course's students answered: the page reports on the
    course, so another course's answers never show here."""
    rt = runtime()
    with rt.transaction() as db:
        stats = _course_stats(db).get(item_id)
        item = catalog.items(db).get(item_id)
        if stats is None or item is None:
            abort(404, description="No student in this course has answered that question "
                                   "in a finished test yet.")
        ka = catalog.key_activity(db, item.key_activity_id)
        module = catalog.module(db, item.module_id)
    return render_template("instructor_item.html", item=item, stats=stats,
                           topic=ka.title if ka else item.key_activity_id,
                           module=module.title if module else item.module_id)


@bp.get("/students/<int:user_id>")
@staff_required
def student(user_id: int):
    """One student's finished attempts in this course, each opening its review."""
    rt = runtime()
    with rt.transaction() as db:
        enrolled = db.scalars(select(Enrollment).where(
            Enrollment.course_id == g.viewer.course_id, Enrollment.user_id == user_id)).first()
        if enrolled is None:
            abort(404, description="That student is not in this course.")
        user = db.get(User, user_id)
        attempts = list(db.scalars(select(Attempt).where(
            Attempt.user_id == user_id, Attempt.course_id == g.viewer.course_id)
            .order_by(Attempt.started_at.desc())))
        saved = (_time_saved(db, user, enrolled.time_multiplier)
                 if request.args.get("saved") else None)
        return render_template("instructor_student.html", user=user, attempts=attempts,
                               enrollment=enrolled, choices=EXTRA_TIME, saved=saved)


EXTRA_TIME = (1.0, 1.25, 1.5, 2.0)


def _time_saved(db, user: User | None, multiplier: float) -> str:
    """The confirmation after saving extra time, with the minutes it gives on each length
    of mock exam (as the server will set the deadline: exam minutes x multiplier)."""
    name = (user.name if user else None) or "This student"
    lengths = sorted({m.exam_minutes for m in catalog.modules(db)}, reverse=True)
    parts = [f"{minutes * multiplier:g} minutes on a {minutes}-minute mock exam"
             for minutes in lengths]
    amount = "standard time" if multiplier == 1 else f"{multiplier:g}× time"
    return f"Saved: {name} gets {amount} ({'; '.join(parts)})."


@bp.post("/students/<int:user_id>/time")
@staff_required
def set_extra_time(user_id: int):
    """Extra time on timed exams for one student in this course (an accommodation)."""
    multiplier = request.form.get("multiplier", type=float)
    if multiplier not in EXTRA_TIME:
        abort(400, description="Choose standard time, 1.25x, 1.5x or 2x.")
    with runtime().transaction() as db:
        enrollment = db.scalars(select(Enrollment).where(
            Enrollment.course_id == g.viewer.course_id, Enrollment.user_id == user_id)).first()
        if enrollment is None:
            abort(404, description="That student is not in this course.")
        enrollment.time_multiplier = multiplier
    return redirect(link("instructor.student", user_id=user_id, saved=1), 303)


@bp.get("/attempts/<attempt_id>")
@staff_required
def attempt_review(attempt_id: str):
    rt = runtime()
    with rt.transaction() as db:
        attempt = db.get(Attempt, attempt_id)
        # No course on either side is not "the same course": an instructor launched from a
        # link outside any course must not read course-less attempts of other platforms.
        if (attempt is None or g.viewer.course_id is None
                or attempt.course_id != g.viewer.course_id):
            abort(404, description="No such attempt in this course.")
        result = PracticeService(db, rt.clock, Random()).results(attempt.id, attempt.user_id,
                                                                reviewer=True)
        module = catalog.module(db, result.module_id)
        student_user = db.get(User, attempt.user_id)
        return render_template("instructor_attempt.html", result=result, module=module,
                               student=student_user)


# --- Student preview -----------------------------------------------------------------
# An instructor walks a module as a student would: its topics, a lesson's text and sample
# questions with feedback. Everything is read from the curriculum cache and the feedback
# is worked out in memory: no attempt, response, mastery, outbox or grade row is written,
# so a preview never shows up in the class's data or the LMS gradebook.


def _preview_module(db, module_id: str) -> catalog.CachedModule:
    module = catalog.module(db, module_id)
    if module is None:
        abort(404, description="There is no such module.")
    return module


def _live_item(db, item_id: str) -> catalog.CachedItem | None:
    item = catalog.items(db).get(item_id)
    return None if item is None or item.retired else item


def _drill_items(db, key_activity_id: str) -> tuple[catalog.CachedKeyActivity,
                                                     list[catalog.CachedItem]]:
    ka = catalog.key_activity(db, key_activity_id)
    if ka is None or ka.retired:
        abort(404, description="There is no such topic.")
    bank = catalog.items(db)
    refs = catalog.refs(db, ka.module_id, ka.id)
    # Easiest first, as a sample: what a new student meets first in a drill.
    return ka, sorted((bank[r.id] for r in refs), key=lambda i: (i.difficulty, i.id))


def _lesson_items(db, lesson_id: str) -> tuple[catalog.CachedLesson, list[catalog.CachedItem]]:
    lesson = catalog.lesson(db, lesson_id)
    if lesson is None or lesson.retired:
        abort(404, description="There is no such lesson.")
    found = [_live_item(db, item_id) for item_id in lesson.checks]
    return lesson, [i for i in found if i is not None]


def _sample_number() -> int:
    n = request.values.get("n", type=int)
    return n if n is not None and n >= 0 else 0


@bp.get("/preview")
@staff_required
def preview():
    """The modules in blueprint order, each opening as a student would see it."""
    with runtime().transaction() as db:
        modules = catalog.modules(db)
    return render_template("instructor_preview.html", modules=modules)


@bp.get("/preview/modules/<module_id>")
@staff_required
def preview_module(module_id: str):
    with runtime().transaction() as db:
        module = _preview_module(db, module_id)
        activities = catalog.live_activities(db, module_id)
        shape = catalog.outline(db)
        lessons = {shape.lesson_rows[lesson_id].key_activity_id: shape.lesson_rows[lesson_id]
                   for lesson_id in shape.lessons.get(module_id, [])}
    return render_template("instructor_preview_module.html", module=module,
                           activities=activities, lessons=lessons)


def _question_page(module: catalog.CachedModule, heading: str, items: list[Any], n: int,
                   endpoint: str, values: dict[str, str], lesson: Any = None) -> str:
    if not items:
        abort(404, description="This topic has no questions yet.")
    item = items[n % len(items)]
    return render_template("instructor_preview_question.html", module=module,
                           heading=heading, item=item, number=n % len(items) + 1,
                           total=len(items), lesson=lesson, n=n % len(items),
                           action=link(endpoint, **values))


def _feedback_page(module: catalog.CachedModule, heading: str, items: list[Any],
                   endpoint: str, values: dict[str, str]) -> str:
    """Feedback on a sample question, worked out in memory (nothing is recorded)."""
    n = _sample_number()
    item = next((i for i in items if i.id == request.form.get("item_id")), None)
    choice = request.form.get("choice", type=int)
    if item is None:
        abort(400, description="That question is not part of this preview.")
    if choice is None or not 0 <= choice < len(item.options):
        abort(400, description="Choose an answer first.")
    answer = next(k for k, o in enumerate(item.options) if o["correct"])
    following = (n + 1) % len(items)
    return render_template("instructor_preview_feedback.html", module=module,
                           heading=heading, item=item, chosen=choice, answer=answer,
                           correct=choice == answer,
                           next_url=link(endpoint, n=following, **values),
                           more=len(items) > 1)


@bp.get("/preview/topics/<key_activity_id>")
@staff_required
def preview_drill(key_activity_id: str):
    with runtime().transaction() as db:
        ka, drill_items = _drill_items(db, key_activity_id)
        module = _preview_module(db, ka.module_id)
    return _question_page(module, f"Drill: {ka.title}", drill_items, _sample_number(),
                          "instructor.preview_drill_answer",
                          {"key_activity_id": key_activity_id})


@bp.post("/preview/topics/<key_activity_id>")
@staff_required
def preview_drill_answer(key_activity_id: str):
    with runtime().transaction() as db:
        ka, drill_items = _drill_items(db, key_activity_id)
        module = _preview_module(db, ka.module_id)
    return _feedback_page(module, f"Drill: {ka.title}", drill_items,
                          "instructor.preview_drill", {"key_activity_id": key_activity_id})


@bp.get("/preview/lessons/<lesson_id>")
@staff_required
def preview_lesson(lesson_id: str):
    with runtime().transaction() as db:
        lesson, checks = _lesson_items(db, lesson_id)
        module = _preview_module(db, lesson.module_id)
    n = _sample_number()
    if not checks:
        return render_template("instructor_preview_question.html", module=module,
                               heading=f"Lesson: {lesson.title}", item=None, lesson=lesson)
    return _question_page(module, f"Lesson: {lesson.title}", checks, n,
                          "instructor.preview_lesson_answer", {"lesson_id": lesson_id},
                          lesson=lesson)  # the text beside every check, as students see it


@bp.post("/preview/lessons/<lesson_id>")
@staff_required
def preview_lesson_answer(lesson_id: str):
    with runtime().transaction() as db:
        lesson, checks = _lesson_items(db, lesson_id)
        module = _preview_module(db, lesson.module_id)
    return _feedback_page(module, f"Lesson: {lesson.title}", checks,
                          "instructor.preview_lesson", {"lesson_id": lesson_id})
