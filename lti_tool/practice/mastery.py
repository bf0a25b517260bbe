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

    @property
    def chance_words(self) -> str:
        """The pass chance in words: a bare "about 0% (0%-48%)" read as a verdict."""
        return chance_words(self.probability if self.ready else None)

    @property
    def chance_percent(self) -> int | None:
        """The pass chance as a whole percent, only where the number means something."""
        return chance_percent(self.probability if self.ready else None)


NOT_ENOUGH = "Not enough answers yet"
# Upper bounds of the pass-chance bands and their words (plain, 8th-grade reading level).
CHANCE_BANDS = ((0.10, "Very unlikely yet"), (0.35, "Unlikely"), (0.65, "About even"),
                (0.90, "Likely"), (1.01, "Very likely"))
NUMBER_SHOWN = (0.05, 0.95)  # outside this the model's number is noise at the extremes


def chance_words(probability: float | None) -> str:
    if probability is None:
        return NOT_ENOUGH
    return next(words for top, words in CHANCE_BANDS if probability < top)


def chance_percent(probability: float | None) -> int | None:
    """A percent to print beside the words: none at the extremes, where "about 0%" or
    "about 100%" claims more than a few dozen answers can tell."""
    if probability is None or not NUMBER_SHOWN[0] <= probability <= NUMBER_SHOWN[1]:
        return None
    return round(probability * 100)


def chance_text(probability: float | None) -> str:
    """Words, with the number where it is meaningful: "Likely (about 72%)"."""
    percent = chance_percent(probability)
    words = chance_words(probability)
    return f"{words} (about {percent}%)" if percent is not None else words


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
        topics = max(0, math.ceil(total_activities * MIN_ACTIVITIES_FOR_READINESS) - covered)
        more_topics = f"{topics} more topic{'s' if topics != 1 else ''}"
        more_questions = f"at least {need} more question{'s' if need != 1 else ''}"
        if need and topics:
            todo = f"{more_questions}, covering at least {more_topics}"
        elif need:
            todo = more_questions
        else:
            todo = f"some questions on at least {more_topics}"
        return Readiness(module_id, False, None, None, None, None, answers,
                         f"{NOT_ENOUGH} to estimate your chance of passing. Answer {todo}, "
                         f"and we will estimate it.")
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
                   f"full exam. The pass mark is {pass_percent:.0f}%. Your chance of passing "
                   f"now: {chance_text(probability).lower()}.")
    return Readiness(module_id, True, probability, low, high, mean * 100, answers,
                     explanation)


@dataclass(frozen=True)
class NextStep:
    """The topic to work on next and why, in words for the student."""

    key_activity_id: str
    reason: str
    lesson_first: bool = False  # a topic not started: its lesson before its drill


def next_topic(activities: list[ActivityMastery]) -> NextStep | None:
    """What to practise next, from the topics in the order the student should meet them:
    the weakest topic that needs practice; else one with too few answers to judge; else
    the first one not started; else the weakest not yet mastered. None: all mastered."""
    def weakest(pool: list[ActivityMastery]) -> ActivityMastery:
        return min(pool, key=lambda a: a.p_medium)  # min keeps the first of equals

    needs = [a for a in activities if a.level == "needs practice"]
    if needs:
        return NextStep(weakest(needs).key_activity_id, "your weakest topic")
    started = [a for a in activities if a.level == "getting started"]
    if started:
        return NextStep(started[0].key_activity_id,
                        "a few more answers will show how you are doing")
    fresh = [a for a in activities if a.level == "not started"]
    if fresh:
        return NextStep(fresh[0].key_activity_id, "you have not started it yet",
                        lesson_first=True)
    almost = [a for a in activities if a.level == "almost there"]
    if almost:
        return NextStep(weakest(almost).key_activity_id, "your weakest topic")
    return None
