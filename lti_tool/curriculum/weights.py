"""How much of a module's exam each key activity takes: the share a practice test or mock
exam draws from it, and so how many items it needs for parallel mock forms.

MSSC publishes key-activity weights only in part (see the blueprint's sources). The rule
for the rest, written down so a program chair can check it:

1. A published weight is used as published (percent of the module's exam).
2. What the published weights leave of 100% is shared equally among MSSC's key
   activities without a published weight. An "area" is one MSSC key activity: either one
   of ours, or several of ours that carry the same ``area`` because we split one of
   MSSC's to teach it system by system (Maintenance's production-system problems).
3. The key activities of one area share its weight equally, so a split never makes an
   area weigh more than MSSC's one key activity would.
4. With no published weight at all, every area weighs the same.
"""

from __future__ import annotations

import math

from lti_tool.curriculum.schema import BankTargets, Module


def activity_weights(module: Module) -> dict[str, float]:
    """Each key activity's share of the module's exam, as fractions that sum to 1."""
    areas: dict[str, list[str]] = {}
    for ka in module.key_activities:
        areas.setdefault(ka.area or ka.id, []).append(ka.id)
    published = {ka.id: ka.weight for ka in module.key_activities if ka.weight is not None}
    open_areas = [area for area, members in areas.items()
                  if not any(m in published for m in members)]
    rest = max(0.0, 100.0 - sum(published.values()))
    weights: dict[str, float] = dict(published)
    for area in open_areas:
        for ka_id in areas[area]:
            weights[ka_id] = rest / len(open_areas) / len(areas[area])
    total = sum(weights.values()) or 1.0
    return {ka.id: weights.get(ka.id, 0.0) / total for ka in module.key_activities}


def items_needed(module: Module, weight: float, targets: BankTargets) -> int:
    """Items a key activity of this weight needs: its share of ``parallel_forms`` mock
    exams (two forms suffice for successive mocks never to repeat an item: a new form
    draws the least recently seen items first), and never fewer than the floor."""
    share = math.ceil(round(targets.parallel_forms * module.exam.items * weight, 6))
    return max(targets.items_per_key_activity, share)
