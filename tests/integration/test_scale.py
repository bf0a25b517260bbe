"""The scale path: two tool instances (separate gunicorn processes, so no shared Python
memory) behind one address and two `cpt-lti worker` processes, all on one PostgreSQL.

What must hold when a college runs more than one machine: a launch begun on one instance
completes on the other (state, nonce and keys live in the database); an attempt answered
through both in turn stays consistent; two workers deliver each outbox row exactly once.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from lti_helpers import storage_config
from scale_support import SECRET_KEY, Instance, Proxy, Worker, tool_env
from sqlalchemy import func, select
from support import POSTGRES_URL, make_settings, parse_form, prepare, reset_postgres

from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.delivery.destinations import add_lrs
from lti_tool.models import Attempt, Outbox, OutboxKind, OutboxStatus, Platform
from lti_tool.models import Response as Answer
from lti_tool.sandbox.models import SandboxScore
from lti_tool.sandbox.platforms import CANVAS, MOODLE
from lti_tool.settings import Settings

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="set CPT_LTI_TEST_POSTGRES_URL: the scale path is PostgreSQL's")


@dataclass
class Cluster:
    """What the helpers of other test modules call a server: ``url`` and ``settings``."""

    url: str
    settings: Settings
    proxy: Proxy
    instances: list[Instance]
    env: dict[str, str]

    def db(self):
        engine = make_engine(self.settings.database_url)
        return engine, make_session_factory(engine)


@pytest.fixture(scope="module")
def _cluster() -> Iterator[Cluster]:
    """Started once for the module (two gunicorns and the curriculum take seconds); the
    tests use different people, so they do not see each other's data."""
    assert POSTGRES_URL
    reset_postgres(POSTGRES_URL)
    proxy = Proxy(backends=[]).start()
    instances: list[Instance] = []
    try:
        settings = make_settings(POSTGRES_URL, proxy.url, secret_key=SECRET_KEY)
        prepare(settings)
        env = tool_env(POSTGRES_URL, proxy.url)
        for _ in range(2):
            instances.append(Instance(env).start())
        proxy.backends.extend(i.url for i in instances)
        yield Cluster(proxy.url, settings, proxy, instances, env)
    finally:
        for instance in instances:
            instance.stop()
        proxy.stop()


@pytest.fixture
def cluster(_cluster: Cluster) -> Cluster:
    _cluster.proxy.choose = None
    _cluster.proxy.hops.clear()
    return _cluster


def _launch_form(cluster: Cluster, s: requests.Session, platform, sub: str,
                 link: str = "cpt-practice-home") -> tuple[str, dict[str, str]]:
    """Everything up to the id_token form the LMS posts to /lti/launch."""
    r = s.get(f"{cluster.url}/sandbox/{platform.key}/launch/frame",
              params={"user": sub, "link": link})
    action, fields = parse_form(r.text)
    r = s.post(action, data=fields)
    storage = storage_config(r.text)
    if storage:
        r = s.get(storage["redirect"])
    return parse_form(r.text)


@pytest.mark.parametrize(("platform", "login_on", "launch_on"),
                         [(CANVAS, 0, 1), (MOODLE, 1, 0)])
def test_launch_begun_on_one_instance_completes_on_the_other(cluster, platform, login_on,
                                                             launch_on):
    cluster.proxy.choose = lambda method, path: (
        launch_on if path.startswith("/lti/launch") else login_on)
    learner = next(p for p in platform.people if p.persona == "learner")
    s = requests.Session()
    action, fields = _launch_form(cluster, s, platform, learner.sub)
    page = s.post(action, data=fields)
    assert page.status_code == 200, page.text[:500]
    assert f"Welcome, {learner.given_name}" in page.text
    assert set(cluster.proxy.served("/lti/login")) == {login_on}
    assert set(cluster.proxy.served("/lti/launch")) == {launch_on}

    # The nonce was used on one instance: the same id_token replayed on the other is refused.
    cluster.proxy.choose = lambda method, path: login_on
    replay = requests.Session()
    replay.cookies.update(s.cookies)
    again = replay.post(action, data=fields)
    assert again.status_code in {400, 401, 403}
    assert "Welcome" not in again.text


def _signed_in(cluster: Cluster, platform, sub: str) -> requests.Session:
    s = requests.Session()
    action, fields = _launch_form(cluster, s, platform, sub)
    page = s.post(action, data=fields)
    assert page.status_code == 200, page.text[:500]
    s.headers["X-CSRF-Token"] = re.search(r'name="csrf-token" content="([^"]+)"',
                                          page.text).group(1)
    return s


def test_attempt_answered_alternately_through_both_instances_stays_consistent(cluster):
    learner = CANVAS.people[0]
    s = _signed_in(cluster, CANVAS, learner.sub)
    cluster.proxy.hops.clear()  # from here on: round robin, every request on the other one
    started = s.post(f"{cluster.url}/api/attempts", json={"mode": "practice",
                                                          "module_id": "safety", "size": 12})
    assert started.status_code == 201, started.text
    attempt_id = started.json()["id"]

    recorded = 0
    for n in range(12):
        item = s.get(f"{cluster.url}/api/attempts/{attempt_id}/item").json()["item"]
        key = uuid.uuid4().hex
        body = {"item_id": item["id"], "choice": n % 4, "idempotency_key": key}
        first = s.post(f"{cluster.url}/api/attempts/{attempt_id}/answers", json=body)
        assert first.status_code == 201, first.text
        recorded += 1
        # The same answer resent (a retry after a dropped connection) lands on the other
        # instance: recognised as the same answer, not counted twice.
        again = s.post(f"{cluster.url}/api/attempts/{attempt_id}/answers", json=body)
        assert again.status_code == 200 and again.json()["recorded"] is False
        if n < 11:
            assert again.json()["next_item"]["id"] == first.json()["next_item"]["id"]
    served = {h.instance for h in cluster.proxy.hops if "/answers" in h.path}
    assert served == {0, 1}

    submitted = s.post(f"{cluster.url}/api/attempts/{attempt_id}/submit")
    assert submitted.status_code == 200
    results = s.get(f"{cluster.url}/api/attempts/{attempt_id}/results").json()
    assert results["status"] == "submitted"
    assert results["score_max"] == 12
    assert len(results["review"]) == 12

    engine, sessions = cluster.db()
    try:
        with transaction(sessions) as db:
            answers = db.scalars(select(Answer).where(Answer.attempt_id == attempt_id)).all()
            assert len(answers) == recorded == 12
            assert len({a.item_id for a in answers}) == 12
            plan = db.get(Attempt, attempt_id).item_ids
            assert sorted(a.item_id for a in answers) == sorted(plan)
    finally:
        engine.dispose()


def test_two_tabs_on_two_instances_answering_one_item_at_once_stay_consistent(cluster):
    """Two different answers to one item at the same moment, one through each instance.
    A practice test lets a student change an answer, so both may be recorded when one
    commits before the other reads; if they truly overlap, one is told it conflicts.
    Either way: every 201 is one stored answer at its own position, nothing else is
    stored, and the item's final answer is the one recorded last."""
    s = _signed_in(cluster, MOODLE, MOODLE.people[0].sub)
    attempt_id = s.post(f"{cluster.url}/api/attempts", json={
        "mode": "practice", "module_id": "quality", "size": 5}).json()["id"]
    item = s.get(f"{cluster.url}/api/attempts/{attempt_id}/item").json()["item"]
    recorded = 0
    for _round in range(5):
        barrier = threading.Barrier(2)
        outcomes: list[tuple[int, int, dict[str, Any]]] = []

        def answer(choice: int, outcomes=outcomes, barrier=barrier) -> None:
            barrier.wait()
            r = s.post(f"{cluster.url}/api/attempts/{attempt_id}/answers", json={
                "item_id": item["id"], "choice": choice,
                "idempotency_key": uuid.uuid4().hex})
            outcomes.append((r.status_code, choice, r.json()))

        threads = [threading.Thread(target=answer, args=(c,)) for c in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert {code for code, _, _ in outcomes} <= {201, 409}, outcomes
        assert any(code == 201 for code, _, _ in outcomes), outcomes
        recorded += sum(code == 201 for code, _, _ in outcomes)
    served = {h.instance for h in cluster.proxy.hops if "/answers" in h.path}
    assert served == {0, 1}

    engine, sessions = cluster.db()
    try:
        with transaction(sessions) as db:
            stored = db.scalars(select(Answer).where(Answer.attempt_id == attempt_id)
                                .order_by(Answer.position)).all()
        assert len(stored) == recorded
        positions = [a.position for a in stored]
        assert positions == list(range(1, len(stored) + 1))  # no gap, no duplicate
        assert {a.item_id for a in stored} == {item["id"]}
    finally:
        engine.dispose()
    review = s.post(f"{cluster.url}/api/attempts/{attempt_id}/submit").json()["review"]
    final = next(r for r in review if r["id"] == item["id"])
    assert final["chosen"] == stored[-1].choice


class CountingLrs:
    """In front of Ralph: counts every statement id POSTed to it, so a statement sent twice
    shows up even though Ralph itself would store it once."""

    def __init__(self, upstream: str) -> None:
        self.posted: Counter[str] = Counter()
        self.requests = 0
        lrs = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.command == "POST" and body:
                    sent = json.loads(body)
                    sent = sent if isinstance(sent, list) else [sent]
                    with lrs_lock:
                        lrs.requests += 1
                        lrs.posted.update(st["id"] for st in sent)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in {"host", "content-length", "connection"}}
                answer = requests.request(self.command, upstream + self.path.split(
                    "/", 2)[2], headers=headers, data=body, timeout=60)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type",
                                                                    "text/plain"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = _forward  # noqa: N815 - http.server API

            def log_message(self, *args: Any) -> None:
                pass

        lrs_lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}/xapi/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _pending(sessions) -> int:
    with transaction(sessions) as db:
        return db.scalar(select(func.count()).select_from(Outbox).where(
            Outbox.status != OutboxStatus.SENT))


def test_two_workers_deliver_every_outbox_row_exactly_once(cluster, ralph, tmp_path):
    from test_grade_passback import _place, _take_practice

    counting = CountingLrs(ralph.endpoint)
    engine, sessions = cluster.db()
    workers: list[Worker] = []
    try:
        with transaction(sessions) as db:
            for platform in db.scalars(select(Platform)):
                add_lrs(db, cluster.settings, platform, name="college-lrs",
                        url=counting.endpoint, username=ralph.auth[0],
                        password=ralph.auth[1])
        # Students on both platforms work through both instances (round robin): xAPI
        # statements for every event and, on placed links, scores for the gradebook.
        cluster.proxy.choose = None
        placed = {CANVAS.key: _place(cluster, CANVAS), MOODLE.key: _place(cluster, MOODLE)}
        for platform in (CANVAS, MOODLE):
            for person in [p for p in platform.people if p.persona == "learner"]:
                for right in (3, 7):
                    _take_practice(cluster, platform, person, placed[platform.key], right)
        with transaction(sessions) as db:
            kinds = Counter(db.scalars(select(Outbox.kind)))
        assert kinds[OutboxKind.AGS] >= 8 and kinds[OutboxKind.XAPI] >= 100

        env = {**cluster.env, "CPT_LTI_WORKER_INTERVAL_SECONDS": "0.2"}
        workers = [Worker(env, tmp_path / f"worker-{n}.log", limit=5).start()
                   for n in range(2)]
        deadline = time.monotonic() + 120
        while _pending(sessions) and time.monotonic() < deadline:
            time.sleep(0.5)
        for worker in workers:
            worker.stop()
        assert _pending(sessions) == 0, [w.output()[-2000:] for w in workers]

        # Both workers did a share of the work...
        for worker in workers:
            assert re.search(r"sent [1-9]", worker.output()), worker.output()[-2000:]
        # ...and no statement went to the LRS twice, none is missing.
        with transaction(sessions) as db:
            expected = {row.payload["statement_id"] for row in db.scalars(
                select(Outbox).where(Outbox.kind == OutboxKind.XAPI))}
        assert set(counting.posted) == expected
        assert max(counting.posted.values()) == 1
        stored = ralph.count_by_id()
        assert set(stored) == expected and max(stored.values()) == 1
        # Every score reached the gradebook once: one score POST per AGS row.
        with transaction(sessions) as db:
            scores = db.scalar(select(func.count()).select_from(SandboxScore))
        assert scores == kinds[OutboxKind.AGS]
    finally:
        for worker in workers:
            worker.stop()
        counting.stop()
        engine.dispose()
