"""Benchmark: xAPI statements from practice sessions, through the outbox, into Ralph.

    .venv/bin/python bench/xapi.py [--statements 20000] [--workers 2] [--batch 50]

1. Enqueue (timed per call): simulated students run drill sessions through the practice
   engine (start, answers, submit) until ``--statements`` learning events wait in the
   outbox. Prints the enqueue cost per statement: the time inside ``events.queue`` (one
   answer's event, or a start's or submit's batch) divided by the statements it queued;
   it runs in the answer's own transaction (target: under 1 ms).
2. Drain (timed): ``--workers`` outbox worker processes (as `cpt-lti worker` runs)
   render every event into its statement and deliver them to a fresh Ralph LRS in
   batches of ``--batch``. Prints statements/s, checks Ralph holds each id exactly once.
3. Baseline (timed, same run): the same statement bytes POSTed in the same batches to a
   second fresh Ralph with one bare ``requests.Session``: Ralph's own ingest rate.
   Prints both rates and their ratio (target: at least 0.9).

Ralph's filesystem backend rereads its whole file on every POST, so both runs slow down
as the file grows; each gets its own empty Ralph so they are compared like for like.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from random import Random

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "tests"))  # tests/factories.py: builders shared with the tests

from factories import course_row, platform_id_of, tool_env  # noqa: E402
from sqlalchemy import select  # noqa: E402

from lti_tool.curriculum.checks import load_bank  # noqa: E402
from lti_tool.curriculum.loader import sync_curriculum  # noqa: E402
from lti_tool.db import make_engine, make_session_factory, transaction  # noqa: E402
from lti_tool.delivery import events  # noqa: E402
from lti_tool.delivery.xapi import XapiDelivery  # noqa: E402
from lti_tool.models import (  # noqa: E402
    Outbox,
    OutboxKind,
    OutboxStatus,
    User,
)
from lti_tool.ops.migrate import upgrade_to_head  # noqa: E402
from lti_tool.practice.service import PracticeService  # noqa: E402
from lti_tool.sandbox.ralph_lrs import RalphServer  # noqa: E402
from lti_tool.settings import load_settings  # noqa: E402

MODULES = ("safety", "quality", "processes", "maintenance")


def enqueue(sessions, statements: int, answers_per_session: int) -> tuple[float, int]:
    """Run drill sessions until enough events are queued; returns (seconds inside
    ``events.queue``, events queued). Every event goes through it (an answer queues a
    batch of one)."""
    spent = [0.0]
    calls = [0]
    original = events.queue

    def timed(session, now, *batch):
        began = time.perf_counter()
        try:
            return original(session, now, *batch)
        finally:
            spent[0] += time.perf_counter() - began
            calls[0] += len(batch)

    events.queue = timed
    try:
        with transaction(sessions) as db:
            course = course_row(db, "bench", title="Bench course")
            platform_id, course_id = platform_id_of(db, course), course.id
        rng = Random(1)
        n = 0
        while calls[0] < statements:
            with transaction(sessions) as db:
                user = User(platform_id=platform_id, sub=f"student-{n}")
                db.add(user)
                db.flush()
                user_id = user.id
                svc = PracticeService(db, lambda: datetime.now(UTC), rng)
                attempt_id = svc.start(user_id, "drill", MODULES[n % 4], course_id=course_id).id
            for _ in range(answers_per_session):
                with transaction(sessions) as db:
                    svc = PracticeService(db, lambda: datetime.now(UTC), rng)
                    item = svc.item(attempt_id, user_id)
                    svc.answer(attempt_id, user_id, item.id, rng.randrange(4),
                               secrets.token_hex(8), duration_ms=rng.randrange(3000, 40000))
            with transaction(sessions) as db:
                PracticeService(db, lambda: datetime.now(UTC), rng).submit(attempt_id, user_id)
            n += 1
    finally:
        events.queue = original
    return spent[0], calls[0]


def _worker_process(settings) -> None:
    """One `cpt-lti worker`, as deployed: its own process, engine and LRS connection."""
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    delivery = XapiDelivery(sessions, settings, lambda: datetime.now(UTC))
    while True:
        if not delivery.run_once().handled:
            if _pending(sessions) == 0:
                break
            time.sleep(0.05)
    engine.dispose()


def drain(settings, workers: int) -> float:
    context = multiprocessing.get_context("fork")
    began = time.perf_counter()
    processes = [context.Process(target=_worker_process, args=(settings,))
                 for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    if any(p.exitcode for p in processes):
        raise RuntimeError(f"a worker failed: {[p.exitcode for p in processes]}")
    return time.perf_counter() - began


def _pending(sessions) -> int:
    from sqlalchemy import func

    with transaction(sessions) as db:
        return db.scalar(select(func.count()).select_from(Outbox).where(
            Outbox.kind == OutboxKind.XAPI, Outbox.status == OutboxStatus.PENDING)) or 0


def baseline(bodies: list[bytes], ralph: RalphServer, batch: int) -> float:
    http = requests.Session()
    http.auth = (ralph.username, ralph.password)
    http.headers.update({"X-Experience-API-Version": "1.0.3",
                         "Content-Type": "application/json"})
    began = time.perf_counter()
    for start in range(0, len(bodies), batch):
        answer = http.post(ralph.endpoint_url + "statements",
                           data=b"[" + b",".join(bodies[start:start + batch]) + b"]",
                           timeout=60)
        answer.raise_for_status()
    return time.perf_counter() - began


def count_in_ralph(ralph: RalphServer) -> tuple[int, int]:
    """(statements, distinct ids) stored, read back over HTTP."""
    ids: list[str] = []
    url: str | None = ralph.endpoint_url + "statements?limit=1000"
    while url:
        answer = requests.get(url, auth=(ralph.username, ralph.password),
                              headers={"X-Experience-API-Version": "1.0.3"}, timeout=120)
        answer.raise_for_status()
        data = answer.json()
        ids += [s["id"] for s in data["statements"]]
        url = ralph.base_url + data["more"] if data.get("more") else None
    return len(ids), len(set(ids))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--statements", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--answers", type=int, default=40, help="answers per session")
    args = parser.parse_args()
    if min(args.statements, args.workers, args.batch, args.answers) < 1:
        parser.error("counts must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade_to_head(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        with transaction(sessions) as db:
            sync_curriculum(db, load_bank(), lambda: datetime.now(UTC))
        enqueue_seconds, queued = enqueue(sessions, args.statements, args.answers)
        print(f"enqueue: {queued} statements, {enqueue_seconds * 1000 / queued:.3f} ms each "
              f"inside events.queue (in the answer's transaction)")

        ours = RalphServer(Path(tmp) / "ralph-ours").start()
        bare = RalphServer(Path(tmp) / "ralph-bare").start()
        try:
            settings = dataclasses.replace(
                load_settings(env=tool_env(url, sealing_key=None, sandbox=False)),
                xapi_endpoint=ours.endpoint_url, xapi_username=ours.username,
                xapi_password=ours.password, xapi_batch_size=args.batch)
            engine.dispose()  # the worker processes open their own
            seconds = drain(settings, args.workers)
            with transaction(sessions) as db:
                bodies = [b.encode() for b in db.scalars(
                    select(Outbox.body).where(Outbox.kind == OutboxKind.XAPI)
                    .order_by(Outbox.id))]
                not_sent = db.query(Outbox).filter(
                    Outbox.status != OutboxStatus.SENT).count()
            stored, distinct = count_in_ralph(ours)
            rate = len(bodies) / seconds
            print(f"outbox -> Ralph: {len(bodies)} statements in {seconds:.1f}s = {rate:.0f}/s "
                  f"with {args.workers} workers, batch {args.batch}; not sent {not_sent}; "
                  f"in Ralph {stored} ({distinct} distinct ids)")
            base_seconds = baseline(bodies, bare, args.batch)
            base_rate = len(bodies) / base_seconds
            print(f"baseline (bare session, pre-built batches): {base_rate:.0f}/s; "
                  f"outbox : baseline = {rate / base_rate:.2f}")
        finally:
            ours.stop()
            bare.stop()
            engine.dispose()
    return 0 if not_sent == 0 and stored == distinct == len(bodies) else 1


if __name__ == "__main__":
    os.environ.setdefault("CPT_LTI_LOG_LEVEL", "WARNING")
    raise SystemExit(main())
