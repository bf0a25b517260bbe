"""The outbox worker: one pass over everything due, and the one loop that repeats it.

``cpt-lti worker`` (any number of processes) and the embedded default's in-process thread
run the same loop (``run``). A pass delivers grades (ags.py) and xAPI statements
(xapi.py), and does the housekeeping that rides on the worker: data retention, scheduled
key rotation and closing drills left idle (practice/idle.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random

from sqlalchemy.orm import Session, sessionmaker

from lti_tool.db import transaction
from lti_tool.delivery import outbox
from lti_tool.delivery.ags import send_scores
from lti_tool.delivery.outbound import OutboundPolicy
from lti_tool.delivery.provenance import Answer, record_tries
from lti_tool.delivery.retry import grade_retry_at
from lti_tool.delivery.xapi import XapiDelivery, XapiReport
from lti_tool.lti.ags import AgsClient
from lti_tool.lti.keys import KeyService
from lti_tool.models import OutboxKind
from lti_tool.ops.privacy import purge_expired
from lti_tool.practice.idle import close_idle
from lti_tool.settings import Settings

log = logging.getLogger(__name__)
loop_log = logging.getLogger("lti_tool.worker")

PURGE_EVERY = timedelta(minutes=10)
IDLE_CHECK_EVERY = timedelta(minutes=1)


@dataclass
class WorkerReport(outbox.Outcomes):
    xapi: XapiReport | None = None

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + (
            self.xapi.rendered if self.xapi else 0)


class OutboxWorker:
    """Delivers both kinds of rows: grades to the LMS and, when ``settings`` are given,
    xAPI statements to the LRSs (xapi.py)."""

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
        self._idle_checked_at: datetime | None = None
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

    def _close_idle_if_due(self) -> None:
        """Close drills left idle, at most every IDLE_CHECK_EVERY per worker, before the
        statements are delivered (so their "terminated" goes out in this pass)."""
        now = self.clock()
        if (self._idle_checked_at is not None
                and now - self._idle_checked_at < IDLE_CHECK_EVERY):
            return
        assert self.settings is not None
        with transaction(self.sessions) as session:
            closed = close_idle(session, now,
                                timedelta(minutes=self.settings.drill_idle_minutes))
        self._idle_checked_at = now
        if closed:
            log.info("closed %d idle drill(s)", closed)

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
            self._close_idle_if_due()
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
        answers: dict[int, Answer] = {}
        outcomes = send_scores(self.sessions, client, self._claim(limit), answers)
        if outcomes:
            self._record(outcomes, report, answers)
        return report

    def _claim(self, limit: int) -> list[outbox.Claimed]:
        with transaction(self.sessions) as session:
            return outbox.claim_due(session, OutboxKind.AGS, self.clock(), limit)

    def _record(self, outcomes: list[outbox.Outcome], report: WorkerReport,
                answers: dict[int, Answer]) -> None:
        with transaction(self.sessions) as session:
            now = self.clock()
            outbox.record_outcomes(
                session, now, outcomes,
                lambda error, attempts, now: grade_retry_at(error, attempts, now, self.rng),
                report)
            record_tries(session, now, [row_id for row_id, _, _ in outcomes], answers)


def run(worker: OutboxWorker, interval: float, *, limit: int = 50, once: bool = False,
        stop: threading.Event | None = None,
        on_pass: Callable[[WorkerReport], None] | None = None) -> WorkerReport | None:
    """Pass after pass until ``stop`` is set; with ``once``, one pass, and its report.

    A full pass (``limit`` or more rows handled) is followed at once by the next, else the
    loop waits ``interval`` seconds. ``on_pass`` hears of each pass that handled rows.
    A failed pass (the database down, or anything else) recorded nothing as sent, so the
    rows stay queued: the loop logs it and tries again after ``interval`` (with ``once``
    it raises). Exiting would need an operator to restart the worker; waiting needs no one.
    """
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            report = worker.run_once(limit)
        except Exception as exc:  # noqa: BLE001 - a long-running worker outlives outages
            if once:
                raise
            loop_log.warning("outbox pass failed, retrying in %s s: %s", interval,
                             str(exc).splitlines()[0][:300] if str(exc) else repr(exc))
            stop.wait(interval)
            continue
        if report.handled and on_pass is not None:
            on_pass(report)
        if once:
            return report
        if report.handled < limit:
            stop.wait(interval)
    return None


def start_background_worker(sessions: sessionmaker[Session], clock: Callable[[], datetime],
                            settings: Settings) -> threading.Event:
    """The embedded default's in-process worker; returns the event that stops it."""
    stop = threading.Event()
    worker = OutboxWorker(sessions, clock, settings.http_timeout_seconds, settings=settings)
    threading.Thread(target=run, args=(worker, settings.worker_interval_seconds),
                     kwargs={"stop": stop}, name="cpt-outbox", daemon=True).start()
    return stop
