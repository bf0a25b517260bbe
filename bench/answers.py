"""Benchmark: concurrent students answering through the real HTTP API under gunicorn.

    .venv/bin/python bench/answers.py [--students 200] [--answers 10] [--workers 3]
                                      [--think-ms 3000] [--connections 16]

Defaults: 3 gunicorn workers (2 x CPUs on the 2-core target, minus one for the clients).

Setup (not timed): a fresh SQLite DB with the curriculum, one tool session per student
and an open drill each. Two timed phases against the same gunicorn:

1. Latency: ``--students`` students, each answering ``--answers`` items with a random
   think time (exponential, mean ``--think-ms``) between answers, as in a class. Prints
   answers/s and p50/p95/p99 of the answer POST (which also returns the next item).
2. Throughput: ``--connections`` clients answer with no think time (saturation), then the
   same clients hit ``/ping`` (no DB, no template), the baseline served by the same
   gunicorn in the same run. Prints both rates and their ratio.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "tests"))  # tests/factories.py: builders shared with the tests

from factories import tool_env  # noqa: E402
from harness import free_port, gunicorn  # noqa: E402

from lti_tool.curriculum.checks import load_bank  # noqa: E402
from lti_tool.db import transaction  # noqa: E402
from lti_tool.delivery.sealed import new_key  # noqa: E402
from lti_tool.models import Role, ToolSession  # noqa: E402
from lti_tool.practice.service import PracticeService  # noqa: E402
from lti_tool.sandbox.learners import learner_world  # noqa: E402


def setup(url: str, students: int) -> list[tuple[str, str, str]]:
    """(session id, csrf token, attempt id) per student."""
    now = datetime.now(UTC)
    subs = [f"student-{n}" for n in range(students)]
    engine, sessions, ids = learner_world(url, load_bank(), lambda: now, subs)
    out = []
    with transaction(sessions) as db:
        service = PracticeService(db, lambda: now, Random(1))
        for n, user_id in enumerate(ids):
            sid, csrf = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            db.add(ToolSession(id=sid, user_id=user_id, role=Role.LEARNER, csrf_token=csrf,
                               launch_id="bench", expires_at=now + timedelta(hours=2)))
            module = ("safety", "quality", "processes", "maintenance")[n % 4]
            out.append((sid, csrf, service.start(user_id, "drill", module).id))
    engine.dispose()
    return out


def run_students(base: str, students: list[tuple[str, str, str]], answers: int,
                 think_ms: float, seed: int = 1) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0

    def one(student: tuple[str, str, str]) -> tuple[list[float], int]:
        sid, csrf, attempt = student
        rng = Random(f"{seed}-{sid}")
        http = requests.Session()
        http.headers.update({"X-CPT-Session": sid, "X-CSRF-Token": csrf})
        mine, bad = [], 0
        r = http.get(f"{base}/api/attempts/{attempt}/item")
        if r.status_code != 200:
            return mine, 1
        item = r.json()["item"]
        for n in range(answers):
            if think_ms:
                time.sleep(rng.expovariate(1000.0 / think_ms))
            start = time.perf_counter()
            r = http.post(f"{base}/api/attempts/{attempt}/answers", json={
                "item_id": item["id"], "choice": n % 4,
                "idempotency_key": secrets.token_hex(8)})
            mine.append(time.perf_counter() - start)
            if r.status_code != 201:
                bad += 1
                break
            item = r.json()["next_item"]
        return mine, bad

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(students)) as pool:
        for mine, bad in pool.map(one, students):
            latencies += mine
            errors += bad
    return latencies, errors, time.perf_counter() - began


def run_ping(base: str, clients: int, per_client: int) -> float:
    def one(_: int) -> int:
        http = requests.Session()
        return sum(http.get(f"{base}/ping").status_code == 200 for _ in range(per_client))

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        done = sum(pool.map(one, range(clients)))
    return done / (time.perf_counter() - began)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--answers", type=int, default=10)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--think-ms", type=float, default=3000.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if min(args.students, args.answers, args.workers, args.connections) < 1 or \
            args.think_ms < 0:
        parser.error("counts must be at least 1 and --think-ms at least 0")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        students = setup(url, args.students + args.connections)
        classroom, saturating = students[:args.students], students[args.students:]
        port = free_port()
        env = {**os.environ, **tool_env(url, f"http://127.0.0.1:{port}",
                                        sealing_key=new_key(), sandbox=False,
                                        CPT_LTI_LOG_LEVEL="WARNING")}
        with gunicorn(port, args.workers, env) as base:
            latencies, errors, seconds = run_students(base, classroom, args.answers,
                                                      args.think_ms)
            burst, burst_errors, burst_seconds = run_students(base, saturating,
                                                              args.answers * 10, 0.0)
            ping_rate = run_ping(base, args.connections, args.answers * 10)
    rate = len(latencies) / seconds
    burst_rate = len(burst) / burst_seconds
    print(f"gunicorn workers={args.workers}, SQLite, {os.cpu_count()} CPUs")
    print(f"class: {args.students} students x {args.answers} answers, think "
          f"{args.think_ms:.0f} ms mean: {len(latencies)} answers in {seconds:.1f}s = "
          f"{rate:.0f}/s, errors {errors}")
    print(f"  answer POST latency ms: p50 {pct(latencies, .5):.1f}  p95 "
          f"{pct(latencies, .95):.1f}  p99 {pct(latencies, .99):.1f}  mean "
          f"{statistics.mean(latencies) * 1000:.1f}")
    print(f"saturation: {args.connections} connections, no think time: {burst_rate:.0f} "
          f"answers/s (p95 {pct(burst, .95):.1f} ms), errors {burst_errors}")
    print(f"  /ping baseline {ping_rate:.0f}/s; answers/s : ping/s = "
          f"{burst_rate / ping_rate:.2f}")
    return 1 if errors or burst_errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
