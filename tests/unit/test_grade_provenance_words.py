"""Grade provenance in words: which attempt made the grade, the LMS's name, and an LMS's
answer made safe to print and to store."""

from __future__ import annotations

from datetime import UTC, datetime

from lti_tool.delivery import provenance
from lti_tool.models import GradeDeliveryTry, GradeRecord, LmsFamily

NOW = datetime(2026, 12, 4, 14, 2, tzinfo=UTC)


def _record(policy: str, scores: list[int], state: str = "sent") -> GradeRecord:
    return GradeRecord(policy=policy, attempts=[
        {"id": f"a{n}", "score": s, "max": 10, "submitted_at": NOW.isoformat()}
        for n, s in enumerate(scores)], score_given=7, score_maximum=10, queued_at=NOW,
        state=state, updated_at=NOW)


def test_the_attempt_that_made_the_grade_follows_the_policy() -> None:
    assert provenance.deciding(_record("best", [6, 9, 9, 4])) == [False, True, False, False]
    assert provenance.deciding(_record("latest", [6, 9, 4])) == [False, False, True]
    assert provenance.deciding(_record("average", [6, 9])) == [True, True]
    lines = provenance.attempts_made(_record("best", [6, 9]))
    assert lines[1].startswith("9 of 10, submitted 2026-12-04 14:02 UTC (made the grade)")


def test_headlines_say_the_policy_the_score_and_the_lms() -> None:
    sent = provenance.GradeStory(_record("best", [6, 7, 5]), [GradeDeliveryTry(
        at=NOW, http_status=200, outcome="sent")])
    assert provenance.headline(sent, "Canvas") == (
        "Best of 3 attempts: 70%, sent 14:02 UTC, Canvas accepted")
    refused = provenance.GradeStory(_record("latest", [7], "failed"), [GradeDeliveryTry(
        at=NOW, http_status=400, body="bad\x1b[31m user\n", outcome="failed")])
    words = provenance.headline(refused, "Moodle")
    assert words == "One attempt: 70%, Moodle refused it: 400 bad [31m user - ask your LMS admin"
    assert "\x1b" not in provenance.try_line(1, refused.tries[0])


def test_the_lms_is_named_by_its_family_else_by_the_platform() -> None:
    assert provenance.lms_name(LmsFamily.CANVAS, "Our Canvas") == "Canvas"
    assert provenance.lms_name(LmsFamily.MOODLE) == "Moodle"
    assert provenance.lms_name(LmsFamily.OTHER, "Brightspace") == "Brightspace"
    assert provenance.lms_name("other") == "the LMS"


def test_a_stored_answer_has_no_nul_and_is_trimmed() -> None:
    assert provenance._stored("a\x00b" + "x" * 900) == "ab" + "x" * 498
    assert provenance._stored("") is None and provenance._stored(None) is None
