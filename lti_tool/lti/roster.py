"""Keep each course's roster fresh without anyone pressing a button (issue 19.2).

The instructor's pages ask for the roster when it is missing or older than
``roster_max_age_minutes``: the fetch runs in a thread of its own after the page is
answered, so a slow LMS never slows the page. Pressing "Refresh roster" fetches at once.

One fetch per course at a time, across every thread, process and instance: a fetch first
claims the course with one conditional UPDATE of ``course.roster_claimed_at`` (whoever
changes the row holds it) and clears it when done. A claim older than ``lease`` (longer
than any fetch can take) is taken over, so a process that died mid-fetch blocks nothing
for long. The course's own roster URL is the only one used for it (lti/records.py keeps
it per course), and nrps.py calls it only on the platform's registered hosts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, update
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.db import transaction
from lti_tool.delivery.outbound import OutboundPolicy
from lti_tool.lti import nrps
from lti_tool.lti.ags import DeliveryError
from lti_tool.models import Course

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# After a failed fetch the pages try again this soon (or after the maximum age, when that
# is shorter): an LMS that was down for a minute should not cost the class an hour.
RETRY_FAILED_AFTER = timedelta(minutes=5)
ERROR_LENGTH = 500  # course.roster_error
NO_ROSTER = ("The LMS has not offered a roster for this course yet: open CPT Practice "
             "once from a link in the course.")
# A refresh that finds a fetch under way waits for it this often (seconds).
WAIT_STEP = 0.2


def lease(policy: OutboundPolicy) -> timedelta:
    """How long a claim holds: longer than a whole fetch may take (the token, every page
    within nrps.TOTAL_DEADLINES deadlines, one more page started at the last moment)."""
    return timedelta(seconds=(nrps.TOTAL_DEADLINES + 2) * policy.deadline_seconds)


@dataclass(frozen=True)
class RosterState:
    """What the class overview says about the course's roster."""

    offered: bool  # the LMS named a roster service for the course
    synced_at: datetime | None  # the last fetch that worked
    checked_at: datetime | None  # the last fetch that ended, worked or not
    error: str | None  # why that one failed
    fetching: bool  # a fetch is under way


def state(course: Course, now: datetime, held: timedelta) -> RosterState:
    fetching = course.roster_claimed_at is not None and now - course.roster_claimed_at < held
    return RosterState(bool(course.nrps_url), course.roster_synced_at,
                       course.roster_checked_at, course.roster_error, fetching)


def _claim(sessions: sessionmaker[Session], now: datetime, course_id: int,
           held: timedelta, max_age: timedelta | None) -> bool:
    """Claim the course's fetch; with ``max_age``, only when the roster is due (never
    fetched, older than ``max_age``, or failed more than RETRY_FAILED_AFTER ago)."""
    free = or_(Course.roster_claimed_at.is_(None), Course.roster_claimed_at < now - held)
    conditions = [Course.id == course_id, Course.nrps_url.is_not(None), free]
    if max_age is not None:
        conditions.append(or_(
            Course.roster_checked_at.is_(None),
            Course.roster_checked_at <= now - max_age,
            and_(Course.roster_error.is_not(None),
                 Course.roster_checked_at <= now - min(max_age, RETRY_FAILED_AFTER))))
    with transaction(sessions) as db:
        claimed = db.execute(update(Course).where(*conditions)
                             .values(roster_claimed_at=now)
                             .execution_options(synchronize_session=False))
        return claimed.rowcount == 1


def _fetch(sessions: sessionmaker[Session], clock: Clock, policy: OutboundPolicy,
           course_id: int, claimed_at: datetime) -> str | None:
    """Fetch and store the roster under a claim, then release it; the error, if any."""
    error: str | None = None
    try:
        with transaction(sessions) as db:
            course = db.get(Course, course_id)
            url = course.nrps_url if course else None
        if not url:
            error = NO_ROSTER
        else:
            nrps.sync_roster(sessions, clock, policy, course_id, url)
    except DeliveryError as exc:
        error = str(exc) or "the LMS did not send the roster"
    except Exception:  # a background thread has no one else to tell
        log.exception("roster fetch for course %s failed", course_id)
        error = "the roster could not be fetched (the tool's log says why)"
    try:
        with transaction(sessions) as db:
            db.execute(update(Course).where(Course.id == course_id,
                                            Course.roster_claimed_at == claimed_at)
                       .values(roster_claimed_at=None, roster_checked_at=clock(),
                               roster_error=error[:ERROR_LENGTH] if error else None)
                       .execution_options(synchronize_session=False))
    except Exception:  # the claim then lapses after its lease
        log.exception("could not release the roster claim of course %s", course_id)
    return error


def refresh_now(sessions: sessionmaker[Session], clock: Clock, policy: OutboundPolicy,
                course_id: int) -> str | None:
    """The "Refresh roster" button: fetch now, or wait for the fetch under way (never two
    at once); the error the instructor should see, or None."""
    held = lease(policy)
    now = clock()
    if _claim(sessions, now, course_id, held, None):
        return _fetch(sessions, clock, policy, course_id, now)
    give_up = time.monotonic() + held.total_seconds()
    while True:
        with transaction(sessions) as db:
            course = db.get(Course, course_id)
            if course is None or not course.nrps_url:
                return NO_ROSTER
            current = state(course, clock(), held)
        if not current.fetching or time.monotonic() > give_up:
            return current.error
        time.sleep(WAIT_STEP)


@dataclass(frozen=True)
class PendingFetch:
    """A claimed fetch not yet started: the page is rendered first, then ``start``."""

    sessions: sessionmaker[Session]
    clock: Clock
    policy: OutboundPolicy
    course_id: int
    claimed_at: datetime

    def run(self) -> str | None:
        return _fetch(self.sessions, self.clock, self.policy, self.course_id,
                      self.claimed_at)

    def start(self) -> None:
        """Run it in a daemon thread; without one to be had, let the claim go at once."""
        try:
            threading.Thread(target=self.run, name=f"roster-{self.course_id}",
                             daemon=True).start()
        except RuntimeError:
            log.exception("could not start the roster fetch of course %s", self.course_id)
            with transaction(self.sessions) as db:
                db.execute(update(Course).where(Course.id == self.course_id,
                                                Course.roster_claimed_at == self.claimed_at)
                           .values(roster_claimed_at=None)
                           .execution_options(synchronize_session=False))


def fetch_if_due(sessions: sessionmaker[Session], clock: Clock, policy: OutboundPolicy,
                 course_id: int, max_age_minutes: int) -> PendingFetch | None:
    """Claim the course's fetch when its roster is due: the fetch, for the caller to
    ``start`` once its page is answered, or None (not due, under way elsewhere, no roster
    service, or ``max_age_minutes`` 0: no automatic fetch)."""
    if max_age_minutes <= 0:
        return None
    now = clock()
    if not _claim(sessions, now, course_id, lease(policy),
                  timedelta(minutes=max_age_minutes)):
        return None
    return PendingFetch(sessions, clock, policy, course_id, now)
