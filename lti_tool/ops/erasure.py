"""Erasure that reaches the LRS: every statement the tool sent about a person, in every
LRS that got it, is voided (xAPI 1.0.3 voiding statements, xapi/voiding.py).

The voiding statements go through the outbox like any statement - queued behind what that
LRS already has waiting, so an LRS that is down gets them when it is back, in order - and
the erasure is kept as a report (``Erasure``) an officer can file and re-read: what the
tool removed, and per LRS how many voidings were delivered and how many still wait.

Which statements: the ledger (``StatementLedger``, written at fan-out and kept past the
outbox purge) plus any frozen outbox row about the person (statements sent before the
ledger existed). Statements not yet sent are removed with the person's other outbox rows
(erasure wins) - and voided all the same, since one may be on the wire that very moment;
an LRS accepts a voiding for a statement it never got (Data 2.3.2).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.models import Erasure, LrsEndpoint, Outbox, OutboxKind, OutboxStatus, StatementLedger
from xapi.quality import check
from xapi.voiding import voiding_body

# LRSs that let a tool delete statements by agent through their API. Ralph (ralph-malph
# 4.x) offers none over xAPI: no DELETE route, and ``voidedStatementId`` is marked
# "not implemented". None shipped today; ``--delete-in-lrs`` says so instead of pretending.
DELETES_BY_AGENT: frozenset[str] = frozenset()


def subject_hash(issuer: str, sub: str) -> str:
    """Enough to answer "was this person erased?" from their issuer and sub; not enough to
    name them from the report."""
    return hashlib.sha256(f"{issuer}\n{sub}".encode()).hexdigest()


def statements_about(session: Session, user_id: int,
                     frozen: Iterable[tuple[str | None, str | None]]) -> set[tuple[str, str]]:
    """(statement id, destination) for every statement about the person: the ledger, and
    the frozen outbox rows (``frozen``: their destination and body) about to be removed."""
    found = set(session.execute(select(StatementLedger.statement_id,
                                       StatementLedger.destination)
                                .where(StatementLedger.user_id == user_id)).tuples())
    for destination, body in frozen:
        if destination and body:
            try:
                statement_id = json.loads(body).get("id")
            except ValueError:
                continue
            if statement_id:
                found.add((str(statement_id), destination))
    return found


def queue_voids(session: Session, statements: set[tuple[str, str]], tool_home: str,
                now: datetime) -> dict[str, list[int]]:
    """One voiding statement per (statement, LRS), frozen and queued for that LRS; the
    outbox row ids per destination, for the report."""
    voids: dict[str, list[int]] = {}
    for statement_id, destination in sorted(statements, key=lambda s: (s[1], s[0])):
        void_id = str(uuid.uuid4())
        body = voiding_body(void_id, statement_id, tool_home, now)
        problems = check(json.loads(body))
        if problems:  # the gate every statement passes (delivery/gate.py)
            raise ValueError(f"a voiding statement fails the quality gate: {problems[0]}")
        row = Outbox(kind=OutboxKind.XAPI, dedupe_key=f"void:{statement_id}@{destination}",
                     payload={"voids": statement_id, "statement_id": void_id},
                     status=OutboxStatus.PENDING, next_attempt_at=now, created_at=now,
                     destination=destination, body=body)
        existing = session.scalar(select(Outbox.id).where(
            Outbox.kind == OutboxKind.XAPI, Outbox.dedupe_key == row.dedupe_key))
        if existing is not None:  # voided by an earlier erasure already
            voids.setdefault(destination, []).append(existing)
            continue
        session.add(row)
        session.flush()  # one at a time: ids keep the queue order
        voids.setdefault(destination, []).append(row.id)
    return voids


def record(session: Session, issuer: str, sub: str, now: datetime, removed: dict[str, int],
           voids: dict[str, list[int]]) -> Erasure:
    erasure = Erasure(issuer=issuer, subject_hash=subject_hash(issuer, sub), erased_at=now,
                      removed=removed, voids=voids)
    session.add(erasure)
    session.flush()
    return erasure


def _destination_name(session: Session, key: str) -> str:
    if key.startswith("lrs:") and key[4:].isdigit():
        lrs = session.get(LrsEndpoint, int(key[4:]))
        return f"{lrs.name} ({lrs.url})" if lrs else f"{key} (removed since)"
    return "the default LRS" if key == "default" else key


def report(session: Session, erasure_id: int) -> dict[str, Any] | None:
    """The erasure as an officer files it: per LRS, voidings delivered, waiting, parked."""
    erasure = session.get(Erasure, erasure_id)
    if erasure is None:
        return None
    lrs = []
    for key, ids in sorted(erasure.voids.items()):
        counts = dict(session.execute(
            select(Outbox.status, func.count()).where(Outbox.id.in_(ids))
            .group_by(Outbox.status)).tuples().all())
        pending = counts.get(OutboxStatus.PENDING, 0)
        failed = counts.get(OutboxStatus.FAILED, 0)
        # Delivered rows are purged after the retention period: gone means delivered.
        lrs.append({"destination": key, "lrs": _destination_name(session, key),
                    "statements": len(ids), "voided": len(ids) - pending - failed,
                    "pending": pending, "failed": failed})
    return {"erasure": erasure.id, "erased_at": erasure.erased_at.isoformat(),
            "platform": erasure.issuer, "subject_sha256": erasure.subject_hash,
            "removed_from_tool": erasure.removed, "lrs": lrs,
            "complete": all(entry["pending"] == 0 and entry["failed"] == 0
                            for entry in lrs)}


def report_text(data: dict[str, Any]) -> str:
    """The same report in words, for a file or a ticket."""
    removed = data["removed_from_tool"]
    lines = [f"Erasure {data['erasure']} at {data['erased_at']}",
             f"Platform: {data['platform']}",
             f"Person: sha256(issuer, sub) = {data['subject_sha256']}",
             f"In the tool: {removed.get('attempts_kept_anonymously', 0)} attempts kept "
             f"without a name, {removed.get('outbox_rows_removed', 0)} queued rows and "
             f"{removed.get('roster_rows_removed', 0)} roster rows removed, name, e-mail, "
             "enrolments, mastery and grade records deleted."]
    if not data["lrs"]:
        lines.append("LRS: no statement about this person was ever sent to an LRS.")
    for entry in data["lrs"]:
        lines.append(f"LRS {entry['lrs']}: {entry['statements']} statements; "
                     f"{entry['voided']} voided, {entry['pending']} waiting to be voided, "
                     f"{entry['failed']} refused by the LRS (see cpt-lti outbox status)")
    lines.append("Complete: every voiding delivered." if data["complete"] else
                 "Not complete yet: run `cpt-lti user erasure "
                 f"{data['erasure']}` again later.")
    return "\n".join(lines)
