"""The durable outbox and the worker that delivers it.

Rows are written in the same transaction as the event they report (delivery/events.py).
The worker claims due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers
never take the same row), delivers each, and records the outcome: sent, retry later
(exponential backoff with jitter), or failed with the reason for an operator. Nothing
undelivered is ever deleted (delivered rows are purged after ``outbox.retention_days``).
Grade passback is delivered here; xAPI statements in xapi_delivery.py.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.db import transaction
from lti_tool.delivery.outbound import OutboundPolicy
from lti_tool.delivery.xapi import XapiDelivery, XapiReport
from lti_tool.lti.ags import AgsClient, DeliveryError, ScoreToSend
from lti_tool.lti.keys import KeyService
from lti_tool.models import (
    Attempt,
    Course,
    CurriculumModule,
    Deployment,
    Outbox,
    OutboxKind,
    OutboxStatus,
    ResourceLink,
    User,
)
from lti_tool.ops.metrics import outbox_health
from lti_tool.ops.privacy import purge_expired
from lti_tool.practice.modes import noun as mode_noun
from lti_tool.settings import Settings

log = logging.getLogger(__name__)

BASE_DELAY = timedelta(seconds=10)
MAX_DELAY = timedelta(hours=1)
MAX_ATTEMPTS = 12  # about 5 hours of trying before an operator is needed
LEASE = timedelta(minutes=5)  # a claimed row is left alone this long
PURGE_EVERY = timedelta(minutes=10)


def next_attempt_at(error: DeliveryError, attempts: int, now: datetime,
                    rng: Random) -> datetime | None:
    """When to try again after ``attempts`` failures, or None to give up."""
    if not error.retryable or attempts >= MAX_ATTEMPTS:
        return None
    delay = min(BASE_DELAY * (2 ** (attempts - 1)), MAX_DELAY)
    return now + delay * (0.5 + rng.random() / 2)  # jitter: no thundering herd


@dataclass
class WorkerReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    xapi: XapiReport | None = None

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + (
            self.xapi.rendered if self.xapi else 0)


def _score(session: Session, payload: dict[str, Any]) -> ScoreToSend:
    attempt = session.get(Attempt, payload["attempt_id"])
    link = session.get(ResourceLink, payload["resource_link_id"])
    if attempt is None or link is None:
        raise DeliveryError("the attempt or its course link no longer exists",
                            retryable=False)
    user = session.get(User, attempt.user_id)
    course = session.get(Course, link.course_id)
    deployment = session.get(Deployment, course.deployment_id) if course else None
    module = session.get(CurriculumModule, attempt.module_id)
    if user is None or deployment is None or module is None:
        raise DeliveryError("the person, course or module is gone", retryable=False)
    if not (link.ags_lineitem_url or link.ags_lineitems_url):
        raise DeliveryError("the LMS offered no grade service for this link",
                            retryable=False)
    mode = payload.get("mode", attempt.mode.value)
    given, maximum = float(payload["score_given"]), float(payload["score_maximum"])
    return ScoreToSend(
        platform_id=deployment.platform_id, user_sub=user.sub,
        lineitem_url=link.ags_lineitem_url, lineitems_url=link.ags_lineitems_url,
        scopes=list(link.ags_scopes), resource_id=f"{mode}:{module.id}",
        label=f"{module.title}: {mode_noun(mode)}", score_given=given,
        score_maximum=maximum, timestamp=payload["timestamp"],
        submitted_at=payload.get("submitted_at") or payload["timestamp"],
        comment=_comment(given, maximum, module.title, mode_noun(mode),
                         payload.get("policy", "best"), int(payload.get("attempts", 1))))


def _comment(given: float, maximum: float, module: str, activity: str, policy: str,
             attempts: int) -> str:
    """The short note the student and instructor see beside the grade."""
    text = f"{given:g} of {maximum:g} correct on the {module} {activity}."
    if attempts > 1:
        text = f"{policy.capitalize()} of {attempts} attempts: {text}"
    return text


class OutboxWorker:
    """Delivers both kinds of rows: grades to the LMS and, when ``settings`` are given,
    xAPI statements to the LRSs (xapi_delivery.py)."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime],
                 timeout: float, rng: Random | None = None,
                 settings: Settings | None = None,
                 policy: OutboundPolicy | None = None) -> None:
        """``policy``: the outbound policy for grade passback; by default the settings'
        (or, without settings, the strict one: public https hosts only)."""
        self.sessions = sessions
        self.clock = clock
        self.timeout = timeout
        if policy is None:
            policy = (OutboundPolicy.from_settings(settings, deadline_seconds=timeout)
                      if settings is not None else OutboundPolicy(deadline_seconds=timeout))
        self.policy = policy
        self.rng = rng or Random()
        self.settings = settings
        self._purged_at: datetime | None = None
        self.xapi = XapiDelivery(sessions, settings, clock, self.rng) if settings else None

    def _purge_if_due(self) -> None:
        """Data retention, at most every PURGE_EVERY per worker."""
        now = self.clock()
        if self._purged_at is not None and now - self._purged_at < PURGE_EVERY:
            return
        assert self.settings is not None
        with transaction(self.sessions) as session:
            counts = purge_expired(session, now, self.settings.outbox_retention_days)
        self._purged_at = now
        if any(counts.values()):
            log.info("retention purge: %s", counts)

    def _rotate_keys_if_due(self) -> None:
        """Scheduled key rotation rides on the worker: every instance runs one, and the
        rotation is a no-op unless the newest key is old enough (two workers racing would
        at worst publish two staged keys; the newer one wins)."""
        assert self.settings is not None
        with transaction(self.sessions) as session:
            key = KeyService(session, self.clock).rotate_if_due(
                timedelta(days=self.settings.key_rotation_days),
                timedelta(hours=self.settings.key_overlap_hours))
            if key is not None:
                log.info("scheduled key rotation: %s signs from %s", key.kid, key.activates_at)

    def run_once(self, limit: int = 50) -> WorkerReport:
        if self.settings is not None and self.settings.key_rotation_days > 0:
            self._rotate_keys_if_due()
        if self.settings is not None:
            self._purge_if_due()
        report = self._run_ags(limit)
        if self.xapi is not None:
            xapi = self.xapi.run_once()
            report.sent += xapi.sent
            report.retried += xapi.retried
            report.failed += xapi.parked
            report.errors += xapi.errors
            report.xapi = xapi
        return report

    def _run_ags(self, limit: int) -> WorkerReport:
        """Claim due rows, deliver each with no DB lock held, then record every outcome in
        one short transaction (on SQLite each write transaction competes with the web
        processes for the single writer lock)."""
        report = WorkerReport()
        client = AgsClient(self.sessions, self.clock, self.policy)
        outcomes: list[tuple[int, int, DeliveryError | None]] = []
        for row_id, payload, attempts in self._claim(limit):
            try:
                with transaction(self.sessions) as session:
                    score = _score(session, payload)
                client.publish(score)
            except DeliveryError as exc:
                outcomes.append((row_id, attempts, exc))
            else:
                outcomes.append((row_id, attempts, None))
        if outcomes:
            self._record(outcomes, report)
        return report

    def _claim(self, limit: int) -> list[tuple[int, dict[str, Any], int]]:
        """Take a lease on due rows: other workers skip them until it runs out, and a
        worker that dies mid-delivery leaves them to be delivered again (the LMS keeps
        the score with the latest timestamp, so a repeat is harmless)."""
        with transaction(self.sessions) as session:
            now = self.clock()
            query = (select(Outbox).where(Outbox.kind == OutboxKind.AGS,
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

    def _record(self, outcomes: list[tuple[int, int, DeliveryError | None]],
                report: WorkerReport) -> None:
        with transaction(self.sessions) as session:
            now = self.clock()
            for row_id, attempts, error in outcomes:
                row = session.get(Outbox, row_id)
                assert row is not None
                if error is None:
                    row.status, row.sent_at, row.last_error = OutboxStatus.SENT, now, None
                    report.sent += 1
                    continue
                row.last_error = str(error)[:500]
                report.errors.append(f"{row_id}: {error}")
                when = next_attempt_at(error, attempts, now, self.rng)
                if when is None:
                    row.status = OutboxStatus.FAILED
                    report.failed += 1
                    log.warning("outbox %s failed for good: %s", row_id, error)
                else:
                    row.next_attempt_at = when
                    report.retried += 1


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
    return len(rows)


def start_background_worker(sessions: sessionmaker[Session], clock: Callable[[], datetime],
                            settings: Settings) -> threading.Event:
    """The embedded default's in-process worker; returns the event that stops it."""
    stop = threading.Event()
    worker = OutboxWorker(sessions, clock, settings.http_timeout_seconds, settings=settings)
    interval = settings.worker_interval_seconds

    def loop() -> None:
        while not stop.is_set():
            try:
                worker.run_once()
            except Exception:  # noqa: BLE001 - keep the loop alive; the row keeps its state
                log.exception("outbox worker pass failed")
            stop.wait(interval)

    threading.Thread(target=loop, name="cpt-outbox", daemon=True).start()
    return stop
