"""A student takes three mock exams of a module in a row: each is a parallel form of the
one before (at most 10 of 80 items shared) drawn by the blueprint's weights. Run through
the real PracticeService on the shipped bank loaded into a real (SQLite) database."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from random import Random

import pytest
from sqlalchemy import select

from lti_tool.curriculum.checks import load_bank
from lti_tool.curriculum.weights import activity_weights
from lti_tool.db import transaction
from lti_tool.models import CurriculumItem
from lti_tool.practice.selection import allocate
from lti_tool.practice.service import PracticeService
from lti_tool.sandbox.learners import learner_world

MAX_SHARED = 10


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    bank = load_bank()
    assert bank.problems == []
    url = f"sqlite:///{tmp_path_factory.mktemp('forms') / 'forms.db'}"
    clock = Clock()
    engine, sessions, ids = learner_world(url, bank, clock, [f"student-{n}" for n in range(6)])
    yield bank, sessions, clock, ids
    engine.dispose()


def _take_mock(sessions, clock, user_id: int, module_id: str, seed: int) -> list[str]:
    """Start a mock exam, answer every other question, submit it; its items in order."""
    with transaction(sessions) as db:
        svc = PracticeService(db, clock, Random(seed))
        attempt = svc.start(user_id, "mock", module_id)
        planned = list(attempt.item_ids)
        for position, item_id in enumerate(planned[::2]):
            svc.answer(attempt.id, user_id, item_id, position % 4, f"{seed}-{position}")
        svc.submit(attempt.id, user_id)
    clock.now += timedelta(days=1)
    return planned


@pytest.mark.parametrize("module_index", range(5))
def test_three_mocks_in_a_row_are_parallel_forms(shipped, module_index):
    bank, sessions, clock, users = shipped
    assert bank.blueprint is not None
    module = bank.blueprint.modules[module_index]
    user = users[module_index]
    forms = [_take_mock(sessions, clock, user, module.id, seed) for seed in (11, 12, 13)]
    for earlier, later in zip(forms, forms[1:], strict=False):
        assert len(later) == module.exam.items
        assert len(set(earlier) & set(later)) <= MAX_SHARED
    # Each form takes each key activity's weighted share of the exam.
    order = [ka.id for ka in module.key_activities]
    available = Counter(item.key_activity for _, item in bank.items.values()
                        if item.module == module.id)
    expected = allocate(module.exam.items, order, dict(available), activity_weights(module))
    with transaction(sessions) as db:
        activity = dict(db.execute(select(CurriculumItem.id, CurriculumItem.key_activity_id)
                                   .where(CurriculumItem.module_id == module.id)).all())
    for form in forms:
        assert Counter(activity[item_id] for item_id in form) == {
            ka: n for ka, n in expected.items() if n}


def test_a_practice_test_after_a_mock_prefers_unseen_items(shipped):
    bank, sessions, clock, users = shipped
    user = users[5]
    mock = set(_take_mock(sessions, clock, user, "safety", 21))
    with transaction(sessions) as db:
        practice = PracticeService(db, clock, Random(22)).start(user, "practice", "safety",
                                                                size=20)
        assert not mock & set(practice.item_ids)
