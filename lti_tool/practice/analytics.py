"""Class analytics for instructors: mastery grid and item analysis, as plain functions.

Item analysis uses each finished practice test or mock exam in the course: an item's
facility is the share who got it right; its discrimination is the point-biserial
correlation between getting it right and the score on the rest of the attempt (a good
item is answered right more often by stronger students); distractor rates show which
wrong options draw people - an option nobody picks, or a "wrong" one the strong students
pick, marks an item to review.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models import Attempt, AttemptStatus, Response
from lti_tool.practice.modes import GRADED_MODES

MIN_RESPONSES = 5
# "Most students miss this": under this share right, once MIN_RESPONSES answers are in.
MOST_MISS_FACILITY = 0.4


@dataclass(frozen=True)
class ItemStats:
    item_id: str
    responses: int
    facility: float
    discrimination: float | None
    choice_rates: list[float]
    flag: str | None

    @property
    def most_miss(self) -> bool:
        """Most students answer it wrong, on enough answers to say so: what an instructor
        reteaches first."""
        return self.responses >= MIN_RESPONSES and self.facility < MOST_MISS_FACILITY


def point_biserial(correct: list[int], rest: list[float]) -> float | None:
    n = len(correct)
    if n < 2:
        return None
    p = sum(correct) / n
    if p in (0.0, 1.0):
        return None
    mean = sum(rest) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in rest) / n)
    if sd == 0:
        return None
    mean_right = sum(x for x, c in zip(rest, correct, strict=True) if c) / sum(correct)
    mean_wrong = sum(x for x, c in zip(rest, correct, strict=True) if not c) / (n - sum(correct))
    return (mean_right - mean_wrong) / sd * math.sqrt(p * (1 - p))


def item_analysis(session: Session, course_id: int) -> list[ItemStats]:
    attempts = list(session.scalars(select(Attempt).where(
        Attempt.course_id == course_id, Attempt.status == AttemptStatus.SUBMITTED,
        Attempt.mode.in_(GRADED_MODES))))
    if not attempts:
        return []
    finals: dict[str, dict[str, Response]] = defaultdict(dict)
    for response in session.scalars(select(Response).where(
            Response.attempt_id.in_([a.id for a in attempts])).order_by(Response.position)):
        finals[response.attempt_id][response.item_id] = response
    per_item: dict[str, list[tuple[int, float, int]]] = defaultdict(list)
    for attempt in attempts:
        answers = finals.get(attempt.id, {})
        total = sum(r.correct for r in answers.values())
        planned = max(1, len(attempt.item_ids) - 1)
        for item_id, response in answers.items():
            rest = (total - int(response.correct)) / planned
            per_item[item_id].append((int(response.correct), rest, response.choice))
    stats = []
    for item_id, rows in sorted(per_item.items()):
        correct = [c for c, _, _ in rows]
        facility = sum(correct) / len(rows)
        disc = point_biserial(correct, [r for _, r, _ in rows])
        choices = [sum(1 for _, _, ch in rows if ch == k) / len(rows) for k in range(4)]
        flag = None
        if len(rows) >= MIN_RESPONSES:
            if disc is not None and disc < 0.1:
                flag = "low discrimination"
            elif facility < 0.2:
                flag = "very hard"
            elif facility > 0.95:
                flag = "very easy"
        stats.append(ItemStats(item_id, len(rows), facility, disc, choices, flag))
    return stats
