"""Benchmark: what the statement quality gate adds to rendering a statement.

    .venv/bin/python bench/gate.py [--statements 2000] [--rounds 5]

Practice sessions (drills and mock exams through the practice engine, on SQLite) queue
about ``--statements`` learning events. Then, in this one process, every queued event is
rendered as the worker's fan-out renders it (``render_statement`` with its row cache,
then the statement JSON for an LRS naming learners by account), alone and followed by the
gate (``delivery.gate.violations``: parse the frozen JSON, xAPI 1.0.3 rules, the profile's
templates). Rounds alternate the two and the best round of each counts. Prints the cost
per statement of each and their ratio (render+gate : render), and how many statements
the gate refused (expected: none).
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from random import Random

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "tests"))  # tests/factories.py: builders shared with the tests

from factories import course_row, platform_id_of  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from lti_tool.curriculum.checks import load_bank  # noqa: E402
from lti_tool.curriculum.loader import sync_curriculum  # noqa: E402
from lti_tool.db import make_engine, make_session_factory, transaction  # noqa: E402
from lti_tool.delivery.gate import violations  # noqa: E402
from lti_tool.delivery.render import RowCache, render_statement  # noqa: E402
from lti_tool.models import ActorIdentity, Outbox, OutboxKind, User  # noqa: E402
from lti_tool.ops.migrate import upgrade_to_head  # noqa: E402
from lti_tool.practice.service import PracticeService  # noqa: E402

MODULES = ("safety", "quality", "processes", "maintenance")


def _queued(sessions) -> int:
    with transaction(sessions) as db:
        return db.scalar(select(func.count()).select_from(Outbox).where(
            Outbox.kind == OutboxKind.XAPI)) or 0


def enqueue(sessions, statements: int) -> None:
    """Drills (10 answers) and short mock exams, as students take them, until at least
    ``statements`` events wait: every statement kind but the lesson's."""
    with transaction(sessions) as db:
        course = course_row(db, "bench", title="Bench course")
        platform_id, course_id = platform_id_of(db, course), course.id
    rng = Random(1)
    n = 0
    while _queued(sessions) < statements:
        mode = "mock" if n % 5 == 4 else "drill"
        with transaction(sessions) as db:
            user = User(platform_id=platform_id, sub=f"student-{n}")
            db.add(user)
            db.flush()
            user_id = user.id
            svc = PracticeService(db, lambda: datetime.now(UTC), rng)
            attempt_id = svc.start(user_id, mode, MODULES[n % 4], course_id=course_id).id
        for _ in range(10):
            with transaction(sessions) as db:
                svc = PracticeService(db, lambda: datetime.now(UTC), rng)
                item = svc.item(attempt_id, user_id)
                if item is None:
                    break
                svc.answer(attempt_id, user_id, item.id, rng.randrange(4),
                           secrets.token_hex(8), duration_ms=rng.randrange(3000, 40000))
        with transaction(sessions) as db:
            PracticeService(db, lambda: datetime.now(UTC), rng).submit(attempt_id, user_id)
        n += 1


def one_round(sessions, payloads: list[dict], gate: bool) -> tuple[float, int]:
    """(seconds, statements refused) to render every payload, with or without the gate."""
    refused = 0
    with transaction(sessions) as db:
        cache = RowCache(db)
        began = time.perf_counter()
        for payload in payloads:
            _, build = render_statement(db, payload, cache)
            body = build(ActorIdentity.ACCOUNT)
            if gate and violations(body):
                refused += 1
        return time.perf_counter() - began, refused


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--statements", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if min(args.statements, args.rounds) < 1:
        parser.error("counts must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade_to_head(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        with transaction(sessions) as db:
            sync_curriculum(db, load_bank(), lambda: datetime.now(UTC))
        enqueue(sessions, args.statements)
        with transaction(sessions) as db:
            payloads = [dict(p) for p in db.scalars(
                select(Outbox.payload).where(Outbox.kind == OutboxKind.XAPI)
                .order_by(Outbox.id).limit(args.statements))]
        alone, gated, refused = float("inf"), float("inf"), 0
        one_round(sessions, payloads, gate=True)  # warm up: imports, profile, caches
        for _ in range(args.rounds):
            alone = min(alone, one_round(sessions, payloads, gate=False)[0])
            seconds, refused = one_round(sessions, payloads, gate=True)
            gated = min(gated, seconds)
        engine.dispose()
    count = len(payloads)
    print(f"{count} statements, best of {args.rounds} rounds")
    print(f"render alone:  {alone * 1e6 / count:.0f} us per statement")
    print(f"render + gate: {gated * 1e6 / count:.0f} us per statement "
          f"(the gate: {(gated - alone) * 1e6 / count:.0f} us); refused {refused}")
    print(f"render+gate : render = {gated / alone:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
