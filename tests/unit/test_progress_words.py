"""Pure pieces behind the mastery map and results pages: the pass chance in words, the
next topic to practise, and the results' time used and topics by need."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lti_tool.practice.mastery import (
    ActivityMastery,
    chance_percent,
    chance_text,
    chance_words,
    next_topic,
    readiness,
    standard_error,
)
from lti_tool.practice.service import ActivityScore, AttemptResult


@pytest.mark.parametrize(("p", "words", "percent"), [
    (None, "Not enough answers yet", None),
    (0.0, "Very unlikely yet", None),
    (0.04, "Very unlikely yet", None),
    (0.07, "Very unlikely yet", 7),
    (0.2, "Unlikely", 20),
    (0.5, "About even", 50),
    (0.72, "Likely", 72),
    (0.93, "Very likely", 93),
    (0.999, "Very likely", None),
    (1.0, "Very likely", None),
])
def test_pass_chance_in_words_with_a_number_only_where_it_means_something(p, words, percent):
    assert chance_words(p) == words and chance_percent(p) == percent
    assert chance_text(p) == (f"{words} (about {percent}%)" if percent is not None else words)


def _am(ka: str, theta: float, evidence: int) -> ActivityMastery:
    return ActivityMastery(ka, theta, evidence, standard_error(theta, evidence))


def test_readiness_at_the_extremes_reads_as_words_not_about_0_percent():
    weights = {"a": 0.5, "b": 0.5}
    low = readiness("m", [_am("a", -3.0, 25), _am("b", -3.0, 5)], weights, 80, 70)
    assert low.ready and low.probability < 0.01
    assert low.chance_words == "Very unlikely yet" and low.chance_percent is None
    assert low.explanation.endswith("Your chance of passing now: very unlikely yet.")
    assert "pass mark is 70%" in low.explanation and "very unlikely yet" in low.explanation
    high = readiness("m", [_am("a", 3.0, 25), _am("b", 3.0, 5)], weights, 80, 70)
    assert high.chance_words == "Very likely" and high.chance_percent is None
    middle = readiness("m", [_am("a", 1.0, 25), _am("b", 1.0, 5)], weights, 80, 70)
    assert middle.chance_percent is not None
    assert f"(about {middle.chance_percent}%)" in middle.explanation


def test_readiness_without_enough_evidence_says_what_is_missing():
    weights = {"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0}
    none = readiness("m", [], weights, 80, 70)
    assert not none.ready and none.chance_words == "Not enough answers yet"
    assert none.chance_percent is None
    assert "at least 20 more questions, covering at least 2 more topics" in none.explanation
    one_topic = readiness("m", [_am("a", 0.0, 25)], weights, 80, 70)
    assert "some questions on at least 1 more topic" in one_topic.explanation
    few = readiness("m", [_am("a", 0.0, 10), _am("b", 0.0, 9)], weights, 80, 70)
    assert "at least 1 more question," in few.explanation


def test_next_topic_prefers_the_weakest_that_needs_practice():
    topics = [_am("a", 2.0, 10), _am("b", -1.0, 6), _am("c", -2.0, 8), _am("d", 0.0, 0)]
    step = next_topic(topics)
    assert step is not None and step.key_activity_id == "c"
    assert step.reason == "your weakest topic" and not step.lesson_first


def test_next_topic_then_one_just_started_then_the_first_not_started():
    assert next_topic([_am("a", 2.0, 10), _am("b", 0.3, 2), _am("c", 0.0, 0)]
                      ).key_activity_id == "b"
    fresh = next_topic([_am("a", 2.0, 10), _am("b", 0.0, 0), _am("c", 0.0, 0)])
    assert fresh.key_activity_id == "b" and fresh.lesson_first
    assert fresh.reason == "you have not started it yet"


def test_next_topic_when_all_are_nearly_or_fully_mastered():
    assert next_topic([_am("a", 2.0, 10), _am("b", 0.6, 10)]).key_activity_id == "b"
    assert next_topic([_am("a", 2.0, 10), _am("b", 3.0, 10)]) is None


def _result(scores: list[ActivityScore], minutes: float, limit: int | None = None
            ) -> AttemptResult:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    return AttemptResult("a1", "mock", "submitted", "m", 0, 0, 0.0, None, start,
                         start + timedelta(minutes=minutes),
                         start + timedelta(minutes=limit) if limit else None, False, scores)


def test_results_order_topics_by_need_and_pick_the_weakest_three():
    scores = [ActivityScore("a", "A", 9, 10), ActivityScore("b", "B", 1, 4),
              ActivityScore("c", "C", 5, 5), ActivityScore("d", "D", 2, 8),
              ActivityScore("e", "E", 1, 2), ActivityScore("f", "F", 2, 8)]
    result = _result(scores, 12.4, 90)
    assert [s.key_activity_id for s in result.by_need] == ["d", "f", "b", "e", "a", "c"]
    assert [s.key_activity_id for s in result.weakest(3)] == ["d", "f", "b"]
    assert result.minutes_used == 12 and result.minutes_allowed == 90


def test_results_with_all_right_or_held_back_scores_name_no_weak_topic():
    assert _result([ActivityScore("a", "A", 3, 3)], 0.2).weakest() == []
    assert _result([ActivityScore("a", "A", None, 3)], 5).weakest() == []
    untimed = _result([ActivityScore("a", "A", 0, 3)], 0.2)
    assert untimed.minutes_used == 1 and untimed.minutes_allowed is None
