"""Grades queued for the LMS gradebook (LTI AGS), in the transaction that changed them.

Which attempts count and what score they make is the engine's policy
(practice/grading.py); this is how the result waits in the outbox. Every publish is a new
row stamped with the time the score changed, so a later publish (a new attempt, or a
policy change) always wins at the LMS, while Canvas's ``submitted_at`` stays the time of
the student's own last submission. The worker sends it with delivery/ags.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.delivery.provenance import record_queued
from lti_tool.models import Outbox, OutboxKind, OutboxStatus


@dataclass(frozen=True, kw_only=True)
class LinkScore:
    """One student's grade on one graded link, as the link's policy makes it.
    ``attempt_id``, ``mode`` and ``submitted_at``: of the latest counted attempt;
    ``attempts``: how many counted (the comment beside the grade says so); ``counted``:
    each of them (id, score, max, submitted_at), kept as the grade's provenance."""

    attempt_id: str
    resource_link_id: int
    user_id: int
    score_given: float
    score_maximum: float
    mode: str
    policy: str
    attempts: int
    submitted_at: datetime
    counted: tuple[dict[str, Any], ...] = ()


def score_key_prefix(link_id: int, user_id: int) -> str:
    return f"score:{link_id}:{user_id}:"


def queue_score(session: Session, now: datetime, score: LinkScore) -> None:
    """Queue one grade for the LMS (through the ORM session, like the rows around it), and
    its provenance (provenance.py), kept after the outbox row is purged."""
    key = score_key_prefix(score.resource_link_id, score.user_id) + uuid.uuid4().hex
    record_queued(session, now, key, score)
    session.add(Outbox(
        kind=OutboxKind.AGS,
        dedupe_key=key,
        payload={"attempt_id": score.attempt_id, "resource_link_id": score.resource_link_id,
                 "user_id": score.user_id, "score_given": score.score_given,
                 "score_maximum": score.score_maximum, "mode": score.mode,
                 "policy": score.policy, "attempts": score.attempts,
                 "submitted_at": score.submitted_at.isoformat(timespec="milliseconds"),
                 "timestamp": now.isoformat(timespec="milliseconds")},
        status=OutboxStatus.PENDING, next_attempt_at=now, created_at=now))


def latest_sync(session: Session, link_id: int, user_id: int) -> Outbox | None:
    """The newest grade queued for one student on one link (sent, waiting or failed)."""
    return session.scalars(select(Outbox).where(
        Outbox.kind == OutboxKind.AGS,
        Outbox.dedupe_key.startswith(score_key_prefix(link_id, user_id)))
        .order_by(Outbox.id.desc())).first()


def latest_syncs(session: Session, link_id: int) -> dict[int, Outbox]:
    """Each student's latest score row for the link (``latest_sync`` for a whole class)
    in two queries: the keys of the link's score rows, then the newest row of each
    ``score:<link>:<user>:`` key prefix."""
    prefix = score_key_prefix(link_id, 0)[:-len("0:")]  # "score:<link>:"
    newest: dict[int, int] = {}
    for row_id, key in session.execute(select(Outbox.id, Outbox.dedupe_key).where(
            Outbox.kind == OutboxKind.AGS, Outbox.dedupe_key.startswith(prefix))):
        user = key[len(prefix):].split(":", 1)[0]
        if user.isdigit() and row_id > newest.get(int(user), -1):
            newest[int(user)] = row_id
    if not newest:
        return {}
    rows = {r.id: r for r in session.scalars(select(Outbox).where(
        Outbox.id.in_(list(newest.values()))))}
    return {user: rows[row_id] for user, row_id in newest.items()}
