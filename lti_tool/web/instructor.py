"""The instructor's door: class overview with the LMS roster, and the grade page of a
graded link (policy, per-student sync status, resend)."""

from __future__ import annotations

import csv
import io
import re
from random import Random

from flask import Blueprint, Response, abort, g, redirect, render_template, request
from sqlalchemy import func, select

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
from lti_tool.outbound import OutboundPolicy
from lti_tool.practice import catalog
from lti_tool.practice.analytics import item_analysis
from lti_tool.practice.grading import latest_sync, policy_score, queue_link_score
from lti_tool.practice.placement import placement
from lti_tool.practice.service import PracticeService
from lti_tool.runtime import runtime
from lti_tool.web.auth import link, staff_required

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
    rt = runtime()
    with rt.transaction() as db:
        link_row = _link(db)
        placed = placement(db, link_row)
        module = catalog.module(db, placed.module_id) if placed else None
        learners = list(db.execute(select(User, Enrollment).join(
            Enrollment, Enrollment.user_id == User.id).where(
            Enrollment.course_id == link_row.course_id, Enrollment.role == Role.LEARNER)
            .order_by(User.family_name, User.name, User.sub)))
        rows = []
        for user, _ in learners:
            taken = list(db.scalars(select(Attempt).where(
                Attempt.user_id == user.id, Attempt.resource_link_id == link_row.id,
                Attempt.status == AttemptStatus.SUBMITTED).order_by(Attempt.submitted_at)))
            attempts = [a for a in taken if a.counts_for_grade]
            given, maximum = policy_score(attempts, link_row.grading_policy)
            rows.append({"user": user, "attempts": len(attempts),
                         "practice": len(taken) - len(attempts),
                         "score": (given, maximum) if attempts else None,
                         "sync": latest_sync(db, link_row.id, user.id)})
        pending = db.scalar(select(func.count()).select_from(Attempt).where(
            Attempt.resource_link_id == link_row.id, Attempt.status == AttemptStatus.OPEN,
            Attempt.counts_for_grade.is_(True)))
        if request.args.get("format") == "csv":
            return _csv("grades.csv", ["student", "attempts", "grade", "out of", "policy",
                                       "sync status", "sync error", "practice attempts"],
                        [[r["user"].name or r["user"].sub, r["attempts"],
                          r["score"][0] if r["score"] else "",
                          r["score"][1] if r["score"] else "",
                          link_row.grading_policy.value,
                          r["sync"].status.value if r["sync"] else "",
                          (r["sync"].last_error or "") if r["sync"] else "",
                          r["practice"]] for r in rows])
        return render_template("instructor_grades.html", link_row=link_row, rows=rows,
                               placed=placed.describe(module.title) if placed and module
                               else None,
                               policies=list(GradingPolicy), open_attempts=pending)


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


@bp.get("/class")
@staff_required
def class_overview():
    """Every student - from the LMS roster too, so those who never launched show up -
    with attempts, best score per module and readiness."""
    rt = runtime()
    with rt.transaction() as db:
        course_id = g.viewer.course_id
        if course_id is None:
            abort(404, description="Open this page from your course.")
        enrolled = {user.sub: user for user, _ in db.execute(
            select(User, Enrollment).join(Enrollment, Enrollment.user_id == User.id).where(
                Enrollment.course_id == course_id, Enrollment.role == Role.LEARNER))}
        roster = {m.sub: m for m in db.scalars(select(RosterMember).where(
            RosterMember.course_id == course_id))}
        synced = max((m.synced_at for m in roster.values()), default=None)
        modules = catalog.modules(db)
        service = PracticeService(db, rt.clock, Random())
        # The whole class's submitted attempts and mastery in two queries, not two a student.
        submitted: dict[int, list[Attempt]] = {}
        for a in db.scalars(select(Attempt).where(
                Attempt.course_id == course_id, Attempt.status == AttemptStatus.SUBMITTED)):
            submitted.setdefault(a.user_id, []).append(a)
        mastery_rows = service.mastery_rows(select(Enrollment.user_id).where(
            Enrollment.course_id == course_id, Enrollment.role == Role.LEARNER))
        rows = []
        for sub in sorted(set(enrolled) | {s for s, m in roster.items()
                                           if m.role == Role.LEARNER}):
            user, member = enrolled.get(sub), roster.get(sub)
            row = {"name": (user.name if user else None) or (member.name if member else None)
                   or sub, "status": member.status if member else "Active",
                   "launched": user is not None, "attempts": 0, "best": {}, "ready": {},
                   "user_id": user.id if user else None, "mastery": {}}
            if user is not None:
                attempts = submitted.get(user.id, [])
                row["attempts"] = len(attempts)
                for a in attempts:
                    if a.mode.value in ("practice", "mock") and a.score_max:
                        pct = 100.0 * (a.score_raw or 0) / a.score_max
                        row["best"][a.module_id] = max(row["best"].get(a.module_id, 0), pct)
                mastery = service.mastery(user.id, mastery_rows.get(user.id, {}))
                for r in mastery.readiness:
                    if r.ready:
                        row["ready"][r.module_id] = r.probability
                row["mastery"] = {a.key_activity_id: a for a in mastery.activities}
            rows.append(row)
        heat_module = request.args.get("module") or (modules[0].id if modules else "")
        activities = catalog.live_activities(db, heat_module)
        if request.args.get("format") == "csv":
            return _csv("class-overview.csv",
                        ["student", "status", "launched", "attempts",
                         *[f"best {m.id} %" for m in modules],
                         *[f"pass chance {m.id}" for m in modules]],
                        [[r["name"], r["status"], r["launched"], r["attempts"],
                          *[round(r["best"][m.id], 1) if m.id in r["best"] else ""
                            for m in modules],
                          *[round(r["ready"][m.id], 3) if m.id in r["ready"] else ""
                            for m in modules]] for r in rows])
        return render_template("instructor_class.html", rows=rows, modules=modules,
                               synced=synced, roster_error=request.args.get("roster_error"),
                               heat_module=heat_module, activities=activities)


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


@bp.get("/items")
@staff_required
def items():
    """Item analysis for this course: facility, discrimination, distractor choice rates."""
    rt = runtime()
    with rt.transaction() as db:
        if g.viewer.course_id is None:
            abort(404, description="Open this page from your course.")
        stats = item_analysis(db, g.viewer.course_id)
        bank = catalog.items(db)
    if request.args.get("format") == "csv":
        return _csv("item-analysis.csv", ["item", "key activity", "responses", "facility",
                                          "discrimination", "A", "B", "C", "D", "flag"],
                    [[s.item_id, bank[s.item_id].key_activity_id, s.responses,
                      round(s.facility, 3),
                      None if s.discrimination is None else round(s.discrimination, 3),
                      *[round(r, 3) for r in s.choice_rates], s.flag or ""] for s in stats])
    return render_template("instructor_items.html", stats=stats, bank=bank)


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
        return render_template("instructor_student.html", user=user, attempts=attempts,
                               enrollment=enrolled, choices=EXTRA_TIME)


EXTRA_TIME = (1.0, 1.25, 1.5, 2.0)


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
    return redirect(link("instructor.student", user_id=user_id), 303)


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
        return render_template("student_results.html", result=result, module=module,
                               reviewer=True)
