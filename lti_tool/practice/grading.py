"""What the gradebook shows for a student on a graded link, under the link's policy.

Only attempts that count for the link (exactly its placed activity, see placement.py)
make the grade. The grade waits in the outbox for the LMS (delivery/scores.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.delivery.scores import LinkScore, queue_score
from lti_tool.models import Attempt, AttemptStatus, GradingPolicy, ResourceLink
from lti_tool.practice.modes import GRADED_MODES
from lti_tool.practice.placement import placement


def counted_attempts(session: Session, link_id: int, user_id: int) -> list[Attempt]:
    """The submitted attempts that make one student's grade on one link, oldest first."""
    return list(session.scalars(select(Attempt).where(
        Attempt.user_id == user_id, Attempt.resource_link_id == link_id,
        Attempt.status == AttemptStatus.SUBMITTED, Attempt.counts_for_grade.is_(True),
        Attempt.mode.in_(GRADED_MODES)).order_by(Attempt.submitted_at, Attempt.id)))


def policy_score(attempts: list[Attempt], policy: GradingPolicy) -> tuple[float, float]:
    """(score given, score maximum) of finished attempts, oldest first."""
    scored = [(a.score_raw or 0, a.score_max or 0) for a in attempts if a.score_max]
    if not scored:
        return 0.0, 0.0
    if policy == GradingPolicy.LATEST:
        given, maximum = scored[-1]
        return float(given), float(maximum)
    maximum = float(scored[-1][1])
    fractions = [g / m for g, m in scored]
    if policy == GradingPolicy.AVERAGE:
        return round(maximum * sum(fractions) / len(fractions), 2), maximum
    return round(maximum * max(fractions), 2), maximum


def queue_link_score(session: Session, now: datetime, link_id: int, user_id: int) -> bool:
    """Queue the policy score of one student on one link; False if nothing to publish."""
    link = session.get(ResourceLink, link_id)
    # A link that places no graded activity (any more) sends nothing: no line item appears
    # in the gradebook for course navigation or a lessons link.
    if link is None or placement(session, link) is None:
        return False
    attempts = counted_attempts(session, link_id, user_id)
    if not attempts:
        return False
    given, maximum = policy_score(attempts, link.grading_policy)
    latest = attempts[-1]
    assert latest.submitted_at is not None
    queue_score(session, now, LinkScore(
        attempt_id=latest.id, resource_link_id=link_id, user_id=user_id,
        score_given=given, score_maximum=maximum, mode=latest.mode.value,
        policy=link.grading_policy.value, attempts=len(attempts),
        submitted_at=latest.submitted_at,
        counted=tuple({"id": a.id, "score": a.score_raw, "max": a.score_max,
                       "submitted_at": a.submitted_at.isoformat() if a.submitted_at else None}
                      for a in attempts)))
    return True
