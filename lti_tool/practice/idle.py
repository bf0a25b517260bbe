"""Closing attempts a student walked away from.

A drill has no last question: students simply stop, so without this its xAPI session
never got its "terminated" and the time spent was never reported. The worker calls
``close_idle`` on its passes; a drill with no activity (a question shown or answered)
for the configured time (``drill_idle_minutes``) is closed with the time actually spent
(start to last activity, not the idle gap after it). Its ``updated_at`` stays the last
activity, so the class views do not see the student active when the tool closed it.

Closing is one guarded UPDATE (still open, its version unchanged since it was read as
idle): two workers, or a worker and the student's own "End drill" or answer, cannot both
win, so the "terminated" is queued once and the score counts every answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from lti_tool.delivery import events
from lti_tool.models import Attempt, AttemptStatus, Response
from lti_tool.practice import modes

BATCH = 200  # attempts closed per call; the next pass takes the rest


def close_idle(session: Session, now: datetime, idle: timedelta) -> int:
    """Close the open attempts of idle-closed modes (drills) with no activity since
    ``now - idle``; how many were closed. Each gets its "terminated" event, in this
    transaction."""
    cutoff = now - idle
    candidates = session.execute(
        select(Attempt.id, Attempt.user_id, Attempt.mode, Attempt.module_id,
               Attempt.key_activity_id, Attempt.lesson_id, Attempt.course_id,
               Attempt.started_at, Attempt.updated_at, Attempt.version)
        .where(Attempt.status == AttemptStatus.OPEN,
               Attempt.mode.in_(modes.IDLE_CLOSED_MODES), Attempt.updated_at < cutoff)
        .order_by(Attempt.updated_at).limit(BATCH)).all()
    closed = 0
    for row in candidates:
        # A drill scores every answer (as practice.service does on its submit).
        total, raw = session.execute(
            select(func.count(Response.id),
                   func.coalesce(func.sum(case((Response.correct, 1), else_=0)), 0))
            .where(Response.attempt_id == row.id)).one()
        ended = max(row.updated_at, row.started_at)
        done = session.execute(
            update(Attempt)
            .where(Attempt.id == row.id, Attempt.status == AttemptStatus.OPEN,
                   Attempt.version == row.version)  # unchanged since read: still idle
            .values(status=AttemptStatus.SUBMITTED, open_key=None, submitted_at=ended,
                    auto_submitted=True, score_raw=raw, score_max=total,
                    served_item_id=None, version=Attempt.version + 1)
            .execution_options(synchronize_session=False))
        if done.rowcount != 1:  # the student (or another worker) got there first
            continue
        closed += 1
        events.queue(session, now, events.Terminated(
            user_id=row.user_id, attempt_id=row.id, mode=row.mode.value,
            module_id=row.module_id, key_activity_id=row.key_activity_id,
            lesson_id=row.lesson_id, course_id=row.course_id, score_raw=raw,
            score_max=total,
            duration_seconds=round((ended - row.started_at).total_seconds(), 2)))
    return closed
