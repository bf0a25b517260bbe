"""Learning events queued in the outbox, in the same transaction as what they report.

Each event gets its statement id (UUID4) now, when it happens, and keeps it through every
delivery retry: that is what lets the LRS side drop duplicates (xapi package, issue 6).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from lti_tool.models import Outbox, OutboxKind, OutboxStatus

_INSERT = insert(Outbox.__table__)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def queue_event(session: Session, now: datetime, verb: str, **fields: Any) -> str:
    """Queue one learning event for the LRS; returns its statement id."""
    return queue_events(session, now, [(verb, fields)])[0]


def queue_events(session: Session, now: datetime,
                 events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Queue several events (verb, fields) in one statement, in order; their ids.

    A Core insert on the session's connection and transaction: the ORM unit of work
    would cost more than the rest of an answer's writes together (bench/answers.py), and
    a submit's four to ten events go to PostgreSQL as one pipelined batch, not one round
    trip each.
    """
    rows, ids = [], []
    for verb, fields in events:
        statement_id = str(uuid.uuid4())
        ids.append(statement_id)
        rows.append({"kind": OutboxKind.XAPI, "dedupe_key": statement_id,
                     "payload": {"verb": verb, "statement_id": statement_id,
                                 "timestamp": _iso(now), **fields},
                     "status": OutboxStatus.PENDING, "attempts": 0,
                     "next_attempt_at": now, "created_at": now})
    if rows:
        session.execute(_INSERT, rows)
    return ids
