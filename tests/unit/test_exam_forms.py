"""Blueprint weights and parallel mock forms: who gets how many items, and which ones."""

from __future__ import annotations

from collections import Counter
from random import Random

import pytest

from lti_tool.curriculum.modules import blueprint
from lti_tool.curriculum.schema import BankTargets, Module
from lti_tool.curriculum.weights import activity_weights, items_needed
from lti_tool.practice.forms import simulate_forms
from lti_tool.practice.mastery import ActivityMastery, readiness, standard_error
from lti_tool.practice.selection import Exposure, ItemRef, allocate, plan_test


def _module(module_id: str) -> Module:
    return next(m for m in blueprint().modules if m.id == module_id)


def test_published_weights_are_kept_and_the_rest_shared_equally():
    weights = activity_weights(_module("safety"))
    assert weights["safety.workplace"] == pytest.approx(0.05)
    assert weights["safety.inspections"] == pytest.approx(0.115)
    assert weights["safety.emergency"] == pytest.approx(0.06)
    rest = [w for ka, w in weights.items() if ka not in
            {"safety.workplace", "safety.inspections", "safety.emergency"}]
    assert rest == pytest.approx([0.775 / 7] * 7)
    assert sum(weights.values()) == pytest.approx(1.0)


def test_a_split_key_activity_shares_one_area_weight():
    """Maintenance's seven production-system key activities are one MSSC key activity:
    together they weigh what preventive maintenance alone weighs."""
    weights = activity_weights(_module("maintenance"))
    systems = [w for ka, w in weights.items() if ka not in {
        "maintenance.preventive", "maintenance.indicators", "maintenance.housekeeping"}]
    assert len(systems) == 7
    assert sum(systems) == pytest.approx(weights["maintenance.preventive"]) == \
        pytest.approx(0.25)
    assert max(systems) < min(weights[k] for k in ("maintenance.indicators",
                                                    "maintenance.housekeeping"))


def test_heavier_key_activities_need_more_items():
    module = _module("maintenance")
    targets = BankTargets(items_per_key_activity=20, parallel_forms=2)
    assert items_needed(module, 0.25, targets) == 40  # two 80-item forms take 20 each
    assert items_needed(module, 0.25 / 7, targets) == 20  # the floor


def test_allocation_follows_weights_and_gives_a_short_share_to_the_others():
    order = ["a", "b", "c"]
    assert allocate(80, order, {"a": 100, "b": 100, "c": 100},
                    {"a": 0.5, "b": 0.3, "c": 0.2}) == {"a": 40, "b": 24, "c": 16}
    # "a" holds only 10: the 30 it cannot give go to b and c in their 3:2 proportion
    assert allocate(80, order, {"a": 10, "b": 100, "c": 100},
                    {"a": 0.5, "b": 0.3, "c": 0.2}) == {"a": 10, "b": 42, "c": 28}
    assert allocate(9, order, {"a": 9, "b": 9, "c": 9}) == {"a": 3, "b": 3, "c": 3}


def _bank(per_activity: dict[str, int]) -> list[ItemRef]:
    return [ItemRef(f"{ka}-{n:03d}", ka, 1 + n % 3) for ka, count in per_activity.items()
            for n in range(count)]


def test_successive_forms_never_repeat_while_the_pool_lasts():
    items = _bank({"a": 60, "b": 36, "c": 24})  # exactly three forms of 40 at 50/30/20
    weights = {"a": 0.5, "b": 0.3, "c": 0.2}
    report = simulate_forms(items, ["a", "b", "c"], weights, 40, count=4, seed=3)
    first, second, third, fourth = (set(f) for f in report.forms)
    assert report.overlaps[:2] == [0, 0] and report.fresh_forms == 3
    for form in report.forms:
        assert Counter(i.split("-")[0] for i in form) == {"a": 20, "b": 12, "c": 8}
    # The pool is used up: the fourth form re-uses the items seen longest ago (the first
    # form's), not the third form's.
    assert fourth == first and not fourth & third


def test_two_forms_worth_of_items_keeps_consecutive_forms_apart():
    items = _bank({"a": 20, "b": 20})
    report = simulate_forms(items, ["a", "b"], {"a": 0.5, "b": 0.5}, 20, count=5, seed=1)
    assert report.overlaps == [0, 0, 0, 0]


def test_unseen_items_come_before_items_seen_in_practice_and_those_before_mock_items():
    items = _bank({"a": 12})
    exposure = {f"a-{n:03d}": Exposure(2, 5.0) for n in range(4)}  # an earlier mock
    exposure |= {f"a-{n:03d}": Exposure(1, 9.0) for n in range(4, 8)}  # a drill
    plan = plan_test(items, ["a"], 8, Random(0), None, exposure)
    assert set(plan) == {f"a-{n:03d}" for n in range(4, 12)}


def test_readiness_weighs_key_activities_by_their_share_of_the_exam():
    strong = ActivityMastery("heavy", 3.0, 40, standard_error(3.0, 40))
    weak = ActivityMastery("light", -3.0, 40, standard_error(-3.0, 40))
    heavy_known = readiness("m", [strong, weak], {"heavy": 0.9, "light": 0.1}, 80, 70)
    light_known = readiness("m", [strong, weak], {"heavy": 0.1, "light": 0.9}, 80, 70)
    assert heavy_known.probability > 0.9 > 0.1 > light_known.probability
