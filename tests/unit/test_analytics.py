"""Point-biserial discrimination: known values, and the degenerate cases."""

from __future__ import annotations

import pytest

from lti_tool.practice.analytics import point_biserial


def test_point_biserial_matches_a_hand_computation():
    # Two right with rest scores 0.9 and 0.8, two wrong with 0.3 and 0.2:
    # means 0.85 vs 0.25, population SD of all four = 0.3041, p = 0.5.
    value = point_biserial([1, 1, 0, 0], [0.9, 0.8, 0.3, 0.2])
    assert value == pytest.approx((0.85 - 0.25) / 0.30413812651 * 0.5, rel=1e-6)


def test_reversed_item_is_negative():
    assert point_biserial([0, 0, 1, 1], [0.9, 0.8, 0.3, 0.2]) < 0


@pytest.mark.parametrize(("correct", "rest"), [([1, 1], [0.5, 0.2]), ([0, 0], [0.1, 0.9]),
                                                ([1], [0.5]), ([1, 0], [0.4, 0.4])])
def test_undefined_cases_give_none(correct, rest):
    assert point_biserial(correct, rest) is None
