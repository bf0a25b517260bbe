"""The drill's choice of the next item (a pure function), driven the way the engine drives
it: each answer goes into the history, and the drill's last few items are passed back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from random import Random

import pytest

from lti_tool.practice.selection import REVIEW_GAP, ItemRef, Seen, next_drill_item

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _bank(n: int) -> list[ItemRef]:
    return [ItemRef(f"I-{k:02d}", "ka", 1 + k % 3) for k in range(n)]


def _drill(items: list[ItemRef], questions: int, right: set[str] | None = None,
           history: dict[str, Seen] | None = None, seed: int = 1) -> list[str]:
    """The items a drill shows over ``questions`` questions when the student answers right
    only the items in ``right``."""
    history = dict(history or {})
    shown: list[str] = []
    rng = Random(seed)
    for q in range(questions):
        item_id = next_drill_item(items, history, shown[-REVIEW_GAP:], rng)
        assert item_id is not None
        shown.append(item_id)
        before = history.get(item_id)
        history[item_id] = Seen(last_correct=item_id in (right or set()),
                                last_at=START + timedelta(seconds=30 * q),
                                times=(before.times if before else 0) + 1)
    return shown


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 9, 12, 20])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_all_wrong_drill_shows_every_item_before_any_comes_back_twice(n, seed):
    items = _bank(n)
    shown = _drill(items, 2 * n, seed=seed)
    assert set(shown) == {i.id for i in items}
    every_item_by = max(shown.index(i.id) for i in items)
    # No item is shown a third time before the last unseen item has been shown.
    assert all(shown[:every_item_by + 1].count(i.id) <= 2 for i in items)


def test_all_wrong_drill_on_nine_items_no_longer_loops_four():
    """The reported case: every answer wrong on a 9-item topic cycled 4 items for ever."""
    items = _bank(9)
    shown = _drill(items, 18)
    assert len(set(shown)) == 9
    assert len(set(shown[9:])) >= 5  # the second half is not a loop of a few items


def test_reviews_are_at_most_every_other_question_while_items_are_unseen():
    items = _bank(12)
    shown = _drill(items, 16)
    met: set[str] = set()
    reviews = []
    for item_id in shown:
        reviews.append(item_id in met)
        met.add(item_id)
    unseen_left = [len({i.id for i in items} - set(shown[:k])) for k in range(len(shown))]
    for k in range(1, len(shown)):
        if unseen_left[k]:
            assert not (reviews[k] and reviews[k - 1]), shown


def test_missed_item_comes_back_after_the_gap_and_not_sooner():
    items = _bank(9)
    first = _drill(items, 1)[0]  # the first pick does not depend on the answers
    shown = _drill(items, 12, right={i.id for i in items} - {first})
    assert shown[0] == first and shown.index(first, 1) == REVIEW_GAP + 1
    for k, item_id in enumerate(shown):
        assert item_id not in shown[max(0, k - REVIEW_GAP):k]


def test_a_missed_item_from_an_earlier_drill_is_reviewed_first():
    items = _bank(6)
    history = {"I-03": Seen(last_correct=False, last_at=START - timedelta(days=1), times=1),
               "I-04": Seen(last_correct=True, last_at=START - timedelta(days=2), times=1)}
    assert next_drill_item(items, history, [], Random(1)) == "I-03"


def test_right_answers_move_on_to_unseen_then_oldest_right():
    items = _bank(4)
    shown = _drill(items, 8, right={i.id for i in items})
    assert sorted(shown[:4]) == [i.id for i in items]
    assert shown[4:] == shown[:4]  # then the ones answered right longest ago, in order


def test_no_items_no_question():
    assert next_drill_item([], {}, [], Random(1)) is None
