"""The statement quality gate's rules (xapi/quality.py): every statement the tool builds
passes; each template of the profile, fed a statement broken the way it forbids, stops it
with that template's rule; the xAPI 1.0.3 rules stop what Ralph's strict models also
refuse; a plain voiding statement passes (the one statement no template describes)."""

from __future__ import annotations

import copy
import re
import uuid
from typing import Any

import pytest
from pydantic import ValidationError
from ralph.models.xapi.base.statements import BaseXapiStatement
from test_xapi_profile import _template_kind
from test_xapi_statements import ISSUER, common, every_event

from xapi import events as ev
from xapi import vocabulary as v
from xapi.profile import TEMPLATES, build_profile, load_profile
from xapi.quality import VOIDED, Violation, check, is_duration, is_language_tag
from xapi.statements import statement_bytes, statement_json

PROFILE = load_profile()
WRONG_IRI = "https://example.org/not-ours"
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\['([^']*)'\]|\[\*\]")


def _sample(kind: str) -> dict[str, Any]:
    """A statement the tool builds for the template ``kind``, with a score if it has one."""
    for event in every_event():
        if _template_kind(event) == kind:
            return statement_json(event)
    raise AssertionError(kind)


def _parents(document: Any, location: str) -> list[tuple[Any, Any]]:
    """(container, key) of every value at ``location`` (the profile's JSONPath subset)."""
    steps = [(m.group(1) if m.group(1) is not None else m.group(2))
             for m in _STEP.finditer(location, 1)]
    nodes: list[tuple[Any, Any]] = [({"$": document}, "$")]
    for step in steps:
        next_nodes = []
        for container, key in nodes:
            node = container[key]
            if step is None and not isinstance(node, list):
                continue
            if step is None:  # [*]
                next_nodes += [(node, n) for n in range(len(node))]
            elif isinstance(node, dict) and step in node:
                next_nodes.append((node, step))
        nodes = next_nodes
    return nodes


def _delete(statement: dict[str, Any], location: str) -> dict[str, Any]:
    broken = copy.deepcopy(statement)
    for container, key in _parents(broken, location):
        if isinstance(container, dict):
            container.pop(key, None)
    return broken


def _put(statement: dict[str, Any], location: str, value: Any) -> dict[str, Any]:
    broken = copy.deepcopy(statement)
    steps = location[2:].split(".") if "[" not in location else None
    assert steps, location  # excluded rules are plain dotted paths
    node = broken
    for step in steps[:-1]:
        node = node.setdefault(step, {})
    node[steps[-1]] = value
    return broken


def _replace(statement: dict[str, Any], location: str, value: Any) -> dict[str, Any]:
    broken = copy.deepcopy(statement)
    found = _parents(broken, location)
    assert found, location
    for container, key in found:
        container[key] = value
    return broken


def _rules(found: list[Violation]) -> set[tuple[str, str]]:
    return {(f.rule, f.path) for f in found}


# --- no false positives ----------------------------------------------------------------------

@pytest.mark.parametrize("event", every_event(), ids=lambda e: type(e).__name__)
def test_every_statement_the_tool_builds_passes(event):
    assert check(statement_json(event)) == []


def test_every_actor_identity_passes():
    for actor in (ev.Actor(ISSUER, "sub-1", mbox="mailto:ana@college.test"),
                  ev.Actor(ISSUER, "sub-1", mbox_sha1sum="a" * 40)):
        for event in every_event():
            event = type(event)(**{**event.__dict__, "actor": actor})
            assert check(statement_json(event)) == [], type(event).__name__


def test_a_statement_as_an_lrs_stores_it_passes():
    for event in every_event():
        stored = statement_json(event) | {"version": "1.0.0", "stored": "2026-11-25T10:00:00Z",
                                          "authority": {"mbox": "mailto:lrs@college.test"}}
        assert check(stored) == [], type(event).__name__


# --- each template stops what it forbids -----------------------------------------------------

def _cases():
    profile = build_profile()
    for kind, (name, *_rest) in TEMPLATES.items():
        template = next(t for t in profile["templates"] if t["id"].endswith("/" + name))
        for rule in template["rules"]:
            location, presence = rule["location"], rule.get("presence")
            if presence == "included":
                yield pytest.param(kind, name, "missing", rule,
                                   id=f"{name}-missing-{location}")
            if presence == "excluded":
                yield pytest.param(kind, name, "excluded-present", rule,
                                   id=f"{name}-present-{location}")
            if ("any" in rule or "all" in rule) and presence != "recommended":
                yield pytest.param(kind, name, "wrong-value", rule,
                                   id=f"{name}-wrong-{location}")


@pytest.mark.parametrize(("kind", "name", "how", "rule"), list(_cases()))
def test_each_template_rule_stops_a_statement_that_breaks_it(kind, name, how, rule):
    good = _sample(kind)
    location = rule["location"]
    if how == "missing":
        broken = _delete(good, location)
    elif how == "excluded-present":
        broken = _put(good, location, {"raw": 1, "min": 0, "max": 2}
                      if location.endswith("score") else {"completion": True})
    elif location == "$.version":
        broken = good | {"version": "2.0.0"}
    else:
        wrong = "wrong" if "extensions" in location else WRONG_IRI
        broken = _replace(good, location, wrong)
    assert (f"profile/{name}", location) in _rules(check(broken))


def test_the_profile_has_rules_of_every_kind_the_gate_tests():
    """What the parametrized test above covers, so a profile change cannot empty it."""
    hows = {(p.values[1], p.values[2]) for p in _cases()}
    names = {name for name, *_ in TEMPLATES.values()}
    assert {name for name, how in hows if how == "missing"} == names
    assert {name for name, how in hows if how == "excluded-present"} == {
        "session-initialized", "lesson-experienced", "session-terminated",
        "mastery-progressed"}
    assert {name for name, how in hows if how == "wrong-value"} == names


@pytest.mark.parametrize("kind", list(TEMPLATES))
def test_a_wrong_verb_or_activity_type_is_stopped(kind):
    name = TEMPLATES[kind][0]
    good = _sample(kind)
    other_verb = _replace(good, "$.verb.id", v.ADL_VERBS + "attempted")
    assert _rules(check(other_verb)) == {("profile/unmatched", "$")}
    wrong_type = _replace(good, "$.object.definition.type", v.ADL_ACTIVITIES + "media")
    expected = ("profile/unmatched", "$") if isinstance(TEMPLATES[kind][2], v.Concept) \
        else (f"profile/{name}", "$.object.definition.type")
    assert expected in _rules(check(wrong_type))


@pytest.mark.parametrize("kind", list(TEMPLATES))
def test_a_wrong_context_activity_is_stopped(kind):
    name = TEMPLATES[kind][0]
    good = _sample(kind)
    old_profile = _replace(good, "$.context.contextActivities.category[*].id",
                           f"{v.PROFILE_ID}/v0.9")
    assert (f"profile/{name}", "$.context.contextActivities.category[*].id") in \
        _rules(check(old_profile))
    parent_type = _replace(good, "$.context.contextActivities.parent[*].definition.type",
                           v.OBJECTIVE.iri)
    assert (f"profile/{name}", "$.context.contextActivities.parent[*].definition.type") in \
        _rules(check(parent_type))
    single = copy.deepcopy(good)
    activities = single["context"]["contextActivities"]
    activities["parent"] = activities["parent"][0]  # an Activity, not an array of them
    assert ("context.contextActivities", "$.context.contextActivities.parent") in \
        _rules(check(single))


@pytest.mark.parametrize("kind", list(TEMPLATES))
def test_a_bad_id_timestamp_or_score_is_stopped(kind):
    good = _sample(kind)
    assert _rules(check(good | {"id": "42"})) == {("id.uuid", "$.id")}
    for stamp in ("2026-11-25T09:30:15.123", "2026-11-25T09:30:15-00:00"):
        assert _rules(check(good | {"timestamp": stamp})) == {
            ("timestamp.timezone", "$.timestamp")}
    assert _rules(check(good | {"timestamp": "2026-13-45T09:30:15Z"})) == {
        ("timestamp.format", "$.timestamp")}
    score = good.get("result", {}).get("score")
    if score is None:
        return
    too_high = copy.deepcopy(good)
    too_high["result"]["score"]["scaled"] = 1.5
    assert _rules(check(too_high)) == {("result.score.scaled", "$.result.score.scaled")}
    over_max = copy.deepcopy(good)
    over_max["result"]["score"]["raw"] = score["max"] + 1
    assert _rules(check(over_max)) == {("result.score.raw", "$.result.score.raw")}


# --- the xAPI 1.0.3 rules, cross-checked with Ralph's strict models --------------------------

def _base() -> dict[str, Any]:
    return statement_json(every_event()[4])  # an answer: result, interaction, everything


def _with(path: str, value: Any) -> dict[str, Any]:
    return _replace(_base(), path, value)


SPEC_BREAKS = {
    "two IFIs": (_with("$.actor", {"mbox": "mailto:a@b.test", "account": {
        "homePage": ISSUER, "name": "x"}}), "actor.ifi", "$.actor"),
    "no IFI": (_with("$.actor", {"objectType": "Agent", "name": "Ana"}), "actor.ifi",
               "$.actor"),
    "bad mbox": (_with("$.actor", {"mbox": "ana@college.test"}), "actor.mbox",
                 "$.actor.mbox"),
    "actor objectType": (_with("$.actor", {"objectType": "Person", "mbox": "mailto:a@b.c"}),
                         "actor.type", "$.actor"),
    "verb id not an IRI": (_with("$.verb.id", "answered"), "verb.id", "$.verb.id"),
    "verb display tag": (_with("$.verb.display", {"en US": "answered"}),
                         "language-map.tag", "$.verb.display['en US']"),
    "object objectType": (_with("$.object.objectType", "Thing"), "object.type",
                          "$.object.objectType"),
    "object id not an IRI": (_with("$.object.id", "item 7"), "activity.id", "$.object.id"),
    "interaction type": (_with("$.object.definition.interactionType", "essay"),
                         "activity.interaction", "$.object.definition.interactionType"),
    "duration": (_with("$.result.duration", "12 seconds"), "result.duration",
                 "$.result.duration"),
    "success not a boolean": (_with("$.result.success", "yes"), "result.type",
                              "$.result.success"),
    "registration": (_with("$.context.registration", "attempt-7"), "context.registration",
                     "$.context.registration"),
    "extension key": (_with("$.context.extensions", {"mode": "drill"}), "extensions.key",
                      "$.context.extensions['mode']"),
    "extra top-level property": (_base() | {"score": 1}, "property.unknown", "$.score"),
    "extra verb property": (_with("$.verb", {"id": v.ANSWERED.iri, "display": {
        "en-US": "answered"}, "label": "x"}), "property.unknown", "$.verb.label"),
    "version": (_base() | {"version": "2.0.0"}, "version", "$.version"),
}


@pytest.mark.parametrize("case", list(SPEC_BREAKS), ids=str)
def test_the_xapi_1_0_3_rules_stop_what_ralphs_models_refuse(case):
    broken, rule, path = SPEC_BREAKS[case]
    assert (rule, path) in _rules(check(broken))
    with pytest.raises(ValidationError):
        BaseXapiStatement.model_validate(broken)


def test_the_gates_stricter_shoulds():
    """What 1.0.3 recommends and the gate requires, and a MUST Ralph's models do not
    check (context.language is an RFC 5646 tag): Ralph accepts these."""
    bad_language = _with("$.context.language", "en_US")
    assert _rules(check(bad_language)) == {("context.language", "$.context.language")}
    BaseXapiStatement.model_validate(bad_language)
    no_display = _with("$.verb", {"id": v.ANSWERED.iri})
    assert ("verb.display", "$.verb.display") in _rules(check(no_display))
    BaseXapiStatement.model_validate(no_display)
    no_zone = _base() | {"timestamp": "2026-11-25T09:30:15.123"}
    assert _rules(check(no_zone)) == {("timestamp.timezone", "$.timestamp")}


def test_formats():
    for good in ("en", "en-US", "zh-Hant-TW", "sr-Latn-RS", "es-419", "de-CH-1901",
                 "x-private", "i-klingon", "en-a-bbb-x-ccc"):
        assert is_language_tag(good), good
    for bad in ("", "en_US", "e", "en-", "en-US-", "12", "toolonglang"):
        assert not is_language_tag(bad), bad
    for good in ("PT1M1.24S", "PT01M01.24S", "P1Y2M3DT4H5M6S", "P3W", "PT0S", "P1D"):
        assert is_duration(good), good
    for bad in ("P", "PT", "1S", "PT1.S", "P1H", "PTS"):
        assert not is_duration(bad), bad


# --- unmatched statements: voiding is the one exception --------------------------------------

def _voiding(**over: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "timestamp": "2026-12-04T10:00:00.000Z",
            "actor": {"objectType": "Agent",
                      "account": {"homePage": "https://cpt.college.test", "name": "cpt-lti"}},
            "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
            "object": {"objectType": "StatementRef", "id": str(uuid.uuid4())}} | over


def test_a_plain_voiding_statement_passes_on_the_1_0_3_rules_alone():
    statement = _voiding()
    BaseXapiStatement.model_validate(statement)
    assert check(statement) == []
    assert check(_voiding(actor={"mbox": "mailto:lti@cpt.college.test",
                                 "name": "CPT Practice"})) == []
    bad_ref = _voiding(object={"objectType": "StatementRef", "id": "7"})
    assert _rules(check(bad_ref)) == {("statementref.id", "$.object.id")}
    voids_an_activity = _voiding(object={"id": WRONG_IRI})
    assert _rules(check(voids_an_activity)) == {("voiding.object", "$.object")}
    no_zone = _voiding(timestamp="2026-12-04T10:00:00")
    assert _rules(check(no_zone)) == {("timestamp.timezone", "$.timestamp")}


def test_any_other_statement_no_template_describes_is_refused():
    foreign = _voiding(verb={"id": "http://adlnet.gov/expapi/verbs/shared",
                             "display": {"en-US": "shared"}}, object={"id": WRONG_IRI})
    [violation] = check(foreign)
    assert (violation.rule, violation.path) == ("profile/unmatched", "$")
    assert "shared" in violation.message


def test_not_a_statement_at_all():
    assert _rules(check([1, 2])) == {("statement.type", "$")}
    assert _rules(check({})) == {("property.required", "$.actor"),
                                 ("property.required", "$.verb"),
                                 ("property.required", "$.object"),
                                 ("profile/unmatched", "$")}


def test_violations_name_rule_path_and_why():
    broken = statement_json(ev.SessionTerminated(duration_seconds=5, **common()))
    del broken["result"]["duration"]
    [violation] = check(broken)
    assert violation == Violation("profile/session-terminated", "$.result.duration",
                                  "is required by the template and absent")
    assert str(violation) == ("profile/session-terminated at $.result.duration: is required "
                              "by the template and absent")


def test_the_suite_checks_every_statement_it_builds():
    """tests/conftest.py: a statement the gate would refuse fails the test that builds it
    (here: an issuer that is not a URL makes the LMS course's activity id no IRI)."""
    event = ev.SessionInitialized(**common(lms=ev.LmsContext("no issuer url", "d", "c", "t",
                                                             "l")))
    with pytest.raises(AssertionError, match="quality gate refuses .* activity.id"):
        statement_bytes(event)
