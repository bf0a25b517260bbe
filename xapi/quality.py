"""The statement quality gate's rules: is this statement fit to enter an LRS?

Two sets of rules, both applied to the statement JSON exactly as it will be sent:

1. **xAPI 1.0.3** (the spec's Part 2, "Statement Properties"): id a UUID, a timestamp
   with a time zone, an actor that is an Agent or Group with exactly one inverse
   functional identifier, a verb with an IRI id and a display language map, an object of
   a known objectType, a score inside its range, ISO 8601 durations, contextActivities
   as arrays of Activities, RFC 5646 language tags, version 1.0.x, no property the spec
   does not define. Where 1.0.3 only says SHOULD (a time zone on the timestamp, a verb
   display, contextActivities as arrays) the gate makes it a MUST: analytics teams read
   these statements and those are the properties their queries rely on.
2. **Our own profile** (profile/cpt-practice.jsonld, with the Profiles spec's
   ``validates`` from profile/check.py): a statement that matches a template's
   Determining Properties (verb, object activity type) must follow every rule of it.

Unmatched statements: every statement the tool sends in its own name is described by a
template, so one that matches none (a typo in a verb, an object of the wrong activity
type) is refused as ``profile/unmatched``. The one exception is a **voiding statement**
(verb ``http://adlnet.gov/expapi/verbs/voided``, object a StatementRef): it is plain
xAPI, defined by the spec and not by our profile, and is judged by the 1.0.3 rules alone.

Rule names are short and stable (the operator counts them in /metrics); the path says
where, the message what. Plain Python and regular expressions: no library validates
xAPI statements at run time (Ralph's pydantic models, which the tests also use, are a
development dependency of the LRS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from xapi.profile import load_profile
from xapi.profile.check import INVALID, UNMATCHED, jsonpath, validates

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


@dataclass(frozen=True)
class Violation:
    """One broken rule: ``rule`` (stable name), ``path`` (JSONPath), ``message`` (why)."""

    rule: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule} at {self.path}: {self.message}"


# --- formats -------------------------------------------------------------------------------
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
_SHA1 = re.compile(r"^[0-9a-f]{40}$", re.I)
_VERSION = re.compile(r"^1\.0(\.\d+)?$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
                        r"(?P<zone>Z|[+-]\d{2}(:?\d{2})?)?$", re.I)
_NUMBER = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(
    rf"^P(?=\d|T\d)(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
    rf"(?:T(?=\d)(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?$")
# RFC 5646 section 2.1: a well-formed language tag (langtag / privateuse / irregular).
_LANGTAG = (r"(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4}|[a-z]{5,8})"  # language [extlang]
            r"(?:-[a-z]{4})?"  # script
            r"(?:-(?:[a-z]{2}|\d{3}))?"  # region
            r"(?:-(?:[a-z\d]{5,8}|\d[a-z\d]{3}))*"  # variants
            r"(?:-[a-wyz\d](?:-[a-z\d]{2,8})+)*"  # extensions
            r"(?:-x(?:-[a-z\d]{1,8})+)?")  # private use
_LANGUAGE = re.compile(rf"^(?:{_LANGTAG}|x(?:-[a-z\d]{{1,8}})+)$", re.I)
_IRREGULAR = frozenset(t.lower() for t in (
    "en-GB-oed", "i-ami", "i-bnn", "i-default", "i-enochian", "i-hak", "i-klingon",
    "i-lux", "i-mingo", "i-navajo", "i-pwn", "i-tao", "i-tay", "i-tsu", "sgn-BE-FR",
    "sgn-BE-NL", "sgn-CH-DE"))
_INTERACTION_TYPES = frozenset((
    "true-false", "choice", "fill-in", "long-fill-in", "matching", "performance",
    "sequencing", "likert", "numeric", "other"))

_STATEMENT_KEYS = frozenset(("id", "actor", "verb", "object", "result", "context",
                             "timestamp", "stored", "authority", "version", "attachments"))
_SUBSTATEMENT_KEYS = frozenset(("objectType", "actor", "verb", "object", "result",
                                "context", "timestamp", "attachments"))
_AGENT_KEYS = frozenset(("objectType", "name", "mbox", "mbox_sha1sum", "openid", "account"))
_IFIS = ("mbox", "mbox_sha1sum", "openid", "account")
_ACTIVITY_KEYS = frozenset(("objectType", "id", "definition"))
_DEFINITION_KEYS = frozenset(("name", "description", "type", "moreInfo", "interactionType",
                              "correctResponsesPattern", "choices", "scale", "source",
                              "target", "steps", "extensions"))
_COMPONENT_LISTS = ("choices", "scale", "source", "target", "steps")
_RESULT_KEYS = frozenset(("score", "success", "completion", "response", "duration",
                          "extensions"))
_SCORE_KEYS = frozenset(("scaled", "raw", "min", "max"))
_CONTEXT_KEYS = frozenset(("registration", "instructor", "team", "contextActivities",
                           "revision", "platform", "language", "statement", "extensions"))
_CONTEXT_ACTIVITY_KEYS = frozenset(("parent", "grouping", "category", "other"))
_ATTACHMENT_KEYS = frozenset(("usageType", "display", "description", "contentType",
                              "length", "sha2", "fileUrl"))


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and bool(_UUID.match(value))


def is_iri(value: Any) -> bool:
    return isinstance(value, str) and bool(_IRI.match(value))


def is_language_tag(value: Any) -> bool:
    return isinstance(value, str) and (bool(_LANGUAGE.match(value))
                                       or value.lower() in _IRREGULAR)


def is_duration(value: Any) -> bool:
    return isinstance(value, str) and bool(_DURATION.match(value))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Rules:
    """One pass over one statement, collecting every violation (not just the first)."""

    def __init__(self) -> None:
        self.found: list[Violation] = []

    def bad(self, rule: str, path: str, message: str) -> None:
        self.found.append(Violation(rule, path, message))

    def obj(self, value: Any, path: str, allowed: frozenset[str], rule: str) -> bool:
        """A JSON object with only ``allowed`` properties (unknown ones are reported)."""
        if not isinstance(value, dict):
            self.bad(rule, path, "must be a JSON object")
            return False
        for key in value:
            if key not in allowed:
                self.bad("property.unknown", f"{path}.{key}",
                         "is not a property xAPI 1.0.3 defines here")
        return True

    def language_map(self, value: Any, path: str) -> None:
        if not isinstance(value, dict) or not value:
            self.bad("language-map", path, "must be a non-empty language map")
            return
        for tag, text in value.items():
            if not is_language_tag(tag):
                self.bad("language-map.tag", f"{path}['{tag}']",
                         "is not an RFC 5646 language tag")
            if not isinstance(text, str):
                self.bad("language-map", f"{path}['{tag}']", "must be a string")

    def extensions(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.bad("extensions", path, "must be a JSON object")
            return
        for key in value:
            if not is_iri(key):
                self.bad("extensions.key", f"{path}['{key}']", "an extension key is an IRI")

    # -- the statement ----------------------------------------------------------------------
    def statement(self, s: Any) -> None:
        if not self.obj(s, "$", _STATEMENT_KEYS, "statement.type"):
            return
        if "id" in s and not is_uuid(s["id"]):
            self.bad("id.uuid", "$.id", f"{s['id']!r} is not a UUID")
        self.body(s, "$")
        if "stored" in s:
            self.timestamp(s["stored"], "$.stored", "stored")
        if "authority" in s:
            self.agent(s["authority"], "$.authority", "authority")
        if "version" in s and not (isinstance(s["version"], str)
                                   and _VERSION.match(s["version"])):
            self.bad("version", "$.version", f"{s['version']!r} is not xAPI 1.0.x")

    def body(self, s: dict[str, Any], path: str) -> None:
        """What a statement and a SubStatement share."""
        for key in ("actor", "verb", "object"):
            if key not in s:
                self.bad("property.required", f"{path}.{key}", f"a statement needs {key}")
        if "actor" in s:
            self.agent(s["actor"], f"{path}.actor", "actor")
        if "verb" in s:
            self.verb(s["verb"], f"{path}.verb")
        if "object" in s:
            self.object(s["object"], f"{path}.object", sub=path != "$")
        if "timestamp" in s:
            self.timestamp(s["timestamp"], f"{path}.timestamp", "timestamp")
        if "result" in s:
            self.result(s["result"], f"{path}.result")
        if "context" in s:
            self.context(s["context"], f"{path}.context", s.get("object"))
        if "attachments" in s:
            self.attachments(s["attachments"], f"{path}.attachments")
        verb = s.get("verb")
        if isinstance(verb, dict) and verb.get("id") == VOIDED:
            target = s.get("object")
            if not (isinstance(target, dict) and target.get("objectType") == "StatementRef"):
                self.bad("voiding.object", f"{path}.object",
                         "a voiding statement's object is a StatementRef")

    def timestamp(self, value: Any, path: str, rule: str) -> None:
        match = _TIMESTAMP.match(value) if isinstance(value, str) else None
        if match is None:
            self.bad(f"{rule}.format", path, f"{value!r} is not an ISO 8601 timestamp")
            return
        zone = match.group("zone")
        if zone is None or zone in ("-00", "-0000", "-00:00"):
            self.bad(f"{rule}.timezone", path, f"{value!r} has no time zone (use Z or "
                     "an offset; -00:00 is not allowed)")
            return
        try:
            datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError:
            self.bad(f"{rule}.format", path, f"{value!r} is not a valid date and time")

    def agent(self, value: Any, path: str, rule: str, group_ok: bool = True) -> None:
        """An Agent, or (where allowed) a Group of Agents; exactly one IFI, or for an
        anonymous Group none and a member list."""
        kind = value.get("objectType", "Agent") if isinstance(value, dict) else None
        if kind not in ("Agent", "Group") or (kind == "Group" and not group_ok):
            self.bad(f"{rule}.type", path, "must be an Agent" + (" or a Group" if group_ok
                                                                 else ""))
            return
        allowed = _AGENT_KEYS | ({"member"} if kind == "Group" else set())
        self.obj(value, path, frozenset(allowed), f"{rule}.type")
        ifis = [k for k in _IFIS if k in value]
        anonymous_group = kind == "Group" and not ifis
        if len(ifis) != 1 and not anonymous_group:
            self.bad(f"{rule}.ifi", path, f"{kind} needs exactly one of mbox, mbox_sha1sum, "
                     f"openid, account (has {len(ifis)})")
        if "name" in value and not isinstance(value["name"], str):
            self.bad(f"{rule}.name", f"{path}.name", "must be a string")
        if "mbox" in value and not (isinstance(value["mbox"], str)
                                    and value["mbox"].startswith("mailto:")
                                    and "@" in value["mbox"] and is_iri(value["mbox"])):
            self.bad(f"{rule}.mbox", f"{path}.mbox", "must be a mailto: IRI")
        if "mbox_sha1sum" in value and not (isinstance(value["mbox_sha1sum"], str)
                                            and _SHA1.match(value["mbox_sha1sum"])):
            self.bad(f"{rule}.mbox_sha1sum", f"{path}.mbox_sha1sum",
                     "must be a SHA1 hex digest")
        if "openid" in value and not is_iri(value["openid"]):
            self.bad(f"{rule}.openid", f"{path}.openid", "must be a URI")
        if "account" in value:
            account = value["account"]
            if self.obj(account, f"{path}.account", frozenset(("homePage", "name")),
                        f"{rule}.account"):
                if not is_iri(account.get("homePage")):
                    self.bad(f"{rule}.account", f"{path}.account.homePage",
                             "an account needs a homePage IRL")
                if not isinstance(account.get("name"), str) or not account.get("name"):
                    self.bad(f"{rule}.account", f"{path}.account.name",
                             "an account needs a name")
        if kind == "Group":
            members = value.get("member")
            if anonymous_group and not (isinstance(members, list) and members):
                self.bad(f"{rule}.member", f"{path}.member",
                         "an anonymous Group lists its members")
            if members is not None:
                if not isinstance(members, list):
                    self.bad(f"{rule}.member", f"{path}.member", "must be an array")
                else:
                    for n, member in enumerate(members):
                        self.agent(member, f"{path}.member[{n}]", rule, group_ok=False)

    def verb(self, value: Any, path: str) -> None:
        if not self.obj(value, path, frozenset(("id", "display")), "verb.type"):
            return
        if not is_iri(value.get("id")):
            self.bad("verb.id", f"{path}.id", f"{value.get('id')!r} is not an IRI")
        if "display" not in value:
            self.bad("verb.display", f"{path}.display",
                     "a verb carries a display language map")
        else:
            self.language_map(value["display"], f"{path}.display")

    def object(self, value: Any, path: str, sub: bool) -> None:
        kind = value.get("objectType", "Activity") if isinstance(value, dict) else None
        if kind == "Activity":
            self.activity(value, path)
        elif kind in ("Agent", "Group"):
            self.agent(value, path, "object")
        elif kind == "StatementRef":
            if self.obj(value, path, frozenset(("objectType", "id")), "object.type") and \
                    not is_uuid(value.get("id")):
                self.bad("statementref.id", f"{path}.id", "a StatementRef's id is a UUID")
        elif kind == "SubStatement" and not sub:
            if self.obj(value, path, _SUBSTATEMENT_KEYS, "object.type"):
                self.body(value, path)
        else:
            self.bad("object.type", f"{path}.objectType",
                     f"{kind!r} is not an objectType a statement's object may have")

    def activity(self, value: Any, path: str) -> None:
        if not self.obj(value, path, _ACTIVITY_KEYS, "activity.type"):
            return
        if not is_iri(value.get("id")):
            self.bad("activity.id", f"{path}.id", f"{value.get('id')!r} is not an IRI")
        if "definition" not in value:
            return
        d, at = value["definition"], f"{path}.definition"
        if not self.obj(d, at, _DEFINITION_KEYS, "activity.definition"):
            return
        for key in ("name", "description"):
            if key in d:
                self.language_map(d[key], f"{at}.{key}")
        for key in ("type", "moreInfo"):
            if key in d and not is_iri(d[key]):
                self.bad("activity.definition", f"{at}.{key}", "must be an IRI")
        if "interactionType" in d and d["interactionType"] not in _INTERACTION_TYPES:
            self.bad("activity.interaction", f"{at}.interactionType",
                     f"{d['interactionType']!r} is not an xAPI interaction type")
        pattern = d.get("correctResponsesPattern")
        if pattern is not None and not (isinstance(pattern, list)
                                        and all(isinstance(p, str) for p in pattern)):
            self.bad("activity.interaction", f"{at}.correctResponsesPattern",
                     "must be an array of strings")
        for key in _COMPONENT_LISTS:
            if key not in d:
                continue
            if not isinstance(d[key], list):
                self.bad("activity.interaction", f"{at}.{key}", "must be an array")
                continue
            for n, component in enumerate(d[key]):
                where = f"{at}.{key}[{n}]"
                if self.obj(component, where, frozenset(("id", "description")),
                            "activity.interaction"):
                    if not isinstance(component.get("id"), str):
                        self.bad("activity.interaction", f"{where}.id", "must be a string")
                    if "description" in component:
                        self.language_map(component["description"], f"{where}.description")
        if "extensions" in d:
            self.extensions(d["extensions"], f"{at}.extensions")

    def result(self, value: Any, path: str) -> None:
        if not self.obj(value, path, _RESULT_KEYS, "result.type"):
            return
        for key in ("success", "completion"):
            if key in value and not isinstance(value[key], bool):
                self.bad("result.type", f"{path}.{key}", "must be true or false")
        if "response" in value and not isinstance(value["response"], str):
            self.bad("result.type", f"{path}.response", "must be a string")
        if "duration" in value and not is_duration(value["duration"]):
            self.bad("result.duration", f"{path}.duration",
                     f"{value['duration']!r} is not an ISO 8601 duration")
        if "extensions" in value:
            self.extensions(value["extensions"], f"{path}.extensions")
        if "score" in value:
            self.score(value["score"], f"{path}.score")

    def score(self, value: Any, path: str) -> None:
        if not self.obj(value, path, _SCORE_KEYS, "result.score"):
            return
        for key in _SCORE_KEYS:
            if key in value and not _number(value[key]):
                self.bad("result.score", f"{path}.{key}", "must be a number")
                return
        scaled, raw = value.get("scaled"), value.get("raw")
        low, high = value.get("min"), value.get("max")
        if scaled is not None and not -1 <= scaled <= 1:
            self.bad("result.score.scaled", f"{path}.scaled", f"{scaled} is outside -1..1")
        if low is not None and high is not None and not low < high:
            self.bad("result.score.range", path, f"min {low} is not below max {high}")
        if raw is not None and ((low is not None and raw < low)
                                or (high is not None and raw > high)):
            self.bad("result.score.raw", f"{path}.raw",
                     f"{raw} is outside min {low} .. max {high}")

    def context(self, value: Any, path: str, target: Any) -> None:
        if not self.obj(value, path, _CONTEXT_KEYS, "context.type"):
            return
        if "registration" in value and not is_uuid(value["registration"]):
            self.bad("context.registration", f"{path}.registration", "must be a UUID")
        if "instructor" in value:
            self.agent(value["instructor"], f"{path}.instructor", "context.instructor")
        if "team" in value:
            team = value["team"]
            if not isinstance(team, dict) or team.get("objectType") != "Group":
                self.bad("context.team", f"{path}.team", "must be a Group")
            else:
                self.agent(team, f"{path}.team", "context.team")
        activity_object = isinstance(target, dict) and \
            target.get("objectType", "Activity") == "Activity"
        for key in ("revision", "platform"):
            if key not in value:
                continue
            if not isinstance(value[key], str):
                self.bad("context.type", f"{path}.{key}", "must be a string")
            if not activity_object:
                self.bad(f"context.{key}", f"{path}.{key}",
                         "only a statement about an Activity may have one")
        if "language" in value and not is_language_tag(value["language"]):
            self.bad("context.language", f"{path}.language",
                     f"{value['language']!r} is not an RFC 5646 language tag")
        if "statement" in value:
            ref = value["statement"]
            if not (isinstance(ref, dict) and ref.get("objectType") == "StatementRef"
                    and set(ref) <= {"objectType", "id"} and is_uuid(ref.get("id"))):
                self.bad("context.statement", f"{path}.statement",
                         "must be a StatementRef with a UUID id")
        if "extensions" in value:
            self.extensions(value["extensions"], f"{path}.extensions")
        if "contextActivities" in value:
            at = f"{path}.contextActivities"
            groups = value["contextActivities"]
            if not self.obj(groups, at, _CONTEXT_ACTIVITY_KEYS, "context.contextActivities"):
                return
            for key, activities in groups.items():
                if key not in _CONTEXT_ACTIVITY_KEYS:
                    continue
                if not isinstance(activities, list):
                    self.bad("context.contextActivities", f"{at}.{key}",
                             "must be an array of Activities")
                    continue
                for n, activity in enumerate(activities):
                    where = f"{at}.{key}[{n}]"
                    if isinstance(activity, dict) and \
                            activity.get("objectType", "Activity") != "Activity":
                        self.bad("context.contextActivities", f"{where}.objectType",
                                 "must be an Activity")
                    else:
                        self.activity(activity, where)

    def attachments(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.bad("attachments", path, "must be an array")
            return
        for n, item in enumerate(value):
            where = f"{path}[{n}]"
            if not self.obj(item, where, _ATTACHMENT_KEYS, "attachments"):
                continue
            for key in ("usageType", "display", "contentType", "length", "sha2"):
                if key not in item:
                    self.bad("attachments", f"{where}.{key}", "is required")
            if "usageType" in item and not is_iri(item["usageType"]):
                self.bad("attachments", f"{where}.usageType", "must be an IRI")
            for key in ("display", "description"):
                if key in item:
                    self.language_map(item[key], f"{where}.{key}")
            if "length" in item and not (isinstance(item["length"], int)
                                         and not isinstance(item["length"], bool)):
                self.bad("attachments", f"{where}.length", "must be an integer")


def spec_violations(statement: Any) -> list[Violation]:
    """The xAPI 1.0.3 rules (and the gate's stricter SHOULDs, see the module docstring)."""
    rules = _Rules()
    rules.statement(statement)
    return rules.found


def is_voiding(statement: Any) -> bool:
    """A voiding statement: the spec's ``voided`` verb (the one statement the profile
    does not describe and the gate still lets through)."""
    return isinstance(statement, dict) and jsonpath(statement, "$.verb.id") == [VOIDED]


def _template_rules(profile: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(template id, location) -> its rules; built only for a statement that broke one."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for template in profile["templates"]:
        for rule in template.get("rules", []):
            out.setdefault((template["id"], rule["location"]), []).append(rule)
    return out


def _short(template_id: str) -> str:
    return template_id.rstrip("/").rsplit("/", 1)[-1]


def _explain(statement: dict[str, Any], rules: list[dict[str, Any]]) -> str:
    rule = rules[0]
    values = jsonpath(statement, rule["location"])
    presence = rule.get("presence")
    if presence == "included" and not values:
        return "is required by the template and absent"
    if presence == "excluded" and values:
        return "must be absent in this template"
    for key, words in (("any", "one of"), ("all", "all of"), ("none", "none of")):
        if key in rule:
            return f"has {values!r}; the template wants {words} {rule[key]!r}"
    return "breaks the template's rule"


def profile_violations(statement: Any, profile: dict[str, Any] | None = None
                       ) -> list[Violation]:
    """The profile's templates, with the Profiles spec's ``validates``."""
    if not isinstance(statement, dict):
        return []  # spec_violations already says so
    profile = profile if profile is not None else load_profile()
    result = validates(statement, profile)
    if result.outcome == UNMATCHED:
        if is_voiding(statement):
            return []
        verb = jsonpath(statement, "$.verb.id")
        kind = jsonpath(statement, "$.object.definition.type")
        return [Violation("profile/unmatched", "$", "no statement template of the profile "
                          f"describes verb {verb[0] if verb else None!r} with object type "
                          f"{kind[0] if kind else None!r}")]
    if result.outcome != INVALID:
        return []
    index = _template_rules(profile)
    found = []
    for broken in result.broken:
        template, location = broken.split(": ", 1)
        rules = index.get((template, location), [{"location": location}])
        found.append(Violation(f"profile/{_short(template)}", location,
                               _explain(statement, rules)))
    return found


def check(statement: Any, profile: dict[str, Any] | None = None) -> list[Violation]:
    """Every violation of ``statement`` (a dict, as it will be sent): the xAPI 1.0.3 rules
    first, then the profile's templates. Empty: the statement may enter an LRS."""
    return spec_violations(statement) + profile_violations(statement, profile)
