"""One score that breaks in an unexpected way (a bug, a DB hiccup while caching a token)
must not take the pass's other scores down with it: scores already published would
otherwise never be recorded as sent, and would be sent again once their lease ran out."""

from __future__ import annotations

from datetime import UTC, datetime
from random import Random

from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from lti_tool.delivery import ags as delivery_ags
from lti_tool.delivery.retry import grade_retry_at


class _Lms:
    def __init__(self) -> None:
        self.published: list[int] = []

    def publish(self, score) -> dict:
        if score == 2:
            raise RuntimeError("duplicate key value violates unique constraint")
        self.published.append(score)
        return {}


def test_an_unexpected_error_on_one_score_leaves_the_others_recorded(monkeypatch):
    monkeypatch.setattr(delivery_ags, "_score", lambda _session, payload: payload["n"])
    sessions = sessionmaker(bind=create_engine("sqlite://"))
    lms = _Lms()
    claimed = [(10 + n, {"n": n}, 1) for n in (1, 2, 3)]

    outcomes = delivery_ags.send_scores(sessions, lms, claimed)  # type: ignore[arg-type]

    assert lms.published == [1, 3]
    assert [(row_id, error is None) for row_id, _, error in outcomes] == [
        (11, True), (12, False), (13, True)]
    error = outcomes[1][2]
    assert error is not None and error.retryable  # tried again later, not failed for good
    assert "RuntimeError" in str(error)
    assert grade_retry_at(error, 1, datetime(2026, 12, 4, tzinfo=UTC), Random(1)) is not None
