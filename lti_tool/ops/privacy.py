"""Erasing a learner, and purging what the tool no longer needs to keep.

Erase keeps what is anonymous and useful to a class - item statistics and attempt scores
- by moving the learner's attempts to a fresh placeholder user with a random id, and
deletes everything that points at the person: the user row (name, e-mail, LTI sub),
enrolments, roster entries, sessions, mastery, grade records, and every outbox row about
them (queued statements and grades are not sent). The statements already in an LRS are
voided there: ops/erasure.py queues a voiding statement per statement and LRS, and keeps
the erasure's report.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from lti_tool.models import (
    AdminLoginFailure,
    AdminSession,
    Attempt,
    Enrollment,
    GradeRecord,
    LaunchValue,
    Mastery,
    Outbox,
    OutboxKind,
    OutboxStatus,
    Platform,
    RosterMember,
    StatementLedger,
    ToolSession,
    User,
)
from lti_tool.ops import erasure

log = logging.getLogger(__name__)


class EraseError(LookupError):
    """No such learner (or platform)."""


@dataclass(frozen=True)
class Erased:
    attempts_kept_anonymously: int
    outbox_rows_removed: int
    roster_rows_removed: int
    erasure_id: int = 0  # its report: ops/erasure.py ``report``
    voids_queued: int = 0


def erase_user(session: Session, issuer: str, sub: str, client_id: str | None = None, *,
               tool_home: str, now: datetime | None = None) -> Erased:
    """Remove the person from the tool and queue a voiding, in every LRS that got one, of
    each statement about them (ops/erasure.py). ``tool_home``: the tool's base URL, the
    voiding statements' actor."""
    now = now or datetime.now(UTC)
    query = select(Platform).where(Platform.issuer == issuer)
    if client_id:
        query = query.where(Platform.client_id == client_id)
    platforms = list(session.scalars(query))
    if not platforms:
        raise EraseError(f"no platform with issuer {issuer}")
    users = list(session.scalars(select(User).where(
        User.platform_id.in_([p.id for p in platforms]), User.sub == sub)))
    if not users:
        raise EraseError("no learner with that sub on that platform")
    kept = removed = roster = 0
    to_void: set[tuple[str, str]] = set()
    for user in users:
        attempt_ids = list(session.scalars(select(Attempt.id).where(
            Attempt.user_id == user.id)))
        # Outbox rows about the person: xAPI events carry the user id; grades the attempt.
        about = Outbox.payload["user_id"].as_integer() == user.id
        if attempt_ids:
            about = or_(about, Outbox.payload["attempt_id"].as_string().in_(attempt_ids))
        frozen = session.execute(select(Outbox.destination, Outbox.body).where(
            about, Outbox.kind == OutboxKind.XAPI)).tuples().all()
        to_void |= erasure.statements_about(session, user.id, frozen)
        removed += session.execute(delete(Outbox).where(about)).rowcount
        placeholder = User(platform_id=user.platform_id, sub=f"erased-{uuid.uuid4()}")
        session.add(placeholder)
        session.flush()
        kept += session.execute(update(Attempt).where(Attempt.user_id == user.id).values(
            user_id=placeholder.id, open_key=None)).rowcount
        course_ids = list(session.scalars(select(Enrollment.course_id).where(
            Enrollment.user_id == user.id)))
        if course_ids:
            roster += session.execute(delete(RosterMember).where(
                RosterMember.course_id.in_(course_ids), RosterMember.sub == sub)).rowcount
        for table in (Mastery, Enrollment, ToolSession, GradeRecord, StatementLedger):
            session.execute(delete(table).where(table.user_id == user.id))
        session.delete(user)
        log.info("erased learner %s of platform %s: %d attempts kept anonymously, "
                 "%d outbox rows removed", user.id, user.platform_id, kept, removed)
    session.flush()
    voids = erasure.queue_voids(session, to_void, tool_home, now)
    done = erasure.record(session, issuer, sub, now, {
        "attempts_kept_anonymously": kept, "outbox_rows_removed": removed,
        "roster_rows_removed": roster}, voids)
    return Erased(kept, removed, roster, done.id, sum(len(v) for v in voids.values()))


def purge_expired(session: Session, now: datetime, delivered_days: int) -> dict[str, int]:
    """Data retention: delivered outbox rows older than ``delivered_days`` (0 keeps them),
    and expired launch state, tool sessions, admin sessions and old failed sign-ins.
    Undelivered rows are never purged."""
    counts = {}
    if delivered_days > 0:
        counts["outbox"] = session.execute(delete(Outbox).where(
            Outbox.status == OutboxStatus.SENT,
            Outbox.sent_at < now - timedelta(days=delivered_days))).rowcount
    counts["launch_values"] = session.execute(delete(LaunchValue).where(
        LaunchValue.expires_at <= now)).rowcount
    counts["tool_sessions"] = session.execute(delete(ToolSession).where(
        ToolSession.expires_at <= now)).rowcount
    counts["admin_sessions"] = session.execute(delete(AdminSession).where(
        AdminSession.expires_at <= now)).rowcount
    counts["admin_login_failures"] = session.execute(delete(AdminLoginFailure).where(
        AdminLoginFailure.at <= now - timedelta(days=1))).rowcount
    return counts
