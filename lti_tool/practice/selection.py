"""Which items a person sees: pure functions of the bank, their history and a seeded RNG."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from random import Random

REVIEW_GAP = 3  # a missed item comes back after at least this many other items


@dataclass(frozen=True)
class ItemRef:
    id: str
    key_activity_id: str
    difficulty: int


@dataclass(frozen=True)
class Seen:
    """What a person did with an item before (any attempt)."""

    last_correct: bool
    last_at: datetime
    times: int


def allocate(total: int, activities: Sequence[str], available: dict[str, int]) -> dict[str, int]:
    """Split ``total`` across key activities equally (largest remainder), never asking an
    activity for more items than it has; the blueprint gives no finer weights yet."""
    counts = {a: 0 for a in activities}
    remaining = min(total, sum(available.get(a, 0) for a in activities))
    while remaining > 0:
        open_ = [a for a in activities if counts[a] < available.get(a, 0)]
        share, extra = divmod(remaining, len(open_))
        for index, activity in enumerate(open_):
            want = share + (1 if index < extra else 0)
            take = min(want, available[activity] - counts[activity])
            counts[activity] += take
            remaining -= take
    return counts


def plan_test(items: Sequence[ItemRef], activities: Sequence[str], size: int,
              rng: Random) -> list[str]:
    """A practice test or mock exam: ``size`` items across the module's key activities,
    a spread of difficulties within each, in random order."""
    by_activity: dict[str, list[ItemRef]] = {a: [] for a in activities}
    for item in items:
        if item.key_activity_id in by_activity:
            by_activity[item.key_activity_id].append(item)
    counts = allocate(size, activities, {a: len(v) for a, v in by_activity.items()})
    chosen: list[str] = []
    for activity in activities:
        pool = sorted(by_activity[activity], key=lambda i: i.id)
        rng.shuffle(pool)
        # Round-robin over difficulty levels so a short draw is not all easy items.
        levels = {d: [i for i in pool if i.difficulty == d] for d in (1, 2, 3)}
        picked: list[ItemRef] = []
        order = [2, 1, 3]
        while len(picked) < counts[activity]:
            for level in order:
                if levels[level] and len(picked) < counts[activity]:
                    picked.append(levels[level].pop())
        chosen += [i.id for i in picked]
    rng.shuffle(chosen)
    return chosen


def next_drill_item(items: Sequence[ItemRef], history: dict[str, Seen],
                    this_attempt: Sequence[str], rng: Random) -> str | None:
    """The next drill item: missed items due for review first, then unseen items, then
    the items answered right longest ago. Nothing is repeated within REVIEW_GAP items."""
    if not items:
        return None
    recent = set(this_attempt[-REVIEW_GAP:])
    candidates = [i for i in items if i.id not in recent] or list(items)

    def priority(item: ItemRef) -> tuple[int, float, float]:
        seen = history.get(item.id)
        if seen is None:
            return (1, 0.0, rng.random())
        if not seen.last_correct:
            return (0, seen.last_at.timestamp(), rng.random())
        return (2, seen.last_at.timestamp(), rng.random())

    return min(sorted(candidates, key=lambda i: i.id), key=priority).id
