"""Statements built from learning events: valid by Ralph's own xAPI models, free of
tincan's flaws (version stamp, naive datetimes, out-of-range scores), deterministic."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from ralph.models.xapi.base.statements import BaseXapiStatement

from xapi import events as ev
from xapi import vocabulary as v
from xapi.statements import build_statement, statement_bytes, statement_json

ISSUER = "https://canvas.instructure.com"
WHEN = datetime(2026, 11, 25, 9, 30, 15, 123456, tzinfo=UTC)


def common(**over):
    base = dict(statement_id=str(uuid.uuid4()), timestamp=WHEN,
                actor=ev.Actor(ISSUER, "lti-sub-42"),
                lms=ev.LmsContext(ISSUER, "dep-1", "course 7", "Intro to Manufacturing",
                                  "link-3"),
                registration=str(uuid.uuid4()), mode="drill", module_id="safety",
                module_title="Safety", key_activity_id="safety.ppe")
    base.update(over)
    return base


def every_event() -> list[ev.Event]:
    lesson_session = common(mode="lesson")

    def lesson_fields():  # one lesson session: same registration, its own statement ids
        return {**lesson_session, "statement_id": str(uuid.uuid4())}

    return [
        ev.SessionInitialized(**common()),
        ev.SessionTerminated(duration_seconds=61.237, **common()),
        ev.LessonExperienced(lesson_id="LES-safety-ppe", lesson_title="PPE basics",
                             **lesson_fields()),
        ev.LessonCompleted(lesson_id="LES-safety-ppe", lesson_title="PPE basics",
                           duration_seconds=300, **lesson_fields()),
        ev.ItemAnswered(item_id="SAF-001", stem="Which glove resists cuts?",
                        choices=("Latex", "Kevlar", "Cotton", "Vinyl"), correct_index=1,
                        chosen_index=2, success=False, duration_seconds=12.345, **common()),
        ev.ItemAnswered(item_id="SAF-002", stem="A lesson check", choices=("Yes", "No"),
                        correct_index=0, chosen_index=0, success=True, duration_seconds=9,
                        lesson_id="LES-safety-ppe", lesson_title="PPE basics",
                        **lesson_fields()),
        ev.AttemptCompleted(score_raw=18, score_max=25, duration_seconds=900.5,
                            **common(mode="practice", key_activity_id=None)),
        ev.AttemptJudged(passed=False, score_raw=30, score_max=50, duration_seconds=3600,
                         **common(mode="mock", key_activity_id=None)),
        ev.AttemptJudged(passed=True, score_raw=45, score_max=50, duration_seconds=3000,
                         **common(mode="mock", key_activity_id=None)),
        ev.MasteryProgressed(key_activity_title="Use PPE", estimate=0.7312, **common()),
    ]


@pytest.mark.parametrize("event", every_event(), ids=lambda e: type(e).__name__)
def test_every_statement_is_valid_xapi_by_ralphs_models(event):
    data = statement_json(event)
    BaseXapiStatement.model_validate(data)
    assert "version" not in data  # tincan stamps "1.0.3"; the LRS sets it
    assert build_statement(event).version == "1.0.3"  # ... which is why we strip it
    assert data["id"] == event.statement_id
    assert data["timestamp"] == "2026-11-25T09:30:15.123Z"
    context = data["context"]
    assert context["registration"] == event.registration
    assert context["platform"] == "CPT Practice" and context["language"] == "en-US"
    category = context["contextActivities"]["category"]
    assert [c["id"] for c in category] == [v.PROFILE_VERSION]
    grouping = {g["id"] for g in context["contextActivities"]["grouping"]}
    assert {v.module_activity_id("safety"), v.CPT_COURSE_ID,
            f"{ISSUER}/lti/context/course%207"} <= grouping
    assert context["extensions"][v.LTI_ISSUER.iri] == ISSUER
    assert context["extensions"][v.LTI_DEPLOYMENT.iri] == "dep-1"
    assert context["extensions"][v.LTI_RESOURCE_LINK.iri] == "link-3"
    assert context["extensions"][v.ATTEMPT_MODE.iri] == event.mode


def test_answered_item_is_a_choice_interaction_with_its_response():
    event = every_event()[4]
    data = statement_json(event)
    definition = data["object"]["definition"]
    assert data["verb"]["id"] == v.ANSWERED.iri
    assert definition["type"] == v.INTERACTION.iri
    assert definition["interactionType"] == "choice"
    assert [c["id"] for c in definition["choices"]] == ["a", "b", "c", "d"]
    assert definition["choices"][1]["description"]["en-US"] == "Kevlar"
    assert definition["correctResponsesPattern"] == ["b"]
    assert data["result"] == {"response": "c", "success": False, "duration": "PT12.35S"}
    parent = data["context"]["contextActivities"]["parent"]
    assert parent[0]["definition"]["type"] == v.ASSESSMENT.iri
    lesson_check = statement_json(every_event()[5])
    assert lesson_check["context"]["contextActivities"]["parent"][0]["id"] == \
        v.lesson_activity_id("LES-safety-ppe")


def test_scores_and_verdicts():
    completed, failed, passed = (statement_json(e) for e in every_event()[6:9])
    assert completed["verb"]["id"] == v.COMPLETED.iri
    assert completed["result"]["score"] == {"scaled": 0.72, "raw": 18, "min": 0, "max": 25}
    assert completed["result"]["duration"] == "PT15M00.5S"
    assert failed["verb"]["id"] == v.FAILED.iri and failed["result"]["success"] is False
    assert passed["verb"]["id"] == v.PASSED.iri and passed["result"]["success"] is True
    assert passed["result"]["score"]["scaled"] == 0.9


def test_durations_are_rounded_to_hundredths():
    terminated = statement_json(every_event()[1])
    assert terminated["result"]["duration"] == "PT01M01.24S"


def test_actor_is_an_account_unless_a_college_chose_email():
    data = statement_json(every_event()[0])
    assert data["actor"] == {"objectType": "Agent", "account": {
        "homePage": ISSUER, "name": "lti-sub-42"}}
    assert "mbox" not in json.dumps(data)
    digest = hashlib.sha1(b"mailto:ana@college.edu").hexdigest()
    hashed = statement_json(ev.SessionInitialized(**common(
        actor=ev.Actor(ISSUER, "lti-sub-42", mbox_sha1sum=digest))))
    assert hashed["actor"] == {"objectType": "Agent", "mbox_sha1sum": digest}
    plain = statement_json(ev.SessionInitialized(**common(
        actor=ev.Actor(ISSUER, "lti-sub-42", mbox="mailto:ana@college.edu"))))
    assert plain["actor"]["mbox"] == "mailto:ana@college.edu"
    BaseXapiStatement.model_validate(hashed)


def test_same_event_same_bytes_and_timezone_normalised():
    event = every_event()[4]
    assert statement_bytes(event) == statement_bytes(event)
    eastern = timezone(timedelta(hours=-5))
    shifted = ev.SessionInitialized(**common(timestamp=WHEN.astimezone(eastern)))
    assert statement_json(shifted)["timestamp"] == "2026-11-25T09:30:15.123Z"


@pytest.mark.parametrize("change, message", [
    (dict(timestamp=datetime(2026, 11, 25, 9, 30)), "timezone-aware"),
    (dict(statement_id="not-a-uuid"), "statement_id must be a UUID"),
    (dict(registration=""), "registration must be a UUID"),
    (dict(mode="quiz"), "mode must be one of"),
])
def test_events_refuse_what_tincan_would_accept(change, message):
    with pytest.raises(ValueError, match=message):
        ev.SessionInitialized(**common(**change))


@pytest.mark.parametrize("score_raw, score_max", [(26, 25), (-1, 25), (0, 0),
                                                  (float("nan"), 25), (1, float("inf"))])
def test_out_of_range_scores_are_refused(score_raw, score_max):
    with pytest.raises(ValueError, match="score"):
        ev.AttemptCompleted(score_raw=score_raw, score_max=score_max, **common())


@pytest.mark.parametrize("seconds", [-0.01, float("nan"), float("inf")])
def test_durations_must_be_finite_and_not_negative(seconds):
    with pytest.raises(ValueError, match="duration_seconds must be a finite number"):
        ev.SessionTerminated(duration_seconds=seconds, **common())


def test_item_answers_must_be_consistent():
    base = dict(item_id="X", stem="Q", choices=("a", "b"), correct_index=0, **common())
    with pytest.raises(ValueError, match="chosen_index 2"):
        ev.ItemAnswered(chosen_index=2, success=False, **base)
    with pytest.raises(ValueError, match="success"):
        ev.ItemAnswered(chosen_index=1, success=True, **base)
    with pytest.raises(ValueError, match="estimate"):
        ev.MasteryProgressed(key_activity_title="t", estimate=1.5, **common())


def test_an_items_name_is_its_stem_cut_at_a_word_with_an_ellipsis():
    from xapi.statements import short_stem

    assert short_stem("  What does a\ncontrol chart show? ") == "What does a control chart show?"
    long = ("Which of the following is the first thing a production technician should do "
            "when a machine guard is found missing during the start-of-shift check?")
    name = short_stem(long)
    assert len(name) <= 80 and name.endswith("\u2026")
    assert long.startswith(name[:-1]) and long[len(name) - 1] == " "  # a whole word
    assert short_stem("x" * 200).startswith("x" * 79) and len(short_stem("x" * 200)) == 80
