"""Check statements against an xAPI Profile, as the Profiles spec's processor does.

The two algorithms of the spec's part three (xapi-profiles-communication.md, 2.1 and
2.2): ``validates`` (a statement against the Statement Templates) and ``follows`` (one
registration's statements against the Patterns). Written here because no maintained
Python processor exists; it covers what our profile uses - Determining Properties verb
and objectActivityType, rules without ``selector``, and JSONPath locations made of
``.name``, ``['name']`` and ``[*]`` - and refuses anything else rather than pass it.

Tests run it on statements as an LRS returns them (tests/integration/test_xapi_order.py):
that is what analysts check, not what we meant to send.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

SUCCESS, INVALID, UNMATCHED = "success", "invalid", "unmatched"
PARTIAL, FAILURE = "partial", "failure"

_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\['([^']*)'\]|\[\*\]")


@lru_cache(maxsize=512)
def _steps(path: str) -> tuple[str | None, ...]:
    """A path's steps (a name, or None for ``[*]``), parsed once: the quality gate reads
    the same few dozen locations on every statement."""
    if not path.startswith("$"):
        raise ValueError(f"not a JSONPath: {path!r}")
    steps: list[str | None] = []
    at = 1
    while at < len(path):
        step = _STEP.match(path, at)
        if step is None:
            raise ValueError(f"unsupported JSONPath {path!r} at {path[at:]!r}")
        at = step.end()
        steps.append(step.group(1) if step.group(1) is not None else step.group(2))
    return tuple(steps)


def jsonpath(document: Any, path: str) -> list[Any]:
    """The values at ``path`` (``$`` then ``.name``, ``['name']``, ``[*]``), or []."""
    nodes = [document]
    for name in _steps(path):
        if name is not None:
            nodes = [n[name] for n in nodes if isinstance(n, dict) and name in n]
        else:
            nodes = [v for n in nodes if isinstance(n, list | dict)
                     for v in (n if isinstance(n, list) else n.values())]
    return nodes


def follows_rule(statement: dict[str, Any], rule: dict[str, Any]) -> bool:
    """The spec's ``follows_rule`` (2.1), without selectors (our profile has none)."""
    if "selector" in rule:
        raise ValueError("rules with a selector are not supported")
    values = jsonpath(statement, rule["location"])
    strict = True
    presence = rule.get("presence")
    if presence == "included" and not values:
        return False
    if presence == "excluded" and values:
        return False
    if presence == "recommended":
        strict = False
    if "any" in rule and (strict or values) and not any(v in rule["any"] for v in values):
        return False
    if "all" in rule and (strict or values) and not all(v in rule["all"] for v in values):
        return False
    return not ("none" in rule and (strict or values)
                and any(v in rule["none"] for v in values))


def _matches_determining_properties(statement: dict[str, Any],
                                    template: dict[str, Any]) -> bool:
    for key in template:
        if key not in ("id", "type", "inScheme", "prefLabel", "definition", "deprecated",
                       "rules", "verb", "objectActivityType"):
            raise ValueError(f"determining property {key} is not supported")
    if "verb" in template and jsonpath(statement, "$.verb.id") != [template["verb"]]:
        return False
    return "objectActivityType" not in template or jsonpath(
        statement, "$.object.definition.type") == [template["objectActivityType"]]


@dataclass(frozen=True)
class Validation:
    outcome: str  # success | invalid | unmatched
    templates: tuple[str, ...] = ()  # matched (success) or failing (invalid) template ids
    broken: tuple[str, ...] = field(default=())  # "template: location" of failed rules


def validates(statement: dict[str, Any], profile: dict[str, Any]) -> Validation:
    """The spec's ``validates`` (2.1) against every template of ``profile``."""
    matching, failing, broken = [], [], []
    for template in profile["templates"]:
        if not _matches_determining_properties(statement, template):
            continue
        bad = [r["location"] for r in template.get("rules", [])
               if not follows_rule(statement, r)]
        if bad:
            failing.append(template["id"])
            broken += [f"{template['id']}: {location}" for location in bad]
        else:
            matching.append(template["id"])
    if failing:
        return Validation(INVALID, tuple(failing), tuple(broken))
    return Validation(SUCCESS, tuple(matching)) if matching else Validation(UNMATCHED)


def _instant(statement: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(statement["timestamp"].replace("Z", "+00:00"))


def in_timestamp_order(statements: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Statements in the order the Profiles spec reads a pattern from them (2.2: by
    timestamp; never by the LRS's ``stored``)."""
    return sorted(statements, key=_instant)


class _Patterns:
    def __init__(self, profile: dict[str, Any]) -> None:
        self.patterns = {p["id"]: p for p in profile.get("patterns", [])}
        self.templates = {t["id"] for t in profile["templates"]}

    def matches(self, statements: Sequence[frozenset[str]], element: str
                ) -> tuple[str, Sequence[frozenset[str]]]:
        """The spec's ``matches`` (2.2); a statement is the set of templates it matched."""
        if element in self.templates:
            if not statements:
                return PARTIAL, []
            return (SUCCESS, statements[1:]) if element in statements[0] else \
                (FAILURE, statements)
        pattern = self.patterns[element]
        if "sequence" in pattern:
            rest = statements
            for member in pattern["sequence"]:
                outcome, rest = self.matches(rest, member)
                if outcome == FAILURE:
                    return FAILURE, statements
                if outcome == PARTIAL:
                    return PARTIAL, []
            return SUCCESS, rest
        if "alternates" in pattern:
            best, rest = FAILURE, statements
            for member in pattern["alternates"]:
                outcome, left = self.matches(statements, member)
                if outcome == SUCCESS:
                    if best != SUCCESS or len(left) < len(rest):
                        rest = left
                    best = SUCCESS
                elif outcome == PARTIAL and best == FAILURE:
                    best = PARTIAL
            return (PARTIAL, []) if best == PARTIAL else (best, rest)
        if "oneOrMore" in pattern:
            best, last = FAILURE, statements
            while True:
                outcome, rest = self.matches(last, pattern["oneOrMore"])
                if outcome == SUCCESS:
                    best = SUCCESS
                elif best == FAILURE and outcome == PARTIAL:
                    return PARTIAL, []
                else:
                    if outcome == PARTIAL and last:
                        return PARTIAL, last
                    return best, last
                if len(rest) == len(last):
                    return SUCCESS, rest
                last = rest
        if "zeroOrMore" in pattern:
            last = statements
            while True:
                outcome, rest = self.matches(last, pattern["zeroOrMore"])
                if outcome == FAILURE:
                    return SUCCESS, last
                if outcome == PARTIAL and rest:
                    return PARTIAL, rest
                if len(rest) == len(last):
                    return SUCCESS, rest
                last = rest
        if "optional" in pattern:
            if not statements:
                return SUCCESS, []
            outcome, rest = self.matches(statements, pattern["optional"])
            return (outcome, rest) if outcome in (SUCCESS, PARTIAL) else (SUCCESS, statements)
        raise ValueError(f"pattern {element} has no combinator")


def follows(statements: Iterable[dict[str, Any]], profile: dict[str, Any]) -> bool:
    """The spec's ``follows`` (2.2): one registration's statements, read in timestamp
    order, each valid against its templates and together matching a primary pattern."""
    matched = []
    for statement in in_timestamp_order(statements):
        result = validates(statement, profile)
        if result.outcome != SUCCESS:
            return False
        matched.append(frozenset(result.templates))
    patterns = _Patterns(profile)
    for pattern in patterns.patterns.values():
        if pattern.get("primary"):
            outcome, rest = patterns.matches(matched, pattern["id"])
            if outcome == SUCCESS and not rest:
                return True
    return False
