"""Learning events -> outbox -> a real Ralph LRS over HTTP, on SQLite and PostgreSQL.

Counted the way an analytics team would: statements by registration and by id in the
LRS. Time is injected, so backoff and lease expiry are stepped, not slept.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from random import Random

import pytest
from lrs_support import Ralph
from ralph.models.xapi.base.statements import BaseXapiStatement
from sqlalchemy import func, select
from support import make_settings, prepare

from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.delivery.destinations import add_lrs
from lti_tool.delivery.outbox import outbox_status
from lti_tool.delivery.xapi import XapiDelivery
from lti_tool.models import (
    Course,
    Deployment,
    Outbox,
    OutboxKind,
    OutboxStatus,
    Platform,
    ResourceLink,
    User,
)
from lti_tool.practice.service import PracticeService
from xapi import vocabulary as v


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


class World:
    """Two colleges on their own platforms, a course and a student each."""

    def __init__(self, database_url: str, **overrides) -> None:
        self.settings = make_settings(database_url, **overrides)
        prepare(self.settings)
        self.engine = make_engine(self.settings.database_url)
        self.sessions = make_session_factory(self.engine)
        self.clock = Clock()
        self.students: dict[str, int] = {}
        self.platforms: dict[str, int] = {}
        with transaction(self.sessions) as db:
            for college in ("a", "b"):
                platform = Platform(issuer=f"https://lms.college-{college}.test",
                                    client_id=f"client-{college}", name=college,
                                    auth_login_url="https://x.test/a",
                                    auth_token_url="https://x.test/t",
                                    key_set_url="https://x.test/k")
                db.add(platform)
                db.flush()
                deployment = Deployment(platform_id=platform.id, deployment_id=f"dep-{college}")
                db.add(deployment)
                db.flush()
                course = Course(deployment_id=deployment.id, context_id=f"course-{college}",
                                title=f"Manufacturing 101 ({college.upper()})")
                db.add(course)
                db.flush()
                db.add(ResourceLink(course_id=course.id, link_id=f"link-{college}"))
                user = User(platform_id=platform.id, sub=f"student-{college}",
                            email=f"student@college-{college}.test")
                db.add(user)
                db.flush()
                self.students[college] = user.id
                self.platforms[college] = platform.id
                self.courses = getattr(self, "courses", {}) | {college: course.id}

    def delivery(self, **kw) -> XapiDelivery:
        return XapiDelivery(self.sessions, self.settings, self.clock, Random(1), **kw)

    def add_lrs(self, college: str, ralph: Ralph, name: str = "lrs",
                actor_identity: str = "account") -> None:
        with transaction(self.sessions) as db:
            add_lrs(db, self.settings, db.get(Platform, self.platforms[college]), name=name,
                    url=ralph.endpoint, username=ralph.auth[0], password=ralph.auth[1],
                    actor_identity=actor_identity)

    def session(self, college: str, mode: str = "drill", answers: int = 3) -> str:
        """One attempt from start to submit; returns its registration (attempt id)."""
        user = self.students[college]
        with transaction(self.sessions) as db:
            svc = PracticeService(db, self.clock, Random(7))
            attempt = svc.start(user, mode, "safety", course_id=self.courses[college])
            attempt_id = attempt.id
        for n in range(answers):
            self.clock.advance(seconds=15)
            with transaction(self.sessions) as db:
                svc = PracticeService(db, self.clock, Random(7))
                item = svc.item(attempt_id, user)
                svc.answer(attempt_id, user, item.id, n % 4, secrets.token_hex(8),
                           duration_ms=14_500)
        self.clock.advance(seconds=5)
        with transaction(self.sessions) as db:
            PracticeService(db, self.clock, Random(7)).submit(attempt_id, user)
        return attempt_id

    def rows(self, **where) -> list[Outbox]:
        with transaction(self.sessions) as db:
            query = select(Outbox).where(Outbox.kind == OutboxKind.XAPI)
            for key, value in where.items():
                query = query.where(getattr(Outbox, key) == value)
            return list(db.scalars(query.order_by(Outbox.id)))

    def drain(self, delivery: XapiDelivery, passes: int = 10) -> None:
        for _ in range(passes):
            report = delivery.run_once()
            if not report.handled:
                return

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def world(database_url):
    w = World(database_url)
    yield w
    w.close()


def _verbs(statements: list[dict]) -> list[str]:
    """In the profile's order: by timestamp alone (an LRS's ``stored`` order is its own;
    the statements of one registration never share a timestamp)."""
    ordered = sorted(statements, key=lambda s: s["timestamp"])
    assert len({s["timestamp"] for s in ordered}) == len(ordered)
    return [s["verb"]["id"].rsplit("/", 1)[-1] for s in ordered]


def test_a_session_arrives_complete_valid_and_in_the_profiles_order(world, ralph):
    world.add_lrs("a", ralph)
    registration = world.session("a", "drill", answers=3)
    world.drain(world.delivery())
    stored = ralph.statements(registration=registration)
    assert len(stored) == len(world.rows(status=OutboxStatus.SENT)) == 7
    for statement in stored:
        BaseXapiStatement.model_validate(statement)
        assert statement["actor"]["account"] == {"homePage": "https://lms.college-a.test",
                                                 "name": "student-a"}
        assert "mbox" not in json.dumps(statement)
        category = statement["context"]["contextActivities"]["category"]
        assert category[0]["id"] == v.PROFILE_VERSION
    verbs = _verbs(stored)
    # The profile's session pattern: initialized first, terminated last, answers between,
    # then completed and the mastery progress.
    assert verbs[0] == "initialized" and verbs[-1] == "terminated"
    assert verbs[1:4] == ["answered"] * 3
    assert verbs[4] == "completed" and verbs[5] == "progressed"
    answered = [s for s in stored if s["verb"]["id"] == v.ANSWERED.iri]
    assert {s["result"]["duration"] for s in answered} == {"PT14.5S"}
    completed = next(s for s in stored if s["verb"]["id"] == v.COMPLETED.iri)
    assert completed["result"]["score"]["max"] == 3
    assert completed["context"]["extensions"][v.LTI_CONTEXT.iri] == "course-a"


def test_lrs_down_for_a_while_then_everything_arrives_once(world, tmp_path):
    ralph = Ralph(tmp_path / "later")
    ralph.server.port = __import__("lti_tool.sandbox.ralph_lrs",
                                   fromlist=["free_port"]).free_port()
    ralph.server.write_credentials()
    world.add_lrs("a", ralph)
    first = world.session("a", "drill", answers=2)
    delivery = world.delivery()
    report = delivery.run_once()  # nothing listens on the port yet
    assert report.sent == 0 and report.retried == 6
    waiting = world.rows(status=OutboxStatus.PENDING)
    assert len(waiting) == 6 and all("unreachable" in r.last_error for r in waiting)
    world.clock.advance(seconds=3)
    assert delivery.run_once().sent == 0  # backing off: not even tried yet
    second = world.session("a", "practice", answers=2)  # more work queues meanwhile
    ralph.start()
    try:
        world.clock.advance(minutes=31)
        world.drain(delivery)
        counts = ralph.count_by_id()
        assert len(counts) == len(world.rows()) and set(counts.values()) == {1}
        assert world.rows(status=OutboxStatus.PENDING) == []
        # Each learner's statements stay in order within the LRS's stored sequence.
        for registration in (first, second):
            verbs = [s["verb"]["id"].rsplit("/", 1)[-1] for s in sorted(
                ralph.statements(registration=registration), key=lambda s: s["stored"])]
            assert verbs[0] == "initialized" and verbs[-1] == "terminated"
    finally:
        ralph.stop()


def test_a_worker_killed_between_post_and_bookkeeping_is_deduplicated(world, ralph):
    world.add_lrs("a", ralph)
    world.session("a", "drill", answers=2)
    crashing = world.delivery()

    def die() -> None:
        raise SystemExit("worker killed")

    crashing.after_post = die
    with pytest.raises(SystemExit):
        crashing.run_once()
    assert len(ralph.count_by_id()) == 6  # posted ...
    assert len(world.rows(status=OutboxStatus.PENDING)) == 6  # ... but not marked
    fresh = world.delivery()
    assert fresh.run_once().sent == 0  # the dead worker's lease still holds
    world.clock.advance(minutes=6)
    world.drain(fresh)
    counts = ralph.count_by_id()
    assert len(counts) == 6 and set(counts.values()) == {1}
    assert len(world.rows(status=OutboxStatus.SENT)) == 6


def test_a_bad_statement_is_parked_with_the_reason_and_the_rest_go_on(world, ralph):
    world.add_lrs("a", ralph)
    world.session("a", "drill", answers=3)
    delivery = world.delivery()
    delivery.fan_out()
    rows = world.rows()
    broken = rows[2]
    body = json.loads(broken.body)
    del body["actor"]  # something no LRS takes
    with transaction(world.sessions) as db:
        db.get(Outbox, broken.id).body = json.dumps(body)
    world.drain(delivery)
    parked = world.rows(status=OutboxStatus.FAILED)
    assert [r.id for r in parked] == [broken.id]
    assert parked[0].last_error == "rejected: HTTP 422: actor: Field required"
    assert len(ralph.count_by_id()) == len(rows) - 1
    with transaction(world.sessions) as db:
        status = outbox_status(db, world.clock())
    assert status["failed"][0]["id"] == broken.id
    assert status["failed"][0]["destination"].startswith("lrs:")


def test_a_conflicting_statement_id_is_reported_not_dropped(world, ralph):
    world.add_lrs("a", ralph)
    world.session("a", "drill", answers=1)
    delivery = world.delivery()
    world.drain(delivery)
    sent = world.rows(status=OutboxStatus.SENT)
    # Someone else's statement with one of our ids reaches the LRS first.
    with transaction(world.sessions) as db:
        twin = json.loads(sent[0].body)
        twin["context"]["language"] = "fr-FR"
        db.add(Outbox(kind=OutboxKind.XAPI, dedupe_key="twin", payload={}, body=json.dumps(twin),
                      destination=sent[0].destination, status=OutboxStatus.PENDING,
                      next_attempt_at=world.clock(), created_at=world.clock()))
    world.drain(delivery)
    parked = world.rows(status=OutboxStatus.FAILED)
    assert len(parked) == 1 and parked[0].last_error.startswith("conflict:")
    assert ralph.count_by_id()[twin["id"]] == 1


def test_colleges_statements_never_reach_each_others_lrs(world, ralph, tmp_path):
    other = Ralph(tmp_path / "college-b").start()
    try:
        world.add_lrs("a", ralph)
        world.add_lrs("b", other, actor_identity="mbox_sha1sum")
        a = world.session("a", "drill", answers=1)
        b = world.session("b", "drill", answers=1)
        world.drain(world.delivery())
        in_a, in_b = ralph.statements(), other.statements()
        assert {s["context"]["registration"] for s in in_a} == {a}
        assert {s["context"]["registration"] for s in in_b} == {b}
        assert all(s["actor"].get("account", {}).get("homePage") ==
                   "https://lms.college-a.test" for s in in_a)
        # College B chose hashed e-mail: the address itself never leaves the tool.
        assert all(len(s["actor"]["mbox_sha1sum"]) == 40 for s in in_b)
        assert "college-b.test" not in json.dumps(in_b).replace(
            "https://lms.college-b.test", "")
    finally:
        other.stop()


def test_two_lrss_for_one_college_each_get_everything(world, ralph, tmp_path):
    second = Ralph(tmp_path / "second").start()
    try:
        world.add_lrs("a", ralph, name="district")
        world.add_lrs("a", second, name="state")
        world.session("a", "drill", answers=2)
        world.drain(world.delivery())
        assert ralph.count_by_id() == second.count_by_id()
        assert len(ralph.count_by_id()) == 6
        assert len(world.rows(status=OutboxStatus.SENT)) == 12
    finally:
        second.stop()


def test_events_wait_for_an_lrs_and_the_history_follows_when_one_is_added(world, ralph):
    registration = world.session("a", "drill", answers=1)
    delivery = world.delivery()
    report = delivery.run_once()
    assert report.waiting_for_lrs == 5 and report.sent == 0
    with transaction(world.sessions) as db:
        status = outbox_status(db, world.clock())
    assert status["xapi_destinations"][0]["pending"] == 5
    assert "no LRS" in status["xapi_destinations"][0]["last_error"]
    world.add_lrs("a", ralph)
    world.clock.advance(minutes=6)
    world.drain(delivery)
    assert len(ralph.statements(registration=registration)) == 5


def test_the_default_lrs_takes_platforms_without_their_own(database_url, ralph):
    w = World(database_url, xapi_endpoint=ralph.endpoint, xapi_username=ralph.auth[0],
              xapi_password=ralph.auth[1])
    try:
        registration = w.session("b", "drill", answers=1)
        w.drain(w.delivery())
        assert len(ralph.statements(registration=registration)) == 5
        with transaction(w.sessions) as db:
            keys = set(db.scalars(select(Outbox.destination).distinct()))
            assert keys == {"default"}
            assert db.scalar(select(func.count()).select_from(Outbox).where(
                Outbox.status != OutboxStatus.SENT)) == 0
    finally:
        w.close()


def test_a_changed_sealing_key_keeps_statements_waiting_with_a_clear_reason(database_url):
    """LRS passwords are sealed with the sealing key (issue 15), not the cookie secret: a
    sealing key replaced without `cpt-lti sealing rotate` leaves them unreadable, and the
    statements wait with a reason that says how to recover."""
    w = World(database_url)
    try:
        with transaction(w.sessions) as db:
            add_lrs(db, w.settings, db.get(Platform, w.platforms["a"]), name="lrs",
                    url="http://127.0.0.1:9/xAPI/", username="u", password="p")
        w.session("a", "drill", answers=1)
        import dataclasses

        from cryptography.fernet import Fernet

        rekeyed = XapiDelivery(w.sessions, dataclasses.replace(
            w.settings, sealing_key=Fernet.generate_key().decode()), w.clock, Random(1))
        report = rekeyed.run_once()
        assert report.sent == 0 and report.retried == 5
        waiting = w.rows(status=OutboxStatus.PENDING)
        assert len(waiting) == 5
        assert all("sealing rotate" in r.last_error and "add the LRS again" in r.last_error
                   for r in waiting)
    finally:
        w.close()


def test_every_statement_kind_round_trips_through_ralph(ralph):
    """POST each kind, then GET it back by registration: Ralph stores what we sent."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
    from test_xapi_statements import every_event

    from xapi.lrs import LrsClient, LrsEndpoint, same_statement
    from xapi.statements import statement_bytes, statement_json

    client = LrsClient(LrsEndpoint("ralph", ralph.endpoint, *ralph.auth))
    events = every_event()
    outcomes = client.deliver([(n, statement_bytes(e)) for n, e in enumerate(events)])
    assert {o.kind for _, o in outcomes} == {"delivered"}
    for event in events:
        found = [s for s in ralph.statements(registration=event.registration)
                 if s["id"] == event.statement_id]
        assert len(found) == 1, type(event).__name__
        stored = found[0]
        BaseXapiStatement.model_validate(stored)
        assert same_statement(statement_json(event), stored)


def test_a_mock_exam_session_follows_the_pattern_with_its_verdict(world, ralph):
    world.add_lrs("a", ralph)
    registration = world.session("a", "mock", answers=3)  # 3 of 80 answered: failed
    world.drain(world.delivery())
    verbs = _verbs(ralph.statements(registration=registration))
    assert verbs[0] == "initialized" and verbs[-1] == "terminated"
    assert verbs[1:4] == ["answered"] * 3
    assert verbs[4:6] == ["completed", "failed"]
    assert set(verbs[6:-1]) == {"progressed"}
