"""When to try a failed delivery again: the two backoff policies, side by side.

Both are exponential with jitter (half to all of the delay, so workers that failed
together do not come back together) and capped. They differ where their far ends differ:

- **Grades** (``GRADES``, LTI AGS): an LMS that refuses a score outright (a 4xx) will
  refuse it again, so it is failed at once; a retryable failure is tried 12 times (a
  few hours), then failed for an operator (``cpt-lti outbox retry``). A later grade for
  the same student is a new row anyway.
- **Statements** (``STATEMENTS``, xAPI): an LRS that is down for a day is retried every
  half hour, never given up on (the analytics record must be complete); the LRS's own
  ``Retry-After`` wins when it asks for longer. Statements the LRS refuses are parked by
  the sender (delivery/xapi.py), not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random
from typing import Protocol


@dataclass(frozen=True)
class Backoff:
    """``first`` after the first failure, doubling per attempt up to ``cap``;
    ``give_up_after`` attempts (None: never)."""

    first: timedelta
    cap: timedelta
    give_up_after: int | None

    def delay(self, attempts: int, rng: Random) -> timedelta:
        """The wait after ``attempts`` failed attempts (at least 1), with jitter."""
        delay = min(self.first * (2 ** max(attempts - 1, 0)), self.cap)
        return delay * (0.5 + rng.random() / 2)  # jitter: no thundering herd


GRADES = Backoff(first=timedelta(seconds=10), cap=timedelta(hours=1), give_up_after=12)
STATEMENTS = Backoff(first=timedelta(seconds=5), cap=timedelta(minutes=30),
                     give_up_after=None)


class Failure(Protocol):
    """A failed delivery that knows whether trying again can help (lti.ags.DeliveryError)."""

    retryable: bool


def grade_retry_at(error: Failure, attempts: int, now: datetime,
                   rng: Random) -> datetime | None:
    """When to send a grade again after ``attempts`` failures, or None to give up."""
    assert GRADES.give_up_after is not None
    if not error.retryable or attempts >= GRADES.give_up_after:
        return None
    return now + GRADES.delay(attempts, rng)


def statement_retry_at(attempts: int, now: datetime, rng: Random,
                       retry_after: float | None = None) -> datetime:
    """When to send a batch of statements again after ``attempts`` failures (never
    given up on). ``retry_after``: the LRS's ``Retry-After``, in seconds, if it sent one."""
    delay = STATEMENTS.delay(attempts, rng)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=min(retry_after,
                                                 STATEMENTS.cap.total_seconds())))
    return now + delay
