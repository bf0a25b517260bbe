"""The practice engine on a real (SQLite) DB with a small loaded bank; clock and RNG are
injected so every run is exact."""

from __future__ import annotations

import copy
import threading
from datetime import UTC, datetime, timedelta
from random import Random

import pytest
from sqlalchemy import func, select
from test_curriculum_checks import WORDS, _dataset, _item, _write

from lti_tool.curriculum.checks import load_bank
from lti_tool.curriculum.loader import sync_curriculum
from lti_tool.db import transaction
from lti_tool.models import Attempt, Mastery, Outbox, OutboxKind, Response
from lti_tool.practice.errors import (
    AttemptClosedError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
)
from lti_tool.practice.service import PracticeService
from lti_tool.sandbox.learners import learner_world


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


def _two_activity_dataset() -> dict:
    data = _dataset()
    module = data["blueprint"]["modules"][0]
    module["exam"] = {"items": 10, "minutes": 20, "source": "test", "pass_percent": 70}
    module["key_activities"].append({"id": "mod.other", "title": "Other", "knowledge": ["x"]})
    data["items"]["items"] += [_item(n, ka="mod.other") for n in range(11, 19)]
    for item in data["items"]["items"]:
        item["difficulty"] = 1 + int(item["id"][-3:]) % 3
    second = copy.deepcopy(data["lessons"]["lessons"][0])
    second.update(id="LES-mod-other", key_activity="mod.other",
                  checks=["TST-011", "TST-012", "TST-013"], body=WORDS)
    data["lessons"]["lessons"].append(second)
    return data


@pytest.fixture
def world(tmp_path):
    root = _write(tmp_path / "data", _two_activity_dataset())
    bank = load_bank(root)
    assert bank.problems == [], bank.problems
    clock = Clock()
    engine, sessions, ids = learner_world(f"sqlite:///{tmp_path / 'p.db'}", bank, clock,
                                          ["ana", "ben"])
    yield sessions, clock, ids
    engine.dispose()


def _svc(db, clock, seed=7):
    return PracticeService(db, clock, Random(seed))


def _correct_choice(db, item_id):
    from lti_tool.models import CurriculumItem

    item = db.get(CurriculumItem, item_id)
    return next(i for i, o in enumerate(item.options) if o["correct"])


def test_practice_test_spreads_items_over_key_activities(world):
    sessions, clock, (ana, _) = world
    with transaction(sessions) as db:
        attempt = _svc(db, clock).start(ana, "practice", "mod", size=10)
        prefixes = sorted(i for i in attempt.item_ids)
        assert len(prefixes) == 10 and len(set(prefixes)) == 10
        from lti_tool.models import CurriculumItem

        kas = [db.get(CurriculumItem, i).key_activity_id for i in attempt.item_ids]
        assert kas.count("mod.work") == 5 and kas.count("mod.other") == 5


def test_same_seed_same_plan(world):
    sessions, clock, (ana, ben) = world
    with transaction(sessions) as db:
        a = _svc(db, clock, seed=3).start(ana, "practice", "mod", size=6).item_ids
        b = _svc(db, clock, seed=3).start(ben, "practice", "mod", size=6).item_ids
        assert a == b


def test_relaunch_resumes_the_open_attempt(world):
    sessions, clock, (ana, _) = world
    with transaction(sessions) as db:
        first = _svc(db, clock).start(ana, "mock", "mod").id
    with transaction(sessions) as db:
        again = _svc(db, clock, seed=99).start(ana, "mock", "mod").id
    assert first == again


def test_double_submitted_answer_is_recorded_once(world):
    sessions, clock, (ana, _) = world
    with transaction(sessions) as db:
        svc = _svc(db, clock)
        attempt = svc.start(ana, "practice", "mod", size=4)
        item = svc.item(attempt.id, ana)
        first = svc.answer(attempt.id, ana, item.id, 1, "key-1")
        second = svc.answer(attempt.id, ana, item.id, 1, "key-1")
        assert first.recorded and not second.recorded
        assert db.scalar(select(func.count()).select_from(Response)) == 1
        answered = db.scalar(select(func.count()).select_from(Outbox).where(
            Outbox.kind == OutboxKind.XAPI))
        assert answered == 2  # initialized + one answered


def test_someone_elses_attempt_is_not_found(world):
    sessions, clock, (ana, ben) = world
    with transaction(sessions) as db:
        svc = _svc(db, clock)
        attempt = svc.start(ana, "practice", "mod", size=4)
        item_id = attempt.item_ids[0]
        with pytest.raises(NotFoundError):
            svc.answer(attempt.id, ben, item_id, 0, "k")
        with pytest.raises(NotFoundError):
            svc.results(attempt.id, ben)


def test_practice_gives_feedback_only_at_the_end(world):
    sessions, clock, (ana, _) = world
    with transaction(sessions) as db:
        svc = _svc(db, clock)
        attempt = svc.start(ana, "practice", "mod", size=4)
        results = []
        for n, item_id in enumerate(attempt.item_ids):
            right = _correct_choice(db, item_id)
            r = svc.answer(attempt.id, ana, item_id, right if n < 3 else (right + 1) % 4,
                           f"k{n}")
            assert r.feedback is None
            results.append(r)
        assert svc.results(attempt.id, ana).review == []
        done = svc.submit(attempt.id, ana)
        assert (done.score_raw, done.score_max, done.percent) == (3, 4, 75.0)
        assert len(done.review) == 4 and all(len(r.options) == 4 for r in done.review)
        assert sum(s.total for s in done.by_activity) == 4
        with pytest.raises(AttemptClosedError):
            svc.answer(attempt.id, ana, attempt.item_ids[0], 0, "late")


def test_changed_answer_counts_once_in_the_score(world):
    sessions, clock, (ana, _) = world
    with transaction(sessions) as db:
        svc = _svc(db, clock)
        attempt = svc.start(ana, "practice", "mod", size=2)
        item_id = attempt.item_ids[0]
        right = _correct_choice(db, item_id)
        svc.answer(attempt.id, ana, item_id, (right + 1) % 4, "a")
        svc.answer(attempt.id, ana, item_id, right, "b")
        assert svc.item(attempt.id, ana, 1).chosen == right
        assert svc.submit(attempt.id, ana).score_raw == 1


def test_mock_exam_times_out_on_the_server_clock(world):
    sessions, clock, (ana, _) = world
    with transaction(sessions) as db:
        svc = _svc(db, clock)
        attempt = svc.start(ana, "mock", "mod", time_multiplier=1.5)
        assert len(attempt.item_ids) == 10
        assert attempt.deadline_at == clock.now + timedelta(minutes=30)  # 20 min x 1.5
        svc.answer(attempt.id, ana, attempt.item_ids[0], 0, "a")
        deadline = attempt.deadline_at
    clock.advance(minutes=31)
    with transaction(sessions) as db:
        svc = _svc(db, clock)
        with pytest.raises(AttemptClosedError):
            svc.answer(attempt.id, ana, attempt.item_ids[1], 0, "b")
    with transaction(sessions) as db:
        result = _svc(db, clock).results(attempt.id, ana)
        assert result.status == "submitted" and result.auto_submitted
        assert result.submitted_at == deadline
        assert result.score_max == 10 and result.passed is False
        kinds = [o.payload.get("verb") for o in db.scalars(select(Outbox).where(
            Outbox.kind == OutboxKind.XAPI).order_by(Outbox.id))]
        tail = [k for k in kinds if k != "progressed"]
        assert tail[-3:] == ["completed", "failed", "terminated"]
        # Mastery progress sits between the verdict and the end of the session.
        assert kinds[-2] == "progressed" and kinds[-1] == "terminated"


def test_drill_feedback_and_missed_items_come_back(world):
    sessions, clock, (ana, _) = world
    with transaction(sessions) as db:
        svc = _svc(db, clock)
        attempt = svc.start(ana, "drill", "mod", key_activity_id="mod.work")
        first = svc.item(attempt.id, ana)
        right = _correct_choice(db, first.id)
        result = svc.answer(attempt.id, ana, first.id, (right + 1) % 4, "d0")
        assert result.feedback and not result.feedback.correct
        assert result.feedback.answer == right and len(result.feedback.rationales) == 4
        seen = [first.id]
        for n in range(1, 5):
            clock.advance(seconds=30)
            item = svc.item(attempt.id, ana)
            seen.append(item.id)
            if item.id == first.id:
                break
            svc.answer(attempt.id, ana, item.id, _correct_choice(db, item.id), f"d{n}")
        # The missed item returns right after the review gap, before the unseen ones.
        assert seen.index(first.id, 1) == 4
        assert db.scalars(select(Mastery)).one().evidence == 4


def test_next_item_given_with_an_answer_is_the_one_item_would_show(world):
    """The answer call works the next item out before writing (one round trip, short
    write lock); it must agree with asking afterwards, in drills and in planned tests."""
    sessions, clock, (ana, ben) = world
    for user, mode in ((ana, "drill"), (ben, "practice")):
        with transaction(sessions) as db:
            attempt_id = _svc(db, clock).start(user, mode, "mod", size=6).id
        shown = None
        for n in range(6):
            clock.advance(seconds=20)
            with transaction(sessions) as db:
                item = _svc(db, clock).item(attempt_id, user)
                if shown is not None:  # same seed: the same tie-breaks as the answer call
                    assert (item.id, item.position) == (shown.id, shown.position)
            with transaction(sessions) as db:
                result = _svc(db, clock).answer(attempt_id, user, item.id, n % 4, f"k-{n}",
                                                with_next=True)
                shown = result.next_item
            if mode == "practice" and n == 5:
                assert shown is None  # every planned item answered
            else:
                assert shown is not None and shown.position == n + 2
                assert shown.id != item.id


def test_lesson_completes_when_its_checks_are_answered(world):
    sessions, clock, (ana, _) = world
    with transaction(sessions) as db:
        svc = _svc(db, clock)
        attempt = svc.start(ana, "lesson", "mod", lesson_id="LES-mod-work")
        assert attempt.item_ids == ["TST-001", "TST-002", "TST-003"]
        for n, item_id in enumerate(attempt.item_ids):
            result = svc.answer(attempt.id, ana, item_id, 0, f"l{n}")
            assert result.feedback is not None
        assert result.attempt_closed
        assert db.get(Attempt, attempt.id).status == "submitted"


def test_answer_validation(world):
    sessions, clock, (ana, _) = world
    with transaction(sessions) as db:
        svc = _svc(db, clock)
        attempt = svc.start(ana, "practice", "mod", size=2)
        outside = next(i for i in ("TST-001", "TST-002", "TST-011", "TST-012")
                       if i not in attempt.item_ids)
        with pytest.raises(InvalidRequestError):
            svc.answer(attempt.id, ana, outside, 0, "x")
        with pytest.raises(InvalidRequestError):
            svc.answer(attempt.id, ana, attempt.item_ids[0], 7, "y")


def test_mastery_rises_with_right_answers_and_readiness_waits_for_evidence(world):
    sessions, clock, (ana, _) = world
    with transaction(sessions) as db:
        svc = _svc(db, clock)
        attempt = svc.start(ana, "drill", "mod")
        for n in range(12):
            item = svc.item(attempt.id, ana)
            svc.answer(attempt.id, ana, item.id, _correct_choice(db, item.id), f"m{n}")
        mastery = svc.mastery(ana)
        thetas = {a.key_activity_id: a for a in mastery.activities}
        assert sum(a.evidence for a in thetas.values()) == 12
        assert all(a.theta > 0.5 for a in thetas.values() if a.evidence)
        ready = mastery.readiness[0]
        assert not ready.ready and ready.probability is None  # 12 < 20 answers
        for n in range(12, 24):
            item = svc.item(attempt.id, ana)
            svc.answer(attempt.id, ana, item.id, _correct_choice(db, item.id), f"m{n}")
        ready = svc.mastery(ana).readiness[0]
        assert ready.ready and ready.low <= ready.probability <= ready.high
        assert ready.probability > 0.8 and "pass mark" in ready.explanation


def test_two_tabs_answering_at_once_cannot_both_win(world):
    """Two transactions add the same position to one attempt: one commits, one conflicts."""
    sessions, clock, (ana, _) = world
    with transaction(sessions) as db:
        svc = _svc(db, clock)
        attempt_id = svc.start(ana, "drill", "mod").id
        svc.item(attempt_id, ana)  # the question on screen in both tabs
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def tab(key: str) -> None:
        try:
            with transaction(sessions) as db:
                svc = _svc(db, clock)
                item = svc.item(attempt_id, ana)
                barrier.wait(timeout=5)
                svc.answer(attempt_id, ana, item.id, 0, key)
            outcomes.append("ok")
        except ConflictError:
            outcomes.append("conflict")
        except Exception as exc:  # noqa: BLE001 - a SQLite lock error is a conflict too
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=tab, args=(k,)) for k in ("t1", "t2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1, outcomes
    with transaction(sessions) as db:
        assert db.scalar(select(func.count()).select_from(Response)) == 1


def test_item_cache_follows_a_new_content_release(world, tmp_path, monkeypatch):
    """The in-process curriculum cache notices a new release (here at once,
    REFRESH_SECONDS=0): items, and the module, key activity and lesson rows pages show."""
    from lti_tool.practice import catalog

    monkeypatch.setattr(catalog, "REFRESH_SECONDS", 0.0)
    sessions, clock, (ana, _) = world
    with transaction(sessions) as db:
        assert "TST-001" in catalog.items(db)
        module_id = catalog.outline(db).modules[0][0]
        old_title = catalog.module(db, module_id).title
        assert catalog.key_activity(db, "mod.other").title == "Other"
        assert catalog.lesson(db, "LES-mod-other").checks == ["TST-011", "TST-012", "TST-013"]
        data = _two_activity_dataset()
        data["items"]["items"][0]["stem"] = "A brand new wording of the first question?"
        data["blueprint"]["modules"][0]["title"] = old_title + " (revised)"
        data["blueprint"]["modules"][0]["key_activities"][-1]["title"] = "Other, renamed"
        data["lessons"]["lessons"][-1]["checks"] = ["TST-014", "TST-012", "TST-013"]
        bank = load_bank(_write(tmp_path / "v2", data))
        clock.advance(minutes=1)
        sync_curriculum(db, bank, clock)
    with transaction(sessions) as db:
        assert catalog.items(db)["TST-001"].stem.startswith("A brand new wording")
        assert catalog.items(db)["TST-001"].revision == 2
        assert catalog.module(db, module_id).title == old_title + " (revised)"
        assert catalog.key_activity(db, "mod.other").title == "Other, renamed"
        assert catalog.lesson(db, "LES-mod-other").checks == ["TST-014", "TST-012", "TST-013"]
        assert catalog.module(db, "no-such-module") is None


def test_grading_policies():
    from lti_tool.models import GradingPolicy
    from lti_tool.practice.grading import policy_score

    attempts = [Attempt(score_raw=20, score_max=25), Attempt(score_raw=10, score_max=25),
                Attempt(score_raw=15, score_max=25)]
    assert policy_score(attempts, GradingPolicy.BEST) == (20.0, 25.0)
    assert policy_score(attempts, GradingPolicy.LATEST) == (15.0, 25.0)
    assert policy_score(attempts, GradingPolicy.AVERAGE) == (15.0, 25.0)
    assert policy_score([], GradingPolicy.BEST) == (0.0, 0.0)


def _wrong_choice(db, item_id):
    return (_correct_choice(db, item_id) + 1) % 4


def test_drill_answered_all_wrong_shows_every_item_of_the_topic(world):
    """Issue 17: missing every question cycled a few items for ever. Over 2N questions on
    a topic of N items, every item is shown, and none a third time before the last one."""
    sessions, clock, (ana, _) = world
    topic = [f"TST-{n:03d}" for n in range(1, 9)]  # mod.work's 8 items
    with transaction(sessions) as db:
        attempt_id = _svc(db, clock).start(ana, "drill", "mod", key_activity_id="mod.work").id
    shown: list[str] = []
    for n in range(2 * len(topic)):
        clock.advance(seconds=25)
        with transaction(sessions) as db:
            svc = _svc(db, clock, seed=n)
            item = svc.item(attempt_id, ana)
            shown.append(item.id)
            result = svc.answer(attempt_id, ana, item.id, _wrong_choice(db, item.id),
                                f"w{n}")
            assert result.feedback is not None and not result.feedback.correct
    assert sorted(set(shown)) == topic
    last_new = max(shown.index(i) for i in topic)
    assert max(shown[:last_new + 1].count(i) for i in topic) <= 2


def test_drill_results_count_every_answer_by_topic_as_in_the_total(world):
    """A drill scores every answer (an item missed twice counts twice): the topic rows add
    up to the total ("0 of 8" overall was "0 of 4" by topic)."""
    sessions, clock, (ana, _) = world
    with transaction(sessions) as db:
        svc = _svc(db, clock)
        attempt = svc.start(ana, "drill", "mod", key_activity_id="mod.work")
        for n in range(12):  # more answers than the gap lets distinct items go round
            clock.advance(seconds=10)
            item = svc.item(attempt.id, ana)
            choice = _correct_choice(db, item.id) if n % 3 == 0 else _wrong_choice(db,
                                                                                   item.id)
            svc.answer(attempt.id, ana, item.id, choice, f"r{n}")
        result = svc.submit(attempt.id, ana)
        assert result.score_max == 12 and result.score_raw == 4
        assert sum(s.total for s in result.by_activity) == result.score_max
        assert sum(s.correct for s in result.by_activity) == result.score_raw
