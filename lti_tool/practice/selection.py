"""Which items a person sees: pure functions of the bank, their history and a seeded RNG."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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


@dataclass(frozen=True)
class Exposure:
    """How a person has already met an item, for drawing a new test: ``tier`` 0 is never
    seen, higher tiers are drawn later (a mock exam puts items of earlier mock exams
    last); ``at`` is when they last met it (older is drawn first within a tier)."""

    tier: int
    at: float


UNSEEN = Exposure(0, 0.0)


def allocate(total: int, activities: Sequence[str], available: dict[str, int],
             weights: dict[str, float] | None = None) -> dict[str, int]:
    """Split ``total`` across key activities by their exam weights (largest remainder,
    ties in blueprint order; equal shares where no weights are known), never asking one
    for more items than it has: what a short key activity cannot give goes to the others,
    again by weight."""
    counts = {a: 0 for a in activities}
    remaining = min(total, sum(available.get(a, 0) for a in activities))
    while remaining > 0:
        open_ = [a for a in activities if counts[a] < available.get(a, 0)]
        raw_weights = {a: (weights or {}).get(a) or 0.0 for a in open_}
        share = sum(raw_weights.values())
        raw = {a: remaining * (raw_weights[a] / share if share else 1 / len(open_))
               for a in open_}
        want = {a: math.floor(raw[a]) for a in open_}
        left = remaining - sum(want.values())
        by_remainder = sorted(open_, key=lambda a: (-(raw[a] - want[a]), open_.index(a)))
        for a in by_remainder[:left]:
            want[a] += 1
        for a in open_:
            take = min(want[a], available[a] - counts[a])
            counts[a] += take
            remaining -= take
    return counts


def _by_difficulty(pool: list[ItemRef], count: int) -> list[ItemRef]:
    """``count`` items of ``pool`` (already shuffled), round-robin over difficulty levels
    so a short draw is not all easy items."""
    levels = {d: [i for i in pool if i.difficulty == d] for d in (1, 2, 3)}
    picked: list[ItemRef] = []
    while len(picked) < count:
        for level in (2, 1, 3):
            if levels[level] and len(picked) < count:
                picked.append(levels[level].pop())
    return picked


def _draw(pool: list[ItemRef], count: int, exposure: Mapping[str, Exposure],
          rng: Random) -> list[ItemRef]:
    """The ``count`` least exposed items of one key activity: whole groups of equally
    exposed items (never seen; seen at the same time, e.g. one earlier test) in order,
    and the group that does not fit whole sampled across difficulties."""
    groups: dict[Exposure, list[ItemRef]] = {}
    for item in sorted(pool, key=lambda i: i.id):
        groups.setdefault(exposure.get(item.id, UNSEEN), []).append(item)
    picked: list[ItemRef] = []
    for key in sorted(groups, key=lambda e: (e.tier, e.at)):
        group = groups[key]
        rng.shuffle(group)
        need = count - len(picked)
        if need <= 0:
            break
        picked += group if len(group) <= need else _by_difficulty(group, need)
    return picked


def plan_test(items: Sequence[ItemRef], activities: Sequence[str], size: int,
              rng: Random, weights: dict[str, float] | None = None,
              exposure: Mapping[str, Exposure] | None = None) -> list[str]:
    """A practice test or mock exam: ``size`` items across the module's key activities in
    proportion to their exam weights, the person's least exposed items first (so their
    next mock exam is a parallel form, not a repeat), a spread of difficulties, in random
    order."""
    by_activity: dict[str, list[ItemRef]] = {a: [] for a in activities}
    for item in items:
        if item.key_activity_id in by_activity:
            by_activity[item.key_activity_id].append(item)
    counts = allocate(size, activities, {a: len(v) for a, v in by_activity.items()}, weights)
    chosen: list[str] = []
    for activity in activities:
        chosen += [i.id for i in _draw(by_activity[activity], counts[activity],
                                       exposure or {}, rng)]
    rng.shuffle(chosen)
    return chosen


def next_drill_item(items: Sequence[ItemRef], history: dict[str, Seen],
                    this_attempt: Sequence[str], rng: Random) -> str | None:
    """The next drill item. Missed items come back for review, but at most every other
    question, and never within REVIEW_GAP items of their last showing; the other questions
    are unseen items while there are any, then the items answered right longest ago.

    Why the interleaving: putting every missed item first made a student who kept missing
    loop over the first few items for ever and never meet the rest of the topic. Now, while
    the topic has unseen items, a missed item is reviewed once (the least shown, longest
    ago first) and then waits until every item has been shown, so a student who misses
    everything meets the whole topic within about twice its size of questions.

    ``this_attempt``: the drill's last items, oldest first (at least REVIEW_GAP of them
    when there are that many). ``history``: the person's last answer to each item, the
    drill's answers included, so the last item was a review when it had been seen before
    (``times`` >= 2).
    """
    if not items:
        return None
    recent = set(this_attempt[-REVIEW_GAP:])
    last = this_attempt[-1] if this_attempt else None
    candidates = ([i for i in items if i.id not in recent]
                  or [i for i in items if i.id != last] or list(items))
    last_seen = history.get(last) if last is not None else None
    last_was_review = last_seen is not None and last_seen.times >= 2
    unseen = [i for i in candidates if i.id not in history]
    missed = [i for i in candidates if i.id in history and not history[i.id].last_correct
              and not (unseen and history[i.id].times >= 2)]
    known = [i for i in candidates if i.id in history and history[i.id].last_correct]
    if missed and (not last_was_review or not unseen):
        pool = missed
    elif unseen:
        pool = unseen
    else:
        pool = missed or known

    def priority(item: ItemRef) -> tuple[int, float, float]:
        seen = history.get(item.id)
        if seen is None:
            return (0, 0.0, rng.random())
        return (seen.times, seen.last_at.timestamp(), rng.random())

    return min(sorted(pool, key=lambda i: i.id), key=priority).id
