"""Read-only questions an instructor asks about one course: who is on the roster, when each
student was last active, and who did a graded activity from a link that does not grade it.

Every function takes the course id and reads only that course's rows: an instructor's
session names one course, and nothing here may reach another course's students.
Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.models import (
    Attempt,
    AttemptStatus,
    Enrollment,
    Role,
    RosterMember,
    User,
)
from lti_tool.practice.placement import Placement


@dataclass(frozen=True)
class RosterEntry:
    """One learner of the course: launched (``user`` set) or only listed by the LMS roster
    (NRPS) and never opened the tool (``user`` is None)."""

    sub: str
    name: str
    status: str  # the LMS roster's status ("Active", "Inactive", "Deleted") or "Active"
    user: User | None
    enrollment: Enrollment | None

    @property
    def launched(self) -> bool:
        return self.user is not None


def _sort_name(user: User | None, member: RosterMember | None, sub: str) -> tuple[str, str]:
    family = (user.family_name if user else None) or ""
    name = (user.name if user else None) or (member.name if member else None) or sub
    if not family and member is not None and member.name:
        family = member.name.split()[-1]
    return family.casefold(), name.casefold()


def roster(session: Session, course_id: int) -> list[RosterEntry]:
    """Every learner the tool knows in the course: its enrollments (students who launched)
    and the LMS roster's learners (synced over NRPS, maybe never launched), by family name."""
    enrolled = {user.sub: (user, enrollment) for user, enrollment in session.execute(
        select(User, Enrollment).join(Enrollment, Enrollment.user_id == User.id).where(
            Enrollment.course_id == course_id, Enrollment.role == Role.LEARNER))}
    members = {m.sub: m for m in session.scalars(select(RosterMember).where(
        RosterMember.course_id == course_id))}
    subs = set(enrolled) | {sub for sub, m in members.items() if m.role == Role.LEARNER}
    entries = []
    for sub in subs:
        user, enrollment = enrolled.get(sub, (None, None))
        member = members.get(sub)
        name = (user.name if user else None) or (member.name if member else None) or sub
        entries.append((_sort_name(user, member, sub), RosterEntry(
            sub, name, member.status if member else "Active", user, enrollment)))
    return [entry for _, entry in sorted(entries, key=lambda pair: (pair[0], pair[1].sub))]


def last_active(session: Session, course_id: int) -> dict[int, datetime]:
    """When each student of the course last did something in it: the later of their last
    launch and their last change to an attempt of this course."""
    seen: dict[int, datetime] = {}
    for user_id, at in session.execute(select(Enrollment.user_id, Enrollment.last_launch_at)
                                       .where(Enrollment.course_id == course_id)):
        if at is not None:
            seen[user_id] = at
    for user_id, at in session.execute(
            select(Attempt.user_id, func.max(Attempt.updated_at))
            .where(Attempt.course_id == course_id).group_by(Attempt.user_id)):
        if at is not None and (user_id not in seen or at > seen[user_id]):
            seen[user_id] = at
    return seen


def did_elsewhere(session: Session, course_id: int, link_id: int,
                  placed: Placement | None) -> set[int]:
    """Students who finished exactly the activity ``link_id`` grades, but from another link
    of the course (or the tool's home). Those attempts never count here (placement.py), so
    the grades page says so instead of "not started"."""
    if placed is None:
        return set()
    done: set[int] = set()
    for user_id, item_ids in session.execute(select(Attempt.user_id, Attempt.item_ids).where(
            Attempt.course_id == course_id, Attempt.status == AttemptStatus.SUBMITTED,
            Attempt.mode == placed.mode, Attempt.module_id == placed.module_id,
            Attempt.key_activity_id.is_(None), Attempt.lesson_id.is_(None),
            (Attempt.resource_link_id.is_(None)) | (Attempt.resource_link_id != link_id))):
        if len(item_ids or []) == placed.size:
            done.add(user_id)
    return done
