"""The outbox's xAPI half: fan events out to their LRSs, then deliver them in order.

Two passes, each in short transactions (on SQLite the web processes need the writer lock):

1. *Fan out*. Events are queued by the practice engine with no destination (looking up a
   college's LRSs on every answer would slow the answer down). Here each is rendered into
   a statement per destination LRS and frozen: the row gets its destination and the exact
   JSON, and extra LRSs get copies. Retries resend those bytes, same id, so the LRS can
   drop a repeat. A platform with no LRS yet keeps its events waiting (checked again every
   few minutes): an LRS added later receives the history.
2. *Deliver*. Per destination, the oldest waiting rows go in one POST, in queue order. A
   destination is owned by the worker that leased its oldest row (a compare-and-set
   update, so two workers never send the same destination's rows at once and a learner's
   statements are never reordered). Outcomes: delivered; retry the batch later (LRS down,
   5xx, 429, bad credentials: never given up, see retry.py); a statement the LRS refuses
   or a conflicting id is parked as failed with the LRS's reason, and the rest go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.db import transaction, upsert_insert
from lti_tool.delivery import gate
from lti_tool.delivery.destinations import (
    Destination,
    destination_by_key,
    destinations_for,
    lrs_session,
)
from lti_tool.delivery.render import RenderError, RowCache, render_statement
from lti_tool.delivery.retry import statement_retry_at
from lti_tool.delivery.sealed import UnsealError
from lti_tool.models import Outbox, OutboxKind, OutboxStatus, StatementLedger
from lti_tool.settings import Settings
from xapi.lrs import LrsClient, LrsEndpoint

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
NO_LRS_RECHECK = timedelta(minutes=5)
MAX_DESTINATIONS_PER_PASS = 50


@dataclass
class XapiReport:
    rendered: int = 0
    waiting_for_lrs: int = 0
    sent: int = 0
    retried: int = 0
    parked: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.rendered + self.sent + self.retried + self.parked


class XapiDelivery:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings,
                 clock: Callable[[], datetime], rng: Random | None = None,
                 clients: dict[str, LrsClient] | None = None) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.rng = rng or Random()
        # One keep-alive client per destination for the life of the worker.
        self.clients: dict[str, LrsClient] = clients if clients is not None else {}
        # Tests stop here to play a worker killed between the POST and the bookkeeping.
        self.after_post: Callable[[], None] | None = None

    # -- pass 1: fan out ------------------------------------------------------------------
    def fan_out(self, limit: int = 200) -> tuple[int, int]:
        """Render due events without a destination; returns (rendered, still waiting).

        The rows are first leased with one guarded UPDATE (so two workers never render the
        same event, on SQLite as on PostgreSQL), then rendered in a second transaction.
        """
        ids = self._claim_events(limit)
        if not ids:
            return 0, 0
        rendered = waiting = 0
        with transaction(self.sessions) as session:
            now = self.clock()
            by_platform: dict[int, list[Destination]] = {}
            rows = session.scalars(select(Outbox).where(Outbox.id.in_(ids))
                                   .order_by(Outbox.id))
            cache = RowCache(session)
            extra: list[Outbox] = []
            ledger: list[dict[str, Any]] = []
            for row in list(rows):
                try:
                    with session.no_autoflush:
                        platform_id, build = render_statement(session, row.payload, cache)
                except (RenderError, KeyError, ValueError, TypeError) as exc:
                    row.status, row.last_error = OutboxStatus.FAILED, f"render: {exc}"[:500]
                    log.warning("xAPI event %s cannot be rendered: %s", row.id, exc)
                    continue
                if platform_id not in by_platform:
                    by_platform[platform_id] = destinations_for(session, self.settings,
                                                                platform_id)
                targets = by_platform[platform_id]
                if not targets:
                    row.next_attempt_at = now + NO_LRS_RECHECK
                    row.last_error = "no LRS is configured for this platform yet"
                    waiting += 1
                    continue
                statement_id = row.payload["statement_id"]
                bodies = [build(target.actor_identity) for target in targets]
                if not gate.admit(session, row, bodies):  # refused: never sent, see gate.py
                    continue
                if row.payload.get("user_id") is not None:  # for an erasure to void
                    ledger.extend({"user_id": int(row.payload["user_id"]),
                                   "statement_id": statement_id, "destination": t.key,
                                   "created_at": now} for t in targets)
                for n, (target, body) in enumerate(zip(targets, bodies, strict=True)):
                    key = f"{statement_id}@{target.key}"
                    if n == 0:
                        row.destination, row.body, row.dedupe_key = target.key, body, key
                        row.next_attempt_at, row.last_error = now, None
                    else:
                        extra.append(Outbox(kind=OutboxKind.XAPI, dedupe_key=key,
                                            payload=row.payload, status=OutboxStatus.PENDING,
                                            next_attempt_at=now, created_at=row.created_at,
                                            destination=target.key, body=body))
                rendered += 1
            for copy in extra:  # one at a time, in render order: ids keep the queue order
                session.add(copy)
                session.flush()
            if ledger:  # one statement for the batch; a re-render (outbox retry) adds none
                table = StatementLedger.__table__
                session.execute(upsert_insert(session, table).values(ledger)
                                .on_conflict_do_nothing(
                                    index_elements=[table.c.statement_id,
                                                    table.c.destination]))
        return rendered, waiting

    def _claim_events(self, limit: int) -> list[int]:
        with transaction(self.sessions) as session:
            now = self.clock()
            candidates = list(session.scalars(
                select(Outbox.id).where(Outbox.kind == OutboxKind.XAPI,
                                        Outbox.status == OutboxStatus.PENDING,
                                        Outbox.destination.is_(None),
                                        Outbox.next_attempt_at <= now)
                .order_by(Outbox.id).limit(limit)))
            if not candidates:
                return []
            claimed = session.scalars(
                update(Outbox).where(Outbox.id.in_(candidates),
                                     Outbox.status == OutboxStatus.PENDING,
                                     Outbox.destination.is_(None),
                                     Outbox.next_attempt_at <= now)
                .values(next_attempt_at=now + LEASE).returning(Outbox.id)
                .execution_options(synchronize_session=False))
            return sorted(claimed)

    # -- pass 2: deliver ------------------------------------------------------------------
    def deliver(self, report: XapiReport, max_batches: int = 20) -> None:
        """Up to ``max_batches`` batches per due destination, in queue order."""
        for key in self._due_destinations():
            for _ in range(max_batches):
                claimed = self._claim(key)
                if not claimed:
                    break
                sent_before = report.sent
                self._send(key, claimed, report)
                if report.sent - sent_before < len(claimed):
                    break  # something is wrong there: leave it to its backoff

    def _due_destinations(self) -> list[str]:
        with transaction(self.sessions) as session:
            now = self.clock()
            heads = (select(Outbox.destination, func.min(Outbox.id).label("head"))
                     .where(Outbox.kind == OutboxKind.XAPI,
                            Outbox.status == OutboxStatus.PENDING,
                            Outbox.destination.is_not(None))
                     .group_by(Outbox.destination).subquery())
            rows = session.execute(
                select(heads.c.destination).join(Outbox, Outbox.id == heads.c.head)
                .where(Outbox.next_attempt_at <= now).order_by(heads.c.head)
                .limit(MAX_DESTINATIONS_PER_PASS))
            return [key for (key,) in rows]

    def _claim(self, key: str) -> list[tuple[int, str, int]]:
        """Lease the destination's oldest rows; empty if another worker owns it."""
        with transaction(self.sessions) as session:
            now = self.clock()
            rows = list(session.execute(
                select(Outbox.id, Outbox.body, Outbox.attempts)
                .where(Outbox.kind == OutboxKind.XAPI, Outbox.status == OutboxStatus.PENDING,
                       Outbox.destination == key)
                .order_by(Outbox.id).limit(self.settings.xapi_batch_size)))
            if not rows:
                return []
            head = rows[0].id
            # Compare-and-set on the oldest row: whoever moves its lease owns the batch.
            won = session.execute(
                update(Outbox).where(Outbox.id == head, Outbox.status == OutboxStatus.PENDING,
                                     Outbox.next_attempt_at <= now)
                .values(next_attempt_at=now + LEASE, attempts=Outbox.attempts + 1)
                .execution_options(synchronize_session=False)).rowcount
            if won != 1:
                return []
            ids = [r.id for r in rows]
            session.execute(update(Outbox).where(Outbox.id.in_(ids[1:]))
                            .values(next_attempt_at=now + LEASE,
                                    attempts=Outbox.attempts + 1)
                            .execution_options(synchronize_session=False))
            return [(r.id, r.body or "", r.attempts + 1) for r in rows]

    def _client(self, session: Session, key: str) -> LrsClient | None:
        target = destination_by_key(session, self.settings, key)
        if target is None:
            self.clients.pop(key, None)
            return None
        client = self.clients.get(key)
        endpoint = LrsEndpoint(target.name, target.url, target.username, target.password)
        if client is None or client.endpoint != endpoint:  # new, or changed by `lrs add`
            if client is not None:
                client.close()
            client = LrsClient(endpoint, timeout=(3.05, self.settings.xapi_timeout_seconds),
                               session=lrs_session(self.settings))
            self.clients[key] = client
        return client

    def _send(self, key: str, claimed: list[tuple[int, str, int]],
              report: XapiReport) -> None:
        try:
            with transaction(self.sessions) as session:
                client = self._client(session, key)
        except UnsealError as exc:
            self._record_all(claimed, "retry", str(exc), None, report)
            return
        if client is None:
            self._record_all(claimed, "retry", "this LRS was removed or disabled; the "
                             "statements wait in case it is added back", None, report)
            return
        outcomes = client.deliver([(row_id, body.encode()) for row_id, body, _ in claimed])
        if self.after_post is not None:
            self.after_post()
        self._record(claimed, outcomes, report)

    def _record_all(self, claimed: list[tuple[int, str, int]], kind: str, message: str,
                    retry_after: float | None, report: XapiReport) -> None:
        with transaction(self.sessions) as session:
            now = self.clock()
            attempts = claimed[0][2]
            when = statement_retry_at(attempts, now, self.rng, retry_after)
            session.execute(update(Outbox).where(Outbox.id.in_([c[0] for c in claimed]))
                            .values(next_attempt_at=when, last_error=message[:500])
                            .execution_options(synchronize_session=False))
            report.retried += len(claimed)
            report.errors.append(f"{kind}: {message}")

    def _record(self, claimed: list[tuple[int, str, int]], outcomes: list, report: XapiReport
                ) -> None:
        attempts = {row_id: n for row_id, _, n in claimed}
        with transaction(self.sessions) as session:
            now = self.clock()
            retry_ids: list[int] = []
            retry_after: float | None = None
            message = ""
            delivered = [row_id for row_id, outcome in outcomes
                         if outcome.kind == "delivered"]
            if delivered:  # one statement for the whole batch, not one per row
                session.execute(update(Outbox).where(Outbox.id.in_(delivered)).values(
                    status=OutboxStatus.SENT, sent_at=now, last_error=None))
                report.sent += len(delivered)
            for row_id, outcome in outcomes:
                if outcome.kind == "delivered":
                    continue
                if outcome.kind == "retry":
                    retry_ids.append(row_id)
                    retry_after = outcome.retry_after or retry_after
                    message = outcome.message
                else:  # rejected or conflict: parked for an operator, the rest go on
                    session.execute(update(Outbox).where(Outbox.id == row_id).values(
                        status=OutboxStatus.FAILED,
                        last_error=f"{outcome.kind}: {outcome.message}"[:500]))
                    report.parked += 1
                    report.errors.append(f"{row_id}: {outcome.kind}: {outcome.message}")
                    log.warning("xAPI statement in outbox row %s parked (%s): %s", row_id,
                                outcome.kind, outcome.message)
            if retry_ids:
                when = statement_retry_at(max(attempts[i] for i in retry_ids), now,
                                          self.rng, retry_after)
                session.execute(update(Outbox).where(Outbox.id.in_(retry_ids)).values(
                    next_attempt_at=when, last_error=message[:500]))
                report.retried += len(retry_ids)
                report.errors.append(f"retry: {message}")

    def run_once(self) -> XapiReport:
        report = XapiReport()
        report.rendered, report.waiting_for_lrs = self.fan_out()
        self.deliver(report)
        return report
