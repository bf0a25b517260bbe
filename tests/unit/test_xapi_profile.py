"""The published xAPI Profile documents exactly what the statements use."""

from __future__ import annotations

import json

from test_xapi_statements import every_event

from xapi import events as ev
from xapi import vocabulary as v
from xapi.profile import TEMPLATES, build_profile, load_profile, render, template_id
from xapi.statements import statement_json


def test_published_file_is_the_generated_one():
    """Regenerate with `python -m xapi.profile` after changing vocabulary.py."""
    assert load_profile() == json.loads(render())


def test_profile_shape_follows_the_profiles_spec():
    profile = build_profile()
    assert profile["@context"] == "https://w3id.org/xapi/profiles/context"
    assert profile["type"] == "Profile" and profile["id"] == v.PROFILE_ID
    assert profile["conformsTo"] == "https://w3id.org/xapi/profiles#1.0"
    assert [ver["id"] for ver in profile["versions"]] == [v.PROFILE_VERSION]
    ids = [c["id"] for c in profile["concepts"] + profile["templates"] + profile["patterns"]]
    assert len(ids) == len(set(ids))
    for thing in profile["concepts"] + profile["templates"] + profile["patterns"]:
        assert thing["inScheme"] == v.PROFILE_VERSION
        assert thing["prefLabel"]["en"] and thing["definition"]["en"]
    primary = [p for p in profile["patterns"] if p.get("primary")]
    assert [p["id"] for p in primary] == [f"{v.PROFILE_ID}/patterns/session"]
    session = primary[0]["sequence"]
    assert session[0] == template_id("SessionInitialized")
    assert session[-1] == template_id("SessionTerminated")
    declared = {p["id"] for p in profile["patterns"]} | {t["id"] for t in profile["templates"]}
    for pattern in profile["patterns"]:
        for key in ("sequence", "alternates"):
            assert set(pattern.get(key, [])) <= declared, pattern["id"]
        for key in ("optional", "zeroOrMore", "oneOrMore"):
            if key in pattern:
                assert pattern[key] in declared, pattern["id"]


def _template_kind(event: ev.Event) -> str:
    name = type(event).__name__
    if isinstance(event, ev.AttemptJudged):
        return "AttemptPassed" if event.passed else "AttemptFailed"
    return name


def test_every_iri_a_statement_uses_is_declared_and_matches_its_template():
    profile = build_profile()
    concepts = {c["id"]: c["type"] for c in profile["concepts"]}
    templates = {t["id"]: t for t in profile["templates"]}
    covered = set()
    for event in every_event():
        data = statement_json(event)
        kind = _template_kind(event)
        covered.add(kind)
        template = templates[template_id(kind)]
        assert data["verb"]["id"] == template["verb"]
        assert data["object"]["definition"]["type"] == template["objectActivityType"]
        assert concepts[data["verb"]["id"]] == "Verb"
        assert concepts[data["object"]["definition"]["type"]] == "ActivityType"
        activities = data["context"]["contextActivities"]
        for activity in sum(activities.values(), []):
            assert concepts[activity["definition"]["type"]] == "ActivityType"
        for iri in data["context"]["extensions"]:
            assert concepts[iri] == "ContextExtension"
        for iri in data.get("result", {}).get("extensions", {}):
            assert concepts[iri] == "ResultExtension"
    assert covered == set(TEMPLATES)
