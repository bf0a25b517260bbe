"""Successive mock exams of one student, simulated on a bank: how many items each form
shares with the one before it. `cpt-lti content stats` prints it so a program chair sees,
before students do, whether a bank is deep enough for honest repeat mocks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from random import Random

from lti_tool.practice.selection import Exposure, ItemRef, plan_test


@dataclass(frozen=True)
class FormsReport:
    forms: list[list[str]]
    overlaps: list[int]  # items form k+1 shares with form k
    fresh_forms: int  # forms drawn before the first repeated item


def simulate_forms(items: Sequence[ItemRef], activities: Sequence[str],
                   weights: dict[str, float], size: int, count: int = 3,
                   seed: int = 0) -> FormsReport:
    """``count`` mock exams in a row, each drawn the way PracticeService draws them: items
    of earlier mocks last, the least recently seen first."""
    rng = Random(seed)
    exposure: dict[str, Exposure] = {}
    forms: list[list[str]] = []
    seen: set[str] = set()
    fresh = 0
    for number in range(1, count + 1):
        form = plan_test(items, activities, size, rng, weights, exposure)
        if fresh == number - 1 and not seen.intersection(form):
            fresh = number
        seen.update(form)
        forms.append(form)
        for item_id in form:
            exposure[item_id] = Exposure(2, float(number))
    overlaps = [len(set(a) & set(b)) for a, b in zip(forms, forms[1:], strict=False)]
    return FormsReport(forms, overlaps, fresh)
