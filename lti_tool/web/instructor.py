"""The instructor's door: class overview with the LMS roster, item analysis, the grade page
of a graded link (policy, per-student sync status, resend), extra time, and a student
preview that walks the curriculum as a student would without saving anything.

The views parse the request, call practice/instructor.py (or practice/preview.py) and
render; what the pages show is read and worked out there."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, g, redirect, render_template, request

from lti_tool.delivery import provenance
from lti_tool.delivery.outbound import OutboundPolicy
from lti_tool.lti import roster
from lti_tool.models import Course, GradingPolicy, ResourceLink
from lti_tool.practice import catalog
from lti_tool.practice import instructor as report
from lti_tool.practice import preview as samples
from lti_tool.practice.analytics import MIN_RESPONSES, MOST_MISS_FACILITY
from lti_tool.practice.instructor import (
    CLASS_SORTS,
    EXTRA_TIME,
    INACTIVE_DAYS,
    ITEM_SORTS,
)
from lti_tool.web.auth import link, staff_required
from lti_tool.web.runtime import runtime

bp = Blueprint("instructor", __name__, url_prefix="/instructor")


def _link(db) -> ResourceLink:
    row = report.course_link(db, g.viewer.course_id, g.viewer.resource_link_id)
    if row is None:
        abort(404, description="Open this page from a graded CPT Practice activity in your "
                               "course.")
    return row


def _course_id() -> int:
    if g.viewer.course_id is None:
        abort(404, description="Open this page from your course.")
    return g.viewer.course_id


def _sort_args(allowed: tuple[str, ...], default: str, default_dir: str = "asc"
               ) -> tuple[str, str]:
    """The ``?sort=&dir=`` of a sortable table, checked against its columns."""
    sort = request.args.get("sort", "")
    if sort not in allowed:
        return default, default_dir
    return sort, "desc" if request.args.get("dir") == "desc" else "asc"


def _roster_if_due(course_id: int | None) -> roster.PendingFetch | None:
    """Claim a background fetch of the course roster when it is missing or too old; the
    caller starts it once its page is rendered (issue 19.2)."""
    if course_id is None:
        return None
    rt = runtime()
    return roster.fetch_if_due(rt.sessions, rt.clock, OutboundPolicy.from_settings(rt.settings),
                               course_id, rt.settings.roster_max_age_minutes)


def _with_roster(page: Callable[[bool], Any]) -> Any:
    """``page(fetch_started)``, and then the roster fetch claimed for it, if one was due:
    started once the page is rendered (or refused), so it never holds the page up."""
    pending = _roster_if_due(g.viewer.course_id)
    try:
        return page(pending is not None)
    finally:
        if pending is not None:
            pending.start()


@bp.get("/grades")
@staff_required
def grades():
    """The whole roster of the course with each one's grade on this link and where it
    stands in the LMS gradebook (the roster fetched in the background when it is due)."""
    return _with_roster(_grades_page)


def _grades_page(_fetch_started: bool):
    with runtime().transaction() as db:
        page = report.grades_page(db, _link(db))
        link_row, rows = page.link, page.rows
        if request.args.get("format") == "csv":
            return _csv("grades.csv", ["student", "attempts", "grade", "out of", "policy",
                                       "sync status", "sync error", "practice attempts",
                                       "note"],
                        [[r.name, r.attempts,
                          r.score[0] if r.score else "",
                          r.score[1] if r.score else "",
                          link_row.grading_policy.value,
                          r.sync.status.value if r.sync else "",
                          (r.sync.last_error or "") if r.sync else "",
                          r.practice, report.grade_note(r)] for r in rows])
        return render_template("instructor_grades.html", link_row=link_row, rows=rows,
                               placed=page.placed, grade_note=report.grade_note,
                               policies=list(GradingPolicy), open_attempts=page.open_attempts,
                               lms=page.lms, headline=provenance.headline,
                               try_line=provenance.try_line,
                               attempts_made=provenance.attempts_made)


@bp.post("/grades/policy")
@staff_required
def set_policy():
    try:
        policy = GradingPolicy(request.form.get("policy", ""))
    except ValueError:
        abort(400, description="Choose best, latest or average.")
    rt = runtime()
    with rt.transaction() as db:
        report.set_policy(db, rt.clock(), _link(db), policy)
    return redirect(link("instructor.grades"), 303)


@bp.post("/grades/resend")
@staff_required
def resend():
    rt = runtime()
    with rt.transaction() as db:
        report.requeue_scores(db, rt.clock(), _link(db))
    return redirect(link("instructor.grades"), 303)


@bp.get("/class")
@staff_required
def class_overview():
    """Every student - from the LMS roster too, so those who never launched show up -
    with attempts, last activity, mastery, readiness and who needs attention, and a
    mastery heat map by topic. A roster that is missing or older than the setting
    ``roster_max_age_minutes`` is fetched in the background, after the page is rendered."""
    _course_id()
    return _with_roster(_class_page)


def _class_page(fetch_started: bool):
    rt = runtime()
    with rt.transaction() as db:
        course_id = _course_id()
        sort, direction = _sort_args(CLASS_SORTS, "name")
        view = report.class_overview(db, rt.clock, course_id, sort, direction,
                                     request.args.get("module") or "")
        rows, modules = view.rows, view.modules
        if request.args.get("format") == "csv":
            return _csv("class-overview.csv",
                        ["student", "status", "launched", "attempts",
                         *[f"best {m.id} %" for m in modules],
                         *[f"pass chance {m.id}" for m in modules],
                         "last active", "needs attention"],
                        [[r.name, r.status, r.launched, r.attempts,
                          *[round(r.best[m.id], 1) if m.id in r.best else ""
                            for m in modules],
                          *[round(r.ready[m.id], 3) if m.id in r.ready else ""
                            for m in modules],
                          r.last_active.strftime("%Y-%m-%d") if r.last_active else "",
                          "; ".join(r.risks)] for r in rows])
        course = db.get(Course, course_id)
        state = roster.state(course, view.now, roster.lease(
            OutboundPolicy.from_settings(rt.settings))) if course else None
        return render_template("instructor_class.html", rows=rows, modules=modules,
                               synced=view.synced, roster=state,
                               fetching=fetch_started or bool(state and state.fetching),
                               heat_module=view.heat_module, activities=view.activities,
                               sort=sort, dir=direction, now=view.now,
                               inactive_days=INACTIVE_DAYS, attention=view.attention)


@bp.post("/class/roster")
@staff_required
def refresh_roster():
    """Fetch the roster from the LMS now (NRPS), with the course's own roster URL; a
    fetch already under way is waited for, not doubled. What went wrong is kept with the
    course and shown on the class overview."""
    rt = runtime()
    roster.refresh_now(rt.sessions, rt.clock, OutboundPolicy.from_settings(rt.settings),
                       _course_id())
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


@bp.get("/items")
@staff_required
def items():
    """Item analysis for this course: facility, discrimination, distractor choice rates;
    the items most students miss first."""
    with runtime().transaction() as db:
        rows = report.item_rows(db, _course_id())
    if request.args.get("format") == "csv":
        return _csv("item-analysis.csv", ["item", "key activity", "responses", "facility",
                                          "discrimination", "A", "B", "C", "D", "flag",
                                          "most students miss it"],
                    [[r.item.id, r.item.key_activity_id, r.stats.responses,
                      round(r.stats.facility, 3),
                      None if r.stats.discrimination is None
                      else round(r.stats.discrimination, 3),
                      *[round(c, 3) for c in r.stats.choice_rates], r.stats.flag or "",
                      "yes" if r.stats.most_miss else ""] for r in rows])
    sort, direction = _sort_args(ITEM_SORTS, "", "asc")
    rows = report.sort_items(rows, sort, direction)
    return render_template("instructor_items.html", rows=rows, sort=sort, dir=direction,
                           missed=sum(1 for r in rows if r.stats.most_miss),
                           most_miss=MOST_MISS_FACILITY, min_responses=MIN_RESPONSES)


@bp.get("/items/<item_id>")
@staff_required
def item_detail(item_id: str):
    """One item with its key and every option's rationale, and how this course's students
    answered it. Only items this course's students answered: the page reports on the
    course, so another course's answers never show here."""
    with runtime().transaction() as db:
        found = report.item_detail(db, _course_id(), item_id)
    if found is None:
        abort(404, description="No student in this course has answered that question "
                               "in a finished test yet.")
    return render_template("instructor_item.html", item=found.item, stats=found.stats,
                           topic=found.topic, module=found.module)


@bp.get("/students/<int:user_id>")
@staff_required
def student(user_id: int):
    """One student's finished attempts in this course, each opening its review."""
    with runtime().transaction() as db:
        page = report.student_page(db, g.viewer.course_id, user_id)
        if page is None:
            abort(404, description="That student is not in this course.")
        saved = (report.time_saved(db, page.user, page.enrollment.time_multiplier)
                 if request.args.get("saved") else None)
        return render_template("instructor_student.html", user=page.user,
                               attempts=page.attempts, enrollment=page.enrollment,
                               choices=EXTRA_TIME, saved=saved)


@bp.post("/students/<int:user_id>/time")
@staff_required
def set_extra_time(user_id: int):
    """Extra time on timed exams for one student in this course (an accommodation)."""
    multiplier = request.form.get("multiplier", type=float)
    if multiplier not in EXTRA_TIME:
        abort(400, description="Choose standard time, 1.25x, 1.5x or 2x.")
    with runtime().transaction() as db:
        if not report.set_extra_time(db, g.viewer.course_id, user_id, multiplier):
            abort(404, description="That student is not in this course.")
    return redirect(link("instructor.student", user_id=user_id, saved=1), 303)


@bp.get("/attempts/<attempt_id>")
@staff_required
def attempt_review(attempt_id: str):
    rt = runtime()
    with rt.transaction() as db:
        review = report.attempt_review(db, rt.clock, g.viewer.course_id, attempt_id)
        if review is None:
            abort(404, description="No such attempt in this course.")
        return render_template("instructor_attempt.html", result=review.result,
                               module=review.module, student=review.student)


# --- Student preview -----------------------------------------------------------------
# An instructor walks a module as a student would (practice/preview.py): nothing is
# written, so a preview never shows up in the class's data or the LMS gradebook.


def _preview_module(db, module_id: str) -> catalog.CachedModule:
    module = catalog.module(db, module_id)
    if module is None:
        abort(404, description="There is no such module.")
    return module


def _sample(find: Callable[[Any, str], tuple[Any, list[catalog.CachedItem]] | None],
            key: str, missing: str) -> tuple[catalog.CachedModule, Any,
                                             list[catalog.CachedItem]]:
    """A topic's or lesson's module, the topic or lesson, and its sample questions
    (``find`` is samples.drill_sample or samples.lesson_sample), or a 404 saying ``missing``."""
    with runtime().transaction() as db:
        found = find(db, key)
        if found is None:
            abort(404, description=missing)
        part, items = found
        return _preview_module(db, part.module_id), part, items


def _drill(key_activity_id: str) -> tuple[catalog.CachedModule, str,
                                          list[catalog.CachedItem]]:
    module, ka, drill_items = _sample(samples.drill_sample, key_activity_id,
                                      "There is no such topic.")
    return module, f"Drill: {ka.title}", drill_items


def _lesson(lesson_id: str) -> tuple[catalog.CachedModule, catalog.CachedLesson,
                                     list[catalog.CachedItem]]:
    return _sample(samples.lesson_sample, lesson_id, "There is no such lesson.")


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
        lessons = samples.module_lessons(db, module_id)
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
    answer = samples.answer_key(item)
    following = (n + 1) % len(items)
    return render_template("instructor_preview_feedback.html", module=module,
                           heading=heading, item=item, chosen=choice, answer=answer,
                           correct=choice == answer,
                           next_url=link(endpoint, n=following, **values),
                           more=len(items) > 1)


@bp.get("/preview/topics/<key_activity_id>")
@staff_required
def preview_drill(key_activity_id: str):
    module, heading, drill_items = _drill(key_activity_id)
    return _question_page(module, heading, drill_items, _sample_number(),
                          "instructor.preview_drill_answer",
                          {"key_activity_id": key_activity_id})


@bp.post("/preview/topics/<key_activity_id>")
@staff_required
def preview_drill_answer(key_activity_id: str):
    module, heading, drill_items = _drill(key_activity_id)
    return _feedback_page(module, heading, drill_items,
                          "instructor.preview_drill", {"key_activity_id": key_activity_id})


@bp.get("/preview/lessons/<lesson_id>")
@staff_required
def preview_lesson(lesson_id: str):
    module, lesson, checks = _lesson(lesson_id)
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
    module, lesson, checks = _lesson(lesson_id)
    return _feedback_page(module, f"Lesson: {lesson.title}", checks,
                          "instructor.preview_lesson", {"lesson_id": lesson_id})
