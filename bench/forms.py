"""Benchmark: the cost of drawing a parallel mock form from a student's history.

    .venv/bin/python bench/forms.py [--history 3] [--repeat 20] [--db-url URL]

Starting a mock exam now reads the student's answers and earlier practice tests and mock
exams of the module to put their least exposed items first. Baseline: starting the same
mock for a student with no history, in the same process on the same database. Prints the
median start time of both and their ratio, and the overlap of the consecutive forms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lti_tool.curriculum.checks import load_bank  # noqa: E402
from lti_tool.db import transaction  # noqa: E402
from lti_tool.models import Attempt  # noqa: E402
from lti_tool.practice.service import PracticeService  # noqa: E402
from lti_tool.sandbox.learners import learner_world  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--history", type=int, default=3, help="earlier mocks per student")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--module", default="safety")
    parser.add_argument("--db-url")
    args = parser.parse_args()
    url = args.db_url or f"sqlite:///{tempfile.mkdtemp()}/forms.db"
    now = [datetime(2026, 12, 3, 9, 0, tzinfo=UTC)]

    def clock() -> datetime:
        return now[0]

    engine, sessions, ids = learner_world(url, load_bank(), clock,
                                          [f"s{n}" for n in range(2 * args.repeat)])
    fresh, seasoned = ids[::2], ids[1::2]
    overlaps: list[int] = []
    for user in seasoned:  # history: earlier mocks, every other item answered
        previous: set[str] = set()
        for n in range(args.history):
            with transaction(sessions) as db:
                svc = PracticeService(db, clock, Random(n))
                attempt = svc.start(user, "mock", args.module)
                for position, item_id in enumerate(attempt.item_ids[::2]):
                    svc.answer(attempt.id, user, item_id, position % 4, f"{user}-{n}-{position}")
                svc.submit(attempt.id, user)
                if previous:
                    overlaps.append(len(previous & set(attempt.item_ids)))
                previous = set(attempt.item_ids)
            now[0] += timedelta(days=1)

    def timed(user: int) -> float:
        with transaction(sessions) as db:
            started = time.perf_counter()
            attempt = PracticeService(db, clock, Random(user)).start(user, "mock", args.module)
            elapsed = time.perf_counter() - started
            db.delete(db.get(Attempt, attempt.id))  # keep the history as it was
        return elapsed

    base = statistics.median(timed(u) for u in fresh)
    with_history = statistics.median(timed(u) for u in seasoned)
    print(f"start a {args.module} mock, no history:      {base * 1000:7.1f} ms (median of "
          f"{args.repeat})")
    print(f"start a {args.module} mock, {args.history} earlier mocks: {with_history * 1000:7.1f} ms"
          f"   ratio {with_history / base:.2f}x")
    print(f"consecutive forms shared items: max {max(overlaps, default=0)}, "
          f"mean {statistics.mean(overlaps) if overlaps else 0:.1f}")
    engine.dispose()


if __name__ == "__main__":
    main()
