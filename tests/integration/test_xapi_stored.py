"""Statements an analytics team can use as stored (issue 19, defect 11).

Each test drives the engine, delivers through the outbox to a real Ralph LRS and reads
the statements back from Ralph, as an analyst would.
"""

from __future__ import annotations

import secrets
from random import Random

from sqlalchemy import select
from test_xapi_delivery import World, world  # noqa: F401 - the fixture

from lti_tool.db import transaction
from lti_tool.delivery.worker import OutboxWorker
from lti_tool.models import Attempt, AttemptStatus, CurriculumItem, CurriculumLesson
from lti_tool.practice.service import PracticeService
from xapi import vocabulary as v


def _svc(w: World, db) -> PracticeService:
    return PracticeService(db, w.clock, Random(7))


def _by_verb(statements: list[dict], verb: v.Concept) -> list[dict]:
    return [s for s in statements if s["verb"]["id"] == verb.iri]


def _drill_answers(w: World, attempt_id: str, user: int, answers: int,
                   seconds: int = 15, reading: int = 0) -> None:
    """Answers the way the pages post them: the question is shown (one request), the
    answer comes ``seconds`` later (another) with no duration measured by the browser."""
    for n in range(answers):
        with transaction(w.sessions) as db:
            item = _svc(w, db).item(attempt_id, user)
        w.clock.advance(seconds=seconds)
        with transaction(w.sessions) as db:
            _svc(w, db).answer(attempt_id, user, item.id, n % 4, secrets.token_hex(8))
        w.clock.advance(seconds=reading)  # the feedback page, before "Next question"


def _start(w: World, mode: str, **kw) -> tuple[int, str]:
    user = w.students["a"]
    with transaction(w.sessions) as db:
        attempt = _svc(w, db).start(user, mode, "safety", course_id=w.courses["a"], **kw)
        return user, attempt.id


def test_answers_are_named_by_their_stem_and_carry_the_time_taken(world, ralph):  # noqa: F811
    world.add_lrs("a", ralph)
    user, attempt_id = _start(world, "drill")
    _drill_answers(world, attempt_id, user, 3, seconds=20, reading=90)
    with transaction(world.sessions) as db:
        _svc(world, db).submit(attempt_id, user)
        stems = {i: s for i, s in db.execute(select(CurriculumItem.id, CurriculumItem.stem))}
    world.drain(world.delivery())
    answered = _by_verb(ralph.statements(registration=attempt_id), v.ANSWERED)
    assert len(answered) == 3
    for statement in answered:
        item_id = statement["object"]["id"].rsplit("/", 1)[-1]
        name = statement["object"]["definition"]["name"]["en-US"]
        stem = " ".join(stems[item_id].split())
        assert name != f"Item {item_id}"
        assert len(name) <= 80 and stem.startswith(name.rstrip("\u2026"))
        assert statement["object"]["definition"]["description"]["en-US"] == stems[item_id]
        # The page measured nothing: the time since the item was put on screen (not
        # since the previous answer, whose feedback the student read for 90 s).
        assert statement["result"]["duration"] == "PT20S"


def test_a_lessons_session_names_the_lesson_throughout_and_completed_has_its_score(
        world, ralph):  # noqa: F811
    world.add_lrs("a", ralph)
    with transaction(world.sessions) as db:
        lesson = db.scalars(select(CurriculumLesson).where(
            CurriculumLesson.module_id == "safety", CurriculumLesson.retired.is_(False))
            .order_by(CurriculumLesson.id)).first()
        checks = list(lesson.checks)
        keys = {i.id: next(n for n, o in enumerate(i.options) if o.get("correct"))
                for i in db.scalars(select(CurriculumItem).where(
                    CurriculumItem.id.in_(checks)))}
        lesson_id = lesson.id
    user, attempt_id = _start(world, "lesson", lesson_id=lesson_id)
    for n, item_id in enumerate(checks):  # all right but the first
        world.clock.advance(seconds=30)
        with transaction(world.sessions) as db:
            choice = (keys[item_id] + 1) % 4 if n == 0 else keys[item_id]
            _svc(world, db).answer(attempt_id, user, item_id, choice, secrets.token_hex(8))
    world.drain(world.delivery())
    stored = ralph.statements(registration=attempt_id)
    lesson_iri = v.lesson_activity_id(lesson_id)
    for verb in (v.INITIALIZED, v.EXPERIENCED, v.COMPLETED, v.TERMINATED):
        [statement] = _by_verb(stored, verb)
        assert statement["object"]["id"] == lesson_iri, verb.label
        assert statement["object"]["definition"]["type"] == v.LESSON.iri
    [completed] = _by_verb(stored, v.COMPLETED)
    right = len(checks) - 1
    assert completed["result"]["score"] == {
        "raw": right, "min": 0, "max": len(checks),
        "scaled": round(right / len(checks), 4)}


def test_every_statement_of_a_failed_mock_has_a_parent(world, ralph):  # noqa: F811
    world.add_lrs("a", ralph)
    registration = world.session("a", "mock", answers=2)
    world.drain(world.delivery())
    stored = ralph.statements(registration=registration)
    assert _by_verb(stored, v.FAILED)
    for statement in stored:
        parents = statement["context"]["contextActivities"].get("parent")
        assert parents, statement["verb"]["id"]
        if statement["verb"]["id"] != v.ANSWERED.iri:
            assert [p["id"] for p in parents] == [v.module_activity_id("safety")]
            assert parents[0]["definition"]["type"] == v.MODULE.iri


def test_an_abandoned_drill_is_terminated_once_with_the_time_spent(world, ralph):  # noqa: F811
    world.add_lrs("a", ralph)
    user, attempt_id = _start(world, "drill")
    _drill_answers(world, attempt_id, user, 2, seconds=25)  # 50 s of work
    worker = OutboxWorker(world.sessions, world.clock, 5.0, settings=world.settings)
    world.clock.advance(minutes=world.settings.drill_idle_minutes - 1)
    worker.run_once()
    with transaction(world.sessions) as db:
        assert db.get(Attempt, attempt_id).status == AttemptStatus.OPEN  # not idle yet
    world.clock.advance(minutes=2)
    worker.run_once()
    world.clock.advance(minutes=5)
    worker.run_once()  # a second pass (or worker) closes nothing twice
    with transaction(world.sessions) as db:
        attempt = db.get(Attempt, attempt_id)
        assert attempt.status == AttemptStatus.SUBMITTED and attempt.open_key is None
        assert attempt.score_max == 2
        _svc(world, db).finish(attempt_id, user)  # "End drill" after it: a no-op
    world.drain(world.delivery())
    stored = ralph.statements(registration=attempt_id)
    [terminated] = _by_verb(stored, v.TERMINATED)
    assert terminated["result"]["duration"] == "PT50S"  # start to last answer, not idle
    assert not _by_verb(stored, v.COMPLETED)  # abandoned: no finish (the profile's pattern)
    # The student starts again: a new drill, not the closed one.
    _, again = _start(world, "drill")
    assert again != attempt_id


def test_an_active_drill_is_left_open(world):  # noqa: F811
    user, attempt_id = _start(world, "drill")
    worker = OutboxWorker(world.sessions, world.clock, 5.0, settings=world.settings)
    for _ in range(4):  # an answer every 20 minutes: never idle for 30
        world.clock.advance(minutes=20)
        worker.run_once()
        _drill_answers(world, attempt_id, user, 1, seconds=0)
    with transaction(world.sessions) as db:
        assert db.get(Attempt, attempt_id).status == AttemptStatus.OPEN
