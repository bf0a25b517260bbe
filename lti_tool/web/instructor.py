"""The instructor's grade page for a graded link: policy, per-student sync, resend."""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request
from sqlalchemy import func, select

from lti_tool.models import (
    Attempt,
    AttemptStatus,
    Enrollment,
    GradingPolicy,
    ResourceLink,
    Role,
    User,
)
from lti_tool.practice.grading import latest_sync, policy_score, queue_link_score
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
        Attempt.resource_link_id == link_row.id, Attempt.status == AttemptStatus.SUBMITTED)
        .distinct()))


@bp.get("/grades")
@staff_required
def grades():
    rt = runtime()
    with rt.transaction() as db:
        link_row = _link(db)
        learners = list(db.execute(select(User, Enrollment).join(
            Enrollment, Enrollment.user_id == User.id).where(
            Enrollment.course_id == link_row.course_id, Enrollment.role == Role.LEARNER)
            .order_by(User.family_name, User.name, User.sub)))
        rows = []
        for user, _ in learners:
            attempts = list(db.scalars(select(Attempt).where(
                Attempt.user_id == user.id, Attempt.resource_link_id == link_row.id,
                Attempt.status == AttemptStatus.SUBMITTED).order_by(Attempt.submitted_at)))
            given, maximum = policy_score(attempts, link_row.grading_policy)
            rows.append({"user": user, "attempts": len(attempts),
                         "score": (given, maximum) if attempts else None,
                         "sync": latest_sync(db, link_row.id, user.id)})
        pending = db.scalar(select(func.count()).select_from(Attempt).where(
            Attempt.resource_link_id == link_row.id, Attempt.status == AttemptStatus.OPEN))
        return render_template("instructor_grades.html", link_row=link_row, rows=rows,
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
