"""The profile checker (xapi/profile/check.py, the Profiles spec's algorithms) and what it
says of our profile: order by timestamp, any xAPI 1.0.x version an LRS stores (issue 19)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from test_xapi_profile import _template_kind
from test_xapi_statements import WHEN, common, every_event

from xapi import events as ev
from xapi.profile import LRS_VERSIONS, build_profile, template_id
from xapi.profile.check import (
    INVALID,
    SUCCESS,
    UNMATCHED,
    follows,
    follows_rule,
    jsonpath,
    validates,
)
from xapi.statements import statement_json


def _session() -> list[dict]:
    """One mock exam attempt in the profile's order, 1 s apart."""
    registration = str(uuid.uuid4())
    tick = iter(range(100))

    def c(**over) -> dict:
        return common(registration=registration, mode="mock", key_activity_id=None,
                      timestamp=WHEN + timedelta(seconds=next(tick))) | over

    events = [
        ev.SessionInitialized(**c()),
        ev.ItemAnswered(item_id="SAF-001", stem="Which glove resists cuts?",
                        choices=("Latex", "Kevlar"), correct_index=1, chosen_index=1,
                        success=True, duration_seconds=20, **c()),
        ev.AttemptCompleted(score_raw=1, score_max=2, duration_seconds=60, **c()),
        ev.AttemptJudged(passed=False, score_raw=1, score_max=2, duration_seconds=60, **c()),
        ev.MasteryProgressed(key_activity_title="Use PPE", estimate=0.5,
                             **c(key_activity_id="safety.ppe")),
        ev.SessionTerminated(duration_seconds=61, **c()),
    ]
    return [statement_json(e) for e in events]


def test_jsonpath_reads_the_locations_our_profile_uses():
    doc = {"a": {"b": [{"c": 1}, {"c": 2}, {}], "x.y": "z"}}
    assert jsonpath(doc, "$.a.b[*].c") == [1, 2]
    assert jsonpath(doc, "$.a['x.y']") == ["z"]
    assert jsonpath(doc, "$.missing") == []
    with pytest.raises(ValueError, match="unsupported"):
        jsonpath(doc, "$..c")


def test_rules_follow_the_specs_algorithm():
    doc = {"k": ["a", "b"], "one": "a"}
    assert follows_rule(doc, {"location": "$.k[*]", "presence": "included", "all": ["a", "b"]})
    assert not follows_rule(doc, {"location": "$.k[*]", "all": ["a"]})
    assert follows_rule(doc, {"location": "$.k[*]", "any": ["b", "c"]})
    assert not follows_rule(doc, {"location": "$.none", "presence": "included"})
    assert not follows_rule(doc, {"location": "$.one", "presence": "excluded"})
    # No presence: strict, but "all" of nothing holds, "any" of nothing does not.
    assert follows_rule(doc, {"location": "$.none", "all": ["a"]})
    assert not follows_rule(doc, {"location": "$.none", "any": ["a"]})
    assert follows_rule(doc, {"location": "$.none", "presence": "recommended", "any": ["a"]})


def test_every_statement_validates_against_exactly_its_template():
    profile = build_profile()
    for event in every_event():
        result = validates(statement_json(event), profile)
        assert (result.outcome, result.templates) == (
            SUCCESS, (template_id(_template_kind(event)),)), result.broken
    other = statement_json(every_event()[0]) | {"verb": {"id": "http://example.com/v"}}
    assert validates(other, profile).outcome == UNMATCHED


@pytest.mark.parametrize("version", LRS_VERSIONS)
def test_a_statement_as_an_lrs_stores_it_follows_the_profile(version):
    """xAPI 1.0.3: an LRS sets version 1.0.0 on a statement stored without one."""
    profile = build_profile()
    for event in every_event():
        stored = statement_json(event) | {"version": version, "stored": "2026-11-25T10:00:00Z",
                                          "authority": {"mbox": "mailto:lrs@college.test"}}
        assert validates(stored, profile).outcome == SUCCESS, type(event).__name__


def test_a_version_outside_1_0_x_is_refused():
    assert LRS_VERSIONS == ("1.0.0", "1.0.1", "1.0.2", "1.0.3")
    statement = statement_json(every_event()[0]) | {"version": "2.0.0"}
    result = validates(statement, build_profile())
    assert result.outcome == INVALID and result.broken[0].endswith(": $.version")


def test_a_session_follows_the_pattern_read_by_timestamp_in_any_stored_order():
    profile = build_profile()
    session = _session()
    assert follows(session, profile)
    assert follows(list(reversed(session)), profile)  # the LRS's order does not matter
    assert not follows(session[1:], profile)  # no initialized
    assert not follows(session[:-1], profile)  # no terminated


def test_a_shared_timestamp_loses_the_order_and_1_ms_steps_keep_it():
    """Defect 3 as an analyst meets it: the statements of a submit with one timestamp,
    returned in the LRS's order, do not follow the pattern."""
    profile = build_profile()
    session = _session()
    submit = session[2:]
    same = [s | {"timestamp": submit[0]["timestamp"]} for s in submit]
    assert not follows(session[:2] + list(reversed(same)), profile)
    stepped = [s | {"timestamp": (WHEN + timedelta(seconds=2, milliseconds=n)).isoformat()}
               for n, s in enumerate(submit)]
    assert follows(session[:2] + list(reversed(stepped)), profile)


def test_a_lesson_session_follows_the_pattern_with_its_progress():
    """A lesson ends completed, then progressed per key activity, then terminated (the
    pattern once put progress inside a drill's or exam's finish only)."""
    registration = str(uuid.uuid4())
    tick = iter(range(100))

    def c(**over) -> dict:
        return common(registration=registration, mode="lesson",
                      timestamp=WHEN + timedelta(milliseconds=next(tick))) | over

    lesson = dict(lesson_id="LES-safety-ppe", lesson_title="PPE basics")
    events = [
        ev.SessionInitialized(**c()),
        ev.LessonExperienced(**lesson, **c()),
        ev.ItemAnswered(item_id="SAF-002", stem="A lesson check", choices=("Yes", "No"),
                        correct_index=0, chosen_index=0, success=True, duration_seconds=15,
                        **lesson, **c()),
        ev.LessonCompleted(duration_seconds=300, **lesson, **c()),
        ev.MasteryProgressed(key_activity_title="Use PPE", estimate=0.6, **c()),
        ev.SessionTerminated(duration_seconds=301, **c()),
    ]
    assert follows([statement_json(e) for e in reversed(events)], build_profile())
