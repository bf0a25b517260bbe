"""The durable outbox: the states a delivery row goes through, and the operator's view.

Rows are written in the same transaction as the event they report (events.py,
scores.py). A worker claims due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
workers never take the same row), delivers each with no lock held, and records the
outcome: sent, retry later (the row's backoff, retry.py), or failed with the reason for
an operator. Nothing undelivered is ever deleted (delivered rows are purged after
``outbox.retention_days``, ops/privacy.py). Grades go through here (ags.py); xAPI
statements keep per-destination order and so claim their own way (xapi.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.delivery.provenance import record_requeued
from lti_tool.delivery.retry import Failure
from lti_tool.models import Outbox, OutboxKind, OutboxStatus
from lti_tool.ops.metrics import outbox_health

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # a claimed row is left alone this long

Claimed = tuple[int, dict[str, Any], int]
"""A claimed row: its id, its payload, its attempts counting the one now starting."""

Outcome = tuple[int, int, Failure | None]
"""A delivered row: its id, its attempts, and what failed (None: it was delivered)."""


@dataclass
class Outcomes:
    """What a pass recorded."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def claim_due(session: Session, kind: OutboxKind, now: datetime,
              limit: int) -> list[Claimed]:
    """Take a lease on due rows: other workers skip them until it runs out, and a
    worker that dies mid-delivery leaves them to be delivered again (the LMS keeps
    the score with the latest timestamp, so a repeat is harmless)."""
    query = (select(Outbox).where(Outbox.kind == kind,
                                  Outbox.status == OutboxStatus.PENDING,
                                  Outbox.next_attempt_at <= now)
             .order_by(Outbox.next_attempt_at, Outbox.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = []
    for row in session.scalars(query):
        row.attempts += 1
        row.next_attempt_at = now + LEASE
        claimed.append((row.id, dict(row.payload), row.attempts))
    return claimed


def record_outcomes(session: Session, now: datetime, outcomes: list[Outcome],
                    retry_at: Callable[[Failure, int, datetime], datetime | None],
                    into: Outcomes) -> None:
    """Sent; or due again at ``retry_at(error, attempts, now)``; or, when that is None,
    failed for good (kept, with its reason, for ``cpt-lti outbox retry``)."""
    for row_id, attempts, error in outcomes:
        row = session.get(Outbox, row_id)
        assert row is not None
        if error is None:
            row.status, row.sent_at, row.last_error = OutboxStatus.SENT, now, None
            into.sent += 1
            continue
        row.last_error = str(error)[:500]
        into.errors.append(f"{row_id}: {error}")
        when = retry_at(error, attempts, now)
        if when is None:
            row.status = OutboxStatus.FAILED
            into.failed += 1
            log.warning("outbox %s failed for good: %s", row_id, error)
        else:
            row.next_attempt_at = when
            into.retried += 1


def outbox_status(session: Session, now: datetime) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = {}
    for kind, status, count in session.execute(
            select(Outbox.kind, Outbox.status, func.count()).group_by(Outbox.kind,
                                                                      Outbox.status)):
        counts.setdefault(kind.value, {})[status.value] = count
    oldest = session.scalar(select(func.min(Outbox.created_at)).where(
        Outbox.status == OutboxStatus.PENDING))
    destinations = [
        {"destination": "(not yet routed to an LRS)" if key == "xapi:unrouted" else key[5:],
         **row}
        for key, row in sorted(outbox_health(session, now).items())
        if key.startswith("xapi:")]
    failed = [{"id": r.id, "kind": r.kind.value, "attempts": r.attempts,
               "destination": r.destination,
               "last_error": r.last_error, "created_at": r.created_at.isoformat()}
              for r in session.scalars(select(Outbox).where(
                  Outbox.status == OutboxStatus.FAILED).order_by(Outbox.id).limit(50))]
    return {"counts": counts,
            "oldest_pending_seconds": int((now - oldest).total_seconds()) if oldest else None,
            "xapi_destinations": destinations, "failed": failed}


def retry_failed(session: Session, now: datetime, ids: list[int] | None = None) -> int:
    query = select(Outbox).where(Outbox.status == OutboxStatus.FAILED)
    if ids:
        query = query.where(Outbox.id.in_(ids))
    rows = list(session.scalars(query))
    for row in rows:
        row.status, row.next_attempt_at, row.attempts = OutboxStatus.PENDING, now, 0
    record_requeued(session, now, [r.dedupe_key for r in rows if r.kind == OutboxKind.AGS])
    return len(rows)
