"""What operators watch: launch counters, outbox health, delivery latency.

Everything is read from or written to the database, not process memory, so several app
instances report one consistent picture (/health for load balancers, /metrics in the
Prometheus text format for monitoring).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter as Counts
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.db import transaction, upsert_insert
from lti_tool.models import Counter, Outbox, OutboxStatus

log = logging.getLogger(__name__)

LAUNCHES = "launches"
XAPI_REFUSED = "xapi_statements_refused"  # bumped by delivery/gate.py, per rule
TALLY_SECONDS = 1.0


def bump(session: Session, name: str, label: str, by: int = 1) -> None:
    """Add to a counter in one statement (an upsert: no read-modify-write race)."""
    table = Counter.__table__
    statement = upsert_insert(session, table).values(name=name, label=label[:64], value=by)
    # Core, not an ORM-enabled insert, which would expire the rows the caller holds.
    session.execute(statement.on_conflict_do_update(
        index_elements=[table.c.name, table.c.label],
        set_={"value": table.c.value + by}))


class Tally:
    """Counts one process has seen and not yet added to the shared counter table.

    When every launch upserted the shared ``launches/ok`` row itself, every launch of every
    instance updated one row: on PostgreSQL each waited on the previous one's row lock until
    it committed, and the upsert was a tenth of a launch's cost. Now a process writes its
    counts at most once per ``every`` seconds (at once when launches are rare), /metrics
    writes its own process's remainder before reading, and a worker that exits writes what
    it holds - counts are lost only with a process killed outright, and they are counts.
    """

    def __init__(self, every: float = TALLY_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._every = every
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: Counts[tuple[str, str]] = Counts()
        self._written_at = float("-inf")

    def add(self, name: str, label: str, by: int = 1) -> bool:
        """Count; True when the counts held are due to be written."""
        with self._lock:
            self._pending[(name, label[:64])] += by
            return self._clock() - self._written_at >= self._every

    def write(self, sessions: sessionmaker[Session]) -> None:
        """Add what this process holds to the table, in a transaction of its own (a caller's
        transaction that rolled back would take other requests' counts with it)."""
        with self._lock:
            pending, self._pending = self._pending, Counts()
            self._written_at = self._clock()
        if not pending:
            return
        try:
            with transaction(sessions) as db:
                for (name, label), by in sorted(pending.items()):
                    bump(db, name, label, by)
        except Exception:  # counting must never fail a request; keep them for next time
            log.warning("could not write %d counts; kept for the next try",
                        sum(pending.values()), exc_info=True)
            with self._lock:
                self._pending.update(pending)

    def count(self, sessions: sessionmaker[Session], name: str, label: str) -> None:
        if self.add(name, label):
            self.write(sessions)


def outbox_health(session: Session, now: datetime) -> dict[str, Any]:
    """Backlog and oldest pending age per destination (grades: "lms"; statements: their
    LRS, or "unrouted" while no LRS is configured)."""
    out: dict[str, Any] = {}
    for kind, destination, count, oldest, last_error in session.execute(
            select(Outbox.kind, Outbox.destination, func.count(), func.min(Outbox.created_at),
                   func.max(Outbox.last_error))
            .where(Outbox.status == OutboxStatus.PENDING)
            .group_by(Outbox.kind, Outbox.destination)):
        key = f"{kind.value}:{destination or ('lms' if kind.value == 'ags' else 'unrouted')}"
        out[key] = {"pending": count,
                    "oldest_pending_seconds": int((now - oldest).total_seconds()),
                    "last_error": last_error}
    return out


def _escaped(label: str) -> str:
    """A Prometheus label value: backslash, quote and newline escaped."""
    return label.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def prometheus_text(session: Session, now: datetime) -> str:
    lines = ["# HELP cpt_launches_total LTI launches by outcome (ok or refusal code).",
             "# TYPE cpt_launches_total counter"]
    for label, value in session.execute(select(Counter.label, Counter.value).where(
            Counter.name == LAUNCHES).order_by(Counter.label)):
        lines.append(f'cpt_launches_total{{outcome="{label}"}} {value}')
    lines += ["# HELP cpt_xapi_statements_refused_total Statements the quality gate refused, "
              "by rule (delivery/gate.py).", "# TYPE cpt_xapi_statements_refused_total counter"]
    for label, value in session.execute(select(Counter.label, Counter.value).where(
            Counter.name == XAPI_REFUSED).order_by(Counter.label)):
        lines.append(f'cpt_xapi_statements_refused_total{{rule="{_escaped(label)}"}} {value}')
    lines += ["# HELP cpt_outbox_pending Deliveries waiting, per destination.",
              "# TYPE cpt_outbox_pending gauge"]
    health = outbox_health(session, now)
    for key, row in sorted(health.items()):
        kind, destination = key.split(":", 1)
        lines.append(f'cpt_outbox_pending{{kind="{kind}",destination="{destination}"}} '
                     f'{row["pending"]}')
    lines += ["# HELP cpt_outbox_oldest_pending_seconds Age of the oldest waiting delivery.",
              "# TYPE cpt_outbox_oldest_pending_seconds gauge"]
    for key, row in sorted(health.items()):
        kind, destination = key.split(":", 1)
        lines.append(f'cpt_outbox_oldest_pending_seconds{{kind="{kind}",'
                     f'destination="{destination}"}} {row["oldest_pending_seconds"]}')
    lines += ["# HELP cpt_outbox_failed Deliveries parked for an operator.",
              "# TYPE cpt_outbox_failed gauge"]
    for kind, count in session.execute(select(Outbox.kind, func.count()).where(
            Outbox.status == OutboxStatus.FAILED).group_by(Outbox.kind)):
        lines.append(f'cpt_outbox_failed{{kind="{kind.value}"}} {count}')
    lines += ["# HELP cpt_delivery_seconds Queue-to-delivery time over the last hour.",
              "# TYPE cpt_delivery_seconds summary"]
    since = now - timedelta(hours=1)
    latencies: dict[str, list[float]] = {}
    for kind, created, sent in session.execute(
            select(Outbox.kind, Outbox.created_at, Outbox.sent_at)
            .where(Outbox.status == OutboxStatus.SENT, Outbox.sent_at >= since)
            .order_by(Outbox.sent_at.desc()).limit(20000)):
        latencies.setdefault(kind.value, []).append((sent - created).total_seconds())
    for kind, values in sorted(latencies.items()):
        for q in (0.5, 0.95, 0.99):
            lines.append(f'cpt_delivery_seconds{{kind="{kind}",quantile="{q}"}} '
                         f'{_quantile(values, q):.3f}')
        lines.append(f'cpt_delivery_seconds_count{{kind="{kind}"}} {len(values)}')
        lines.append(f'cpt_delivery_seconds_sum{{kind="{kind}"}} {sum(values):.3f}')
    return "\n".join(lines) + "\n"
