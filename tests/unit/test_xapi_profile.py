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
    # Newest first; each revision names the one it revises (issue 19 made v1.1).
    versions = profile["versions"]
    assert versions[0]["id"] == v.PROFILE_VERSION
    assert [ver["id"] for ver in versions[1:]] == [old for old, _ in v.PREVIOUS_VERSIONS]
    assert versions[0]["wasRevisionOf"] == [versions[1]["id"]]
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


def test_patterns_follow_the_profiles_spec_authoring_rules():
    """Section 9: exactly one combinator; alternates and sequences of two or more; no
    optional or zeroOrMore directly inside alternates; no pattern inside itself."""
    patterns = {p["id"]: p for p in build_profile()["patterns"]}
    combinators = ("alternates", "optional", "oneOrMore", "sequence", "zeroOrMore")

    def members(pattern: dict) -> list[str]:
        value = next(pattern[k] for k in combinators if k in pattern)
        return value if isinstance(value, list) else [value]

    for pattern in patterns.values():
        assert sum(k in pattern for k in combinators) == 1, pattern["id"]
        for key in ("alternates", "sequence"):
            assert len(pattern.get(key, [None, None])) >= 2, pattern["id"]
        for member in pattern.get("alternates", []):
            inner = patterns.get(member, {})
            assert "optional" not in inner and "zeroOrMore" not in inner, member

    def reaches(start: str, target: str, seen: frozenset = frozenset()) -> bool:
        for member in members(patterns[start]):
            if member == target or (member in patterns and member not in seen
                                    and reaches(member, target, seen | {member})):
                return True
        return False

    for pid in patterns:
        assert not reaches(pid, pid), f"{pid} contains itself"


def _template_kind(event: ev.Event) -> str:
    name = type(event).__name__
    if isinstance(event, ev.AttemptJudged):
        return "AttemptPassed" if event.passed else "AttemptFailed"
    return name


def test_the_profile_defines_only_its_own_concepts():
    """Profiles spec 7.0: a profile MUST NOT define a concept another profile defines. The
    ADL verbs and activity types are the ADL Vocabulary's and SCORM profile's."""
    profile = build_profile()
    assert profile["concepts"], "our extensions are ours to define"
    for concept in profile["concepts"]:
        assert concept["id"].startswith(v.NAMESPACE + "/"), concept["id"]
    assert v.ADL_PROFILE in profile["definition"]["en"]
    assert v.SCORM_PROFILE in profile["definition"]["en"]


def _type_rule(template: dict, where: str) -> dict | None:
    location = f"$.context.contextActivities.{where}[*].definition.type"
    return next((r for r in template["rules"] if r["location"] == location), None)


def test_every_iri_a_statement_uses_is_declared_and_matches_its_template():
    profile = build_profile()
    concepts = {c["id"]: c["type"] for c in profile["concepts"]}
    templates = {t["id"]: t for t in profile["templates"]}
    reused = {c.iri: c for c in v.VERBS + v.ACTIVITY_TYPES}
    covered = set()
    for event in every_event():
        data = statement_json(event)
        kind = _template_kind(event)
        covered.add(kind)
        template = templates[template_id(kind)]
        assert data["verb"]["id"] == template["verb"]
        object_types = ([template["objectActivityType"]] if "objectActivityType" in template
                        else next(r["any"] for r in template["rules"]
                                  if r["location"] == "$.object.definition.type"))
        assert data["object"]["definition"]["type"] in object_types
        for iri in (template["verb"], *object_types):
            assert reused[iri].defined_by, f"{iri}: say which profile defines it"
        activities = data["context"]["contextActivities"]
        for where, members in activities.items():
            rule = _type_rule(template, where)
            assert rule is not None, f"{kind}: no rule for {where} activity types"
            for activity in members:
                assert activity["definition"]["type"] in rule["all"], (kind, where)
                assert reused[activity["definition"]["type"]].defined_by
        if "parent" not in activities:
            assert {"location": "$.context.contextActivities.parent",
                    "presence": "excluded"} in template["rules"], kind
        for iri in data["context"]["extensions"]:
            assert concepts[iri] == "ContextExtension"
        for iri in data.get("result", {}).get("extensions", {}):
            assert concepts[iri] == "ResultExtension"
    assert covered == set(TEMPLATES)
