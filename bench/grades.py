"""Benchmark: grade passback through the outbox into the sandbox LMS's token/AGS endpoints.

    .venv/bin/python bench/grades.py [--scores 2000] [--workers 3] [--batch 100]

Setup (not timed): a fresh SQLite DB, gunicorn serving the tool with its sandbox LMS, one
graded link, and ``--scores`` finished attempts (10 per student) whose scores wait in the
outbox. Timed: (1) the outbox worker drains every score (token request, line item, score
POST, outcome recorded); (2) baseline: the same number of score bodies POSTed straight to
the AGS endpoint with one bare ``requests.Session`` and one token. Prints scores/s for both,
their ratio, the drain time and token requests per 1,000 scores (target: one per token
lifetime per platform).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "tests"))  # tests/factories.py: builders shared with the tests

from factories import db_sessions, prepare, tool_env  # noqa: E402
from harness import free_port, gunicorn  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from lti_tool.db import make_engine, make_session_factory, transaction  # noqa: E402
from lti_tool.delivery.sealed import Sealer, new_key  # noqa: E402
from lti_tool.delivery.worker import OutboxWorker  # noqa: E402
from lti_tool.models import (  # noqa: E402
    Attempt,
    AttemptMode,
    AttemptStatus,
    Course,
    Deployment,
    Outbox,
    OutboxStatus,
    Platform,
    ResourceLink,
    User,
)
from lti_tool.ops.migrate import upgrade_to_head  # noqa: E402
from lti_tool.practice.grading import queue_link_score  # noqa: E402
from lti_tool.sandbox.models import SandboxLineItem, SandboxToken  # noqa: E402
from lti_tool.sandbox.platforms import AGS_SCOPES, MOODLE  # noqa: E402
from lti_tool.settings import load_settings  # noqa: E402

# One per run: the bench process signs with the tool key the server processes sealed.
SEALING_KEY = new_key()


def setup(url: str, base: str, scores: int) -> str:
    """Returns the line item URL."""
    upgrade_to_head(url)
    settings = load_settings(env=tool_env(url, base, sealing_key=SEALING_KEY))
    now = datetime.now(UTC)
    prepare(settings, lambda: now)
    engine, sessions = db_sessions(settings)
    with transaction(sessions) as db:
        item = SandboxLineItem(platform_key="moodle", context_id=MOODLE.context_id,
                               label="Safety: practice test", score_maximum=25,
                               resource_id="practice:safety")
        db.add(item)
        db.flush()
        item_url = (f"{MOODLE.base(settings)}/mod/lti/services.php/{MOODLE.context_id}"
                    f"/lineitems/{item.id}/lineitem")
        platform = db.scalars(select(Platform).where(
            Platform.client_id == MOODLE.client_id)).one()
        deployment = db.scalars(select(Deployment).where(
            Deployment.platform_id == platform.id)).one()
        course = Course(deployment_id=deployment.id, context_id=MOODLE.context_id)
        db.add(course)
        db.flush()
        link = ResourceLink(course_id=course.id, link_id="bench-link",
                            custom={"activity": "practice", "module": "safety", "size": "25"},
                            ags_lineitem_url=item_url, ags_scopes=list(AGS_SCOPES))
        db.add(link)
        db.flush()
        per_student = 10
        for n in range(0, scores, per_student):
            user = User(platform_id=platform.id, sub=f"bench-{n}")
            db.add(user)
            db.flush()
            for k in range(per_student):
                at = now - timedelta(minutes=per_student - k)
                db.add(Attempt(id=f"{n:06d}-{k:02d}-bench-000000000000000000", user_id=user.id,
                               course_id=course.id, resource_link_id=link.id,
                               mode=AttemptMode.PRACTICE, status=AttemptStatus.SUBMITTED,
                               module_id="safety", item_ids=[], counts_for_grade=True,
                               started_at=at,
                               submitted_at=at, updated_at=at, score_raw=(n + k) % 26,
                               score_max=25))
                db.flush()
                queue_link_score(db, at, link.id, user.id)
    engine.dispose()
    return item_url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scores", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    if min(args.scores, args.workers, args.batch) < 1:
        parser.error("all counts must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/grades.db"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        item_url = setup(url, base, args.scores)
        # Threads: the sandbox's token endpoint fetches the tool's JWKS from the same
        # server, which would deadlock a single-threaded worker (a real LMS is elsewhere).
        env = {**os.environ, **tool_env(url, base, sealing_key=SEALING_KEY,
                                        CPT_LTI_LOG_LEVEL="WARNING",
                                        CPT_LTI_GUNICORN_THREADS="4")}
        engine = make_engine(url)
        sessions = make_session_factory(engine, Sealer([SEALING_KEY]))
        with gunicorn(port, args.workers, env):
            worker = OutboxWorker(sessions, lambda: datetime.now(UTC), 10.0,
                                  settings=load_settings(env=env))
            began = time.perf_counter()
            sent = 0
            while True:
                report = worker.run_once(args.batch)
                sent += report.sent
                if report.errors:
                    print("not delivered:", report.errors[:3])
                if report.handled == 0:
                    break
            drain = time.perf_counter() - began
            with transaction(sessions) as db:
                tokens = db.scalar(select(func.count()).select_from(SandboxToken))
                token = db.scalars(select(SandboxToken)).first().token
                left = db.scalar(select(func.count()).select_from(Outbox).where(
                    Outbox.status != OutboxStatus.SENT))
                bodies = [o.payload for o in db.scalars(select(Outbox).limit(args.scores))]
            http = requests.Session()
            http.headers.update({"Authorization": f"Bearer {token}",
                                 "Content-Type": "application/vnd.ims.lis.v1.score+json"})
            began = time.perf_counter()
            for n, payload in enumerate(bodies):
                http.post(item_url + "/scores", json={
                    "userId": f"baseline-{n % 200}", "scoreGiven": payload["score_given"],
                    "scoreMaximum": payload["score_maximum"],
                    "activityProgress": "Completed", "gradingProgress": "FullyGraded",
                    "timestamp": datetime.now(UTC).isoformat()})
            baseline = time.perf_counter() - began
        engine.dispose()
    rate, base_rate = sent / drain, len(bodies) / baseline
    print(f"gunicorn workers={args.workers}, SQLite, {os.cpu_count()} CPUs")
    print(f"outbox: {sent} scores drained in {drain:.1f}s = {rate:.0f}/s; not sent: {left}")
    print(f"token requests: {tokens} ({tokens * 1000 / max(sent, 1):.2f} per 1,000 scores)")
    print(f"baseline (bare session, pre-built bodies): {base_rate:.0f}/s; "
          f"outbox : baseline = {rate / base_rate:.2f}")
    return 1 if left else 0


if __name__ == "__main__":
    raise SystemExit(main())
