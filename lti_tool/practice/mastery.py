"""Mastery (per key activity) and readiness (per module), as pure functions.

Model: a one-parameter logistic (Rasch) item response model fitted online, Elo-style.
A person's ability ``theta`` on a key activity and an item's difficulty ``b`` (from the
item's 1-3 rating: -1.0, 0.0, +1.0 logits) give P(correct) = 1 / (1 + e^-(theta - b)).
After each answer theta moves by K * (observed - expected), with K shrinking as evidence
grows, so early answers move the estimate a lot and later ones refine it. The standard
error comes from the Fisher information of the answers seen, sum p(1-p).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DIFFICULTY_LOGITS = {1: -1.0, 2: 0.0, 3: 1.0}
K_START = 0.6
K_FLOOR = 0.15
PRIOR_INFORMATION = 0.5  # as if we had seen two coin-flip answers: keeps SE finite
MIN_ANSWERS_FOR_READINESS = 20
MIN_ACTIVITIES_FOR_READINESS = 0.5  # share of the module's key activities with evidence


def p_correct(theta: float, difficulty: int) -> float:
    return 1.0 / (1.0 + math.exp(-(theta - DIFFICULTY_LOGITS[difficulty])))


def k_factor(evidence: int) -> float:
    return max(K_FLOOR, K_START / math.sqrt(1 + evidence))


def update_theta(theta: float, evidence: int, difficulty: int, correct: bool) -> float:
    expected = p_correct(theta, difficulty)
    new = theta + k_factor(evidence) * ((1.0 if correct else 0.0) - expected)
    return max(-4.0, min(4.0, new))


def standard_error(theta: float, evidence: int) -> float:
    """Approximate SE of theta: answers at medium difficulty, plus a weak prior."""
    p = p_correct(theta, 2)
    return 1.0 / math.sqrt(PRIOR_INFORMATION + evidence * p * (1 - p))


@dataclass(frozen=True)
class ActivityMastery:
    key_activity_id: str
    theta: float
    evidence: int
    standard_error: float

    @property
    def p_medium(self) -> float:
        """Chance of answering a medium item of this activity correctly."""
        return p_correct(self.theta, 2)

    @property
    def level(self) -> str:
        if self.evidence < 3:
            return "not started" if self.evidence == 0 else "getting started"
        if self.p_medium >= 0.8:
            return "mastered"
        if self.p_medium >= 0.6:
            return "almost there"
        return "needs practice"


@dataclass(frozen=True)
class Readiness:
    module_id: str
    ready: bool  # False until there is enough evidence to say anything
    probability: float | None  # of scoring at or above the pass mark on a full exam
    low: float | None  # 80% interval of that probability
    high: float | None
    expected_percent: float | None
    answers: int
    explanation: str


def _normal_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def readiness(module_id: str, activities: list[ActivityMastery],
              weights: dict[str, float | None], exam_items: int,
              pass_percent: float) -> Readiness:
    """P(pass) for an exam that samples the module's key activities by their exam weights
    (``weights``: every live key activity of the module; equal shares where unknown).

    The expected score is the weighted mean of per-activity P(correct) for medium items; the
    uncertainty of each theta (its SE) is carried into a range by recomputing at
    theta -/+ 1.28 SE (an 80% band).
    """
    total_activities = len(weights)
    all_weighted = all(weights.values())  # else every key activity counts the same
    share = {ka_id: (w or 0.0) if all_weighted else 1.0 for ka_id, w in weights.items()}
    answers = sum(a.evidence for a in activities)
    covered = sum(1 for a in activities if a.evidence > 0)
    if answers < MIN_ANSWERS_FOR_READINESS or covered < math.ceil(
            total_activities * MIN_ACTIVITIES_FOR_READINESS):
        need = max(0, MIN_ANSWERS_FOR_READINESS - answers)
        return Readiness(module_id, False, None, None, None, None, answers,
                         f"Answer at least {need or 'a few'} more questions across more "
                         f"topics and we will estimate your chance of passing.")
    by_id = {a.key_activity_id: a for a in activities}

    def pass_probability(shift: float) -> tuple[float, float]:
        # Untested activities count at a coin flip: we do not know them yet.
        ps = {ka_id: 0.5 for ka_id in weights}
        for a in by_id.values():
            ps[a.key_activity_id] = p_correct(a.theta + shift * a.standard_error, 2)
        total = sum(share.values()) or 1.0
        mean = sum(p * share.get(ka_id, 0.0) for ka_id, p in ps.items()) / total
        expected = exam_items * mean
        sd = math.sqrt(max(1e-9, exam_items * mean * (1 - mean)))
        cut = math.ceil(exam_items * pass_percent / 100) - 0.5  # continuity correction
        return 1 - _normal_cdf((cut - expected) / sd), mean

    probability, mean = pass_probability(0.0)
    low, _ = pass_probability(-1.28)
    high, _ = pass_probability(1.28)
    explanation = (f"Based on your {answers} answers, you would score about {mean:.0%} on a "
                   f"full exam; your chance of reaching the {pass_percent:.0f}% pass mark is "
                   f"about {probability:.0%} (likely between {low:.0%} and {high:.0%}).")
    return Readiness(module_id, True, probability, low, high, mean * 100, answers,
                     explanation)
