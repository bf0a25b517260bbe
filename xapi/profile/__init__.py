"""The xAPI Profile (JSON-LD) documenting every statement the tool sends.

The published document is ``cpt-practice.jsonld`` beside this file (served by the tool at
``/xapi/profile``). It is generated from vocabulary.py by ``python -m xapi.profile`` and a
test checks the two agree, so the documentation cannot drift from the statements.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from xapi import vocabulary as v

PROFILE_FILE = Path(__file__).with_name("cpt-practice.jsonld")
_AUTHOR = {"type": "Organization", "name": "CPT Practice"}


def _template(name: str, verb: v.Concept, object_type: v.Concept | tuple[v.Concept, ...],
              definition: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    """One statement template. An object of one of several types (a session is about an
    assessment or a lesson) is a rule, since ``objectActivityType`` names exactly one."""
    template = {"id": f"{v.PROFILE_ID}/templates/{name}", "type": "StatementTemplate",
                "inScheme": v.PROFILE_VERSION, "prefLabel": {"en": name.replace("-", " ")},
                "definition": {"en": definition}, "verb": verb.iri}
    if isinstance(object_type, tuple):
        rules = [{"location": "$.object.definition.type", "presence": "included",
                  "any": [t.iri for t in object_type]}, *rules]
    else:
        template["objectActivityType"] = object_type.iri
    template["rules"] = rules
    return template


# The statement versions an LRS may store our statements under: the xAPI 1.0.x revisions
# (what Ralph's own model allows, ^1\.0\.[0-9]+$; 1.0.3 is the last, xAPI 2.0 is 2.0.0).
# Profile rules compare values, they have no patterns, so the revisions are listed.
LRS_VERSIONS = ("1.0.0", "1.0.1", "1.0.2", "1.0.3")

# How a reader recovers the order of one registration's statements (issue 19).
ORDER_NOTE = ("Order: read one registration's statements by timestamp, never by stored (an "
              "LRS stores and returns a batch in any order). Each statement's timestamp is "
              "when its event happened; the statements of one event (a submit's completed, "
              "verdict, progressed and terminated; a start's initialized and experienced) "
              "are 1 ms apart, in this pattern's order, the first at the event's time, so "
              "timestamps within a registration are strictly increasing.")


def _common_rules() -> list[dict[str, Any]]:
    return [
        {"location": "$.id", "presence": "included"},
        {"location": "$.timestamp", "presence": "included",
         "scopeNote": {"en": "UTC with milliseconds; carries the statement's place in its "
                             "registration (see the session pattern)."}},
        {"location": "$.version", "all": list(LRS_VERSIONS),
         "scopeNote": {"en": "The tool sends no version; an LRS sets one on storage (xAPI "
                             "1.0.3: 1.0.0 when the client sent none), so a stored statement "
                             "may carry any 1.0.x."}},
        {"location": "$.actor.account.homePage", "presence": "recommended",
         "scopeNote": {"en": "The platform's LTI issuer; the account name is the LTI sub. "
                             "mbox or mbox_sha1sum only where a college chose it."}},
        {"location": "$.context.registration", "presence": "included",
         "scopeNote": {"en": "The attempt's UUID: one session's statements share it."}},
        {"location": "$.context.contextActivities.category[*].id", "presence": "included",
         "all": [v.PROFILE_VERSION]},
        {"location": "$.context.contextActivities.category[*].definition.type",
         "presence": "included", "all": [v.PROFILE_TYPE.iri]},
        {"location": "$.context.contextActivities.grouping[*].id", "presence": "included",
         "any": [v.CPT_COURSE_ID]},
        {"location": "$.context.contextActivities.grouping[*].definition.type",
         "presence": "included", "all": [v.MODULE.iri, v.COURSE.iri],
         "scopeNote": {"en": "The module, the CPT 4.0 course and, when the launch named "
                             "one, the LMS course (issuer + /lti/context/ + context id)."}},
        {"location": f"$.context.extensions['{v.LTI_ISSUER.iri}']", "presence": "included"},
        {"location": f"$.context.extensions['{v.ATTEMPT_MODE.iri}']", "presence": "included",
         "any": list(v.ATTEMPT_MODES)},
    ]


TEMPLATES = {
    # statement kind (as the tests name it) -> (template name, verb, object type, words)
    "SessionInitialized": ("session-initialized", v.INITIALIZED, (v.ASSESSMENT, v.LESSON),
                           "An attempt starts: the first statement of its session. The "
                           "object is the assessment, or for a lesson the lesson itself."),
    "SessionTerminated": ("session-terminated", v.TERMINATED, (v.ASSESSMENT, v.LESSON),
                          "An attempt ends: the last statement, with result.duration (the "
                          "time from its start to its last activity; a drill left idle is "
                          "closed by the tool). The object is the same as initialized's."),
    "LessonExperienced": ("lesson-experienced", v.EXPERIENCED, v.LESSON,
                          "A lesson is opened."),
    "LessonCompleted": ("lesson-completed", v.COMPLETED, v.LESSON,
                        "A lesson is read and its checks answered: result.score (the checks "
                        "right, of all: what the gradebook got) and duration."),
    "ItemAnswered": ("item-answered", v.ANSWERED, v.INTERACTION,
                     "One item answered: choice interaction named by the start of its stem "
                     "(the full stem is the description, the item id ends the activity id), "
                     "with choices and correctResponsesPattern; result.response is the "
                     "chosen choice id, result.success whether it was right, "
                     "result.duration the time since the item was shown (or the attempt's "
                     "previous answer); parent is the assessment or lesson."),
    "AttemptCompleted": ("attempt-completed", v.COMPLETED, v.ASSESSMENT,
                         "A drill, practice test or mock exam is submitted: result.score "
                         "(scaled, raw, min 0, max) and duration."),
    "AttemptPassed": ("attempt-passed", v.PASSED, v.ASSESSMENT,
                      "A mock exam at or above the module's pass mark."),
    "AttemptFailed": ("attempt-failed", v.FAILED, v.ASSESSMENT,
                      "A mock exam below the module's pass mark."),
    "MasteryProgressed": ("mastery-progressed", v.PROGRESSED, v.OBJECTIVE,
                          "The mastery estimate for one key work activity after an attempt "
                          "(result extension mastery-estimate, 0 to 1)."),
}


# Every statement has a parent: an answer's is its assessment or lesson, every other
# statement's the module.
PARENT_TYPES = {kind: [v.MODULE.iri] for kind in TEMPLATES} | {
    "ItemAnswered": [v.ASSESSMENT.iri, v.LESSON.iri]}


def _parent_rule(kind: str) -> dict[str, Any]:
    return {"location": "$.context.contextActivities.parent[*].definition.type",
            "presence": "included", "all": PARENT_TYPES[kind]}


def _extra_rules(kind: str) -> list[dict[str, Any]]:
    if kind == "ItemAnswered":
        return [{"location": "$.result.response", "presence": "included"},
                {"location": "$.result.success", "presence": "included"},
                {"location": "$.result.duration", "presence": "included"},
                {"location": "$.object.definition.interactionType", "presence": "included",
                 "all": ["choice"]}]
    if kind in ("AttemptCompleted", "AttemptPassed", "AttemptFailed"):
        return [{"location": "$.result.score.scaled", "presence": "included"},
                {"location": "$.result.score.raw", "presence": "included"},
                {"location": "$.result.duration", "presence": "included"}]
    if kind == "LessonCompleted":
        return [{"location": "$.result.score.scaled", "presence": "recommended",
                 "scopeNote": {"en": "Absent only for a lesson without checks."}},
                {"location": "$.result.duration", "presence": "included"}]
    if kind == "SessionTerminated":
        return [{"location": "$.result.duration", "presence": "included"},
                {"location": "$.result.score", "presence": "excluded",
                 "scopeNote": {"en": "The score is on completed, not on the session."}}]
    if kind == "MasteryProgressed":
        return [{"location": f"$.result.extensions['{v.MASTERY.iri}']",
                 "presence": "included"},
                {"location": "$.result.score", "presence": "excluded",
                 "scopeNote": {"en": "An estimate, not a score: never averaged with "
                                     "scores."}}]
    if kind in ("SessionInitialized", "LessonExperienced"):
        return [{"location": "$.result", "presence": "excluded",
                 "scopeNote": {"en": "Nothing has a result yet."}}]
    return []


def template_id(kind: str) -> str:
    return f"{v.PROFILE_ID}/templates/{TEMPLATES[kind][0]}"


def build_profile() -> dict[str, Any]:
    # Only our own concepts: the ADL verbs and activity types are defined by the ADL and
    # SCORM profiles, and the Profiles spec (section 7.0) forbids defining them again. The
    # templates reference them, and the definition below says where they come from.
    concepts: list[dict[str, Any]] = []
    for ext in v.CONTEXT_EXTENSIONS:
        concepts.append({"id": ext.iri, "type": "ContextExtension",
                         "inScheme": v.PROFILE_VERSION, "prefLabel": {"en": ext.label},
                         "definition": {"en": ext.definition},
                         "inlineSchema": '{"type": "string"}'})
    for ext in v.RESULT_EXTENSIONS:
        concepts.append({"id": ext.iri, "type": "ResultExtension",
                         "inScheme": v.PROFILE_VERSION, "prefLabel": {"en": ext.label},
                         "definition": {"en": ext.definition},
                         "inlineSchema": '{"type": "number", "minimum": 0, "maximum": 1}'})
    templates = [_template(name, verb, kind_type, words,
                           _common_rules() + [_parent_rule(kind)] + _extra_rules(kind))
                 for kind, (name, verb, kind_type, words) in TEMPLATES.items()]
    t = template_id
    patterns = [
        {"id": f"{v.PROFILE_ID}/patterns/activity", "type": "Pattern",
         "inScheme": v.PROFILE_VERSION, "prefLabel": {"en": "activity"},
         "definition": {"en": "What happens inside an attempt: lessons opened and "
                              "completed, items answered, in any order."},
         "zeroOrMore": f"{v.PROFILE_ID}/patterns/activity-step"},
        {"id": f"{v.PROFILE_ID}/patterns/activity-step", "type": "Pattern",
         "inScheme": v.PROFILE_VERSION, "prefLabel": {"en": "activity step"},
         "definition": {"en": "One step of an attempt."},
         "alternates": [t("LessonExperienced"), t("ItemAnswered"), t("LessonCompleted")]},
        {"id": f"{v.PROFILE_ID}/patterns/verdict", "type": "Pattern",
         "inScheme": v.PROFILE_VERSION, "prefLabel": {"en": "verdict"},
         "definition": {"en": "A mock exam's pass or fail."},
         "alternates": [t("AttemptPassed"), t("AttemptFailed")]},
        {"id": f"{v.PROFILE_ID}/patterns/finish", "type": "Pattern",
         "inScheme": v.PROFILE_VERSION, "prefLabel": {"en": "finish"},
         "definition": {"en": "A submitted drill, practice test or mock exam: completed, "
                              "then for mock exams the verdict."},
         "sequence": [t("AttemptCompleted"), f"{v.PROFILE_ID}/patterns/optional-verdict"]},
        {"id": f"{v.PROFILE_ID}/patterns/optional-verdict", "type": "Pattern",
         "inScheme": v.PROFILE_VERSION, "prefLabel": {"en": "optional verdict"},
         "definition": {"en": "Only mock exams have one."},
         "optional": f"{v.PROFILE_ID}/patterns/verdict"},
        {"id": f"{v.PROFILE_ID}/patterns/progress", "type": "Pattern",
         "inScheme": v.PROFILE_VERSION, "prefLabel": {"en": "progress"},
         "definition": {"en": "Mastery estimates after the attempt (a submitted one, or a "
                              "lesson once completed): one per key activity touched."},
         "zeroOrMore": t("MasteryProgressed")},
        {"id": f"{v.PROFILE_ID}/patterns/optional-finish", "type": "Pattern",
         "inScheme": v.PROFILE_VERSION, "prefLabel": {"en": "optional finish"},
         "definition": {"en": "An attempt abandoned before submission has no finish: "
                              "a drill left idle is closed with terminated alone."},
         "optional": f"{v.PROFILE_ID}/patterns/finish"},
        {"id": f"{v.PROFILE_ID}/patterns/session", "type": "Pattern", "primary": True,
         "inScheme": v.PROFILE_VERSION, "prefLabel": {"en": "session"},
         "definition": {"en": "All statements with one registration (one attempt): "
                              "initialized first, terminated last. " + ORDER_NOTE},
         "sequence": [t("SessionInitialized"), f"{v.PROFILE_ID}/patterns/activity",
                      f"{v.PROFILE_ID}/patterns/optional-finish",
                      f"{v.PROFILE_ID}/patterns/progress", t("SessionTerminated")]},
    ]
    return {
        "@context": "https://w3id.org/xapi/profiles/context",
        "id": v.PROFILE_ID,
        "type": "Profile",
        "conformsTo": "https://w3id.org/xapi/profiles#1.0",
        "prefLabel": {"en": "CPT Practice statements"},
        "definition": {"en": "Statements sent by CPT Practice, an LTI 1.3 tool where "
                             "students prepare for the MSSC Certified Production Technician "
                             "(CPT 4.0) modules: lessons, drills, practice tests and mock "
                             "exams. Learners are named by their LMS account (platform "
                             "issuer + LTI sub) unless a college chose e-mail. Verbs and "
                             "activity types are ADL's, used as defined in the ADL "
                             f"Vocabulary ({v.ADL_PROFILE}) and SCORM ({v.SCORM_PROFILE}) "
                             "profiles and, for cmi.interaction, the xAPI specification; "
                             "the statement templates say how this tool uses each. One "
                             "attempt's statements are ordered by timestamp (strictly "
                             "increasing; see the session pattern), and an LRS may add "
                             "version 1.0.x to what the tool sends without one."},
        "author": _AUTHOR,
        "versions": [{"id": v.PROFILE_VERSION, "generatedAtTime": v.PROFILE_GENERATED,
                      "wasRevisionOf": [v.PREVIOUS_VERSIONS[0][0]]}]
                    + [{"id": version, "generatedAtTime": at}
                       for version, at in v.PREVIOUS_VERSIONS],
        "concepts": concepts,
        "templates": templates,
        "patterns": patterns,
    }


def render() -> str:
    return json.dumps(build_profile(), indent=2, ensure_ascii=False) + "\n"


@lru_cache(maxsize=1)
def load_profile() -> dict[str, Any]:
    """The published document (as served at /xapi/profile)."""
    return json.loads(PROFILE_FILE.read_text(encoding="utf-8"))


def profile_path() -> Path:
    return PROFILE_FILE
