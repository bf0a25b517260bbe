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
    statement_id = str(uuid.uuid4())
    payload = {"verb": verb, "statement_id": statement_id, "timestamp": _iso(now), **fields}
    # A Core insert on the session's connection and transaction: the ORM unit of work
    # would cost more than the rest of an answer's writes together (bench/answers.py).
    session.execute(_INSERT, {"kind": OutboxKind.XAPI, "dedupe_key": statement_id,
                              "payload": payload, "status": OutboxStatus.PENDING,
                              "attempts": 0, "next_attempt_at": now, "created_at": now})
    return statement_id
