"""Every IRI our statements use, in one place, with the words analytics teams see.

ADL verbs and activity types are reused where they exist (dashboards already know them);
the ADL Vocabulary and SCORM profiles define them, so our profile references them rather
than defining them again. Our own concepts - extensions and activity ids - live under one
product namespace, so the Safety module is the same activity at every college and
statements can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

NAMESPACE = "https://cpt-practice.org/xapi"
PROFILE_ID = f"{NAMESPACE}/profile"
# v1.1 (issue 19): one attempt's statements strictly increasing in time, version 1.0.x as an
# LRS stores it, a parent on every statement, lesson sessions named by the lesson, answers
# named by their stem with a duration. Statements name the version they follow in
# context.contextActivities.category, so an analyst can tell the two apart.
PROFILE_VERSION = f"{PROFILE_ID}/v1.1"
PROFILE_GENERATED = "2026-12-04T00:00:00Z"
PREVIOUS_VERSIONS = ((f"{PROFILE_ID}/v1.0", "2026-11-25T00:00:00Z"),)

ADL_VERBS = "http://adlnet.gov/expapi/verbs/"
ADL_ACTIVITIES = "http://adlnet.gov/expapi/activities/"
# Where the ADL IRIs we reuse are defined. The Profiles spec forbids a profile to define
# a concept another profile defines, so ours references these instead of declaring them.
ADL_PROFILE = "https://w3id.org/xapi/adl"
SCORM_PROFILE = "https://w3id.org/xapi/scorm"
XAPI_SPEC = "https://github.com/adlnet/xAPI-Spec"  # cmi.interaction: the spec's own type


@dataclass(frozen=True)
class Concept:
    iri: str
    label: str
    definition: str  # how *we* use it (templates repeat it for reused ADL concepts)
    defined_by: str | None = None  # None: this profile defines it


def _verb(name: str, definition: str, defined_by: str = SCORM_PROFILE) -> Concept:
    return Concept(ADL_VERBS + name, name, definition, defined_by)


# --- verbs -----------------------------------------------------------------------------
INITIALIZED = _verb("initialized", "The learner started an attempt (the session's first "
                    "statement).")
TERMINATED = _verb("terminated", "The attempt's session ended (its last statement), with "
                   "its duration.")
EXPERIENCED = _verb("experienced", "The learner opened a lesson to read it.", ADL_PROFILE)
ANSWERED = _verb("answered", "The learner answered one multiple-choice item.", ADL_PROFILE)
COMPLETED = _verb("completed", "The learner finished an attempt or a lesson; the result "
                  "carries the score.")
PASSED = _verb("passed", "A mock exam scored at or above the module's pass mark.")
FAILED = _verb("failed", "A mock exam scored below the module's pass mark.")
PROGRESSED = _verb("progressed", "The learner's mastery estimate for a key work activity "
                   "after an attempt.", ADL_PROFILE)
LAUNCHED = _verb("launched", "Reserved: the LMS launched the tool (not sent in v1.0).",
                 ADL_PROFILE)

VERBS = (INITIALIZED, TERMINATED, EXPERIENCED, ANSWERED, COMPLETED, PASSED, FAILED,
         PROGRESSED, LAUNCHED)


# --- activity types --------------------------------------------------------------------
def _type(name: str, definition: str, defined_by: str = SCORM_PROFILE) -> Concept:
    return Concept(ADL_ACTIVITIES + name, name, definition, defined_by)


COURSE = _type("course", "CPT 4.0 as a whole, or the LMS course the tool is placed in.")
MODULE = _type("module", "One CPT 4.0 module (Safety, Quality, Processes, Maintenance, Green).")
LESSON = _type("lesson", "A short lesson with check items.")
ASSESSMENT = _type("assessment", "A drill, practice test or mock exam attempt's activity.")
INTERACTION = _type("cmi.interaction", "One multiple-choice item.", XAPI_SPEC)
OBJECTIVE = _type("objective", "One CPT 4.0 key work activity, as something to master.")
PROFILE_TYPE = _type("profile", "The xAPI Profile a statement follows (in context category).")

ACTIVITY_TYPES = (COURSE, MODULE, LESSON, ASSESSMENT, INTERACTION, OBJECTIVE, PROFILE_TYPE)

# --- extensions --------------------------------------------------------------------------
_EXT = f"{NAMESPACE}/extensions/"
LTI_ISSUER = Concept(_EXT + "lti-issuer", "LTI platform issuer",
                     "The LMS's LTI 1.3 issuer (iss): which platform the learner came from.")
LTI_DEPLOYMENT = Concept(_EXT + "lti-deployment-id", "LTI deployment id",
                         "The LTI deployment id the launch named.")
LTI_CONTEXT = Concept(_EXT + "lti-context-id", "LTI context id",
                      "The LMS course (LTI context) id.")
LTI_RESOURCE_LINK = Concept(_EXT + "lti-resource-link-id", "LTI resource link id",
                            "The placed link (assignment) the attempt was launched from.")
KEY_ACTIVITY = Concept(_EXT + "key-activity", "CPT 4.0 key work activity",
                       "The blueprint key work activity id the statement is about.")
# The attempt-mode extension's values, as the profile publishes them. The tool's modes
# (lti_tool/practice/modes.py) must each be one of these: a new mode is also news for
# the analytics teams that filter on them (tests/unit/test_attempt_modes.py checks).
ATTEMPT_MODES = ("lesson", "drill", "practice", "mock")
ATTEMPT_MODE = Concept(_EXT + "attempt-mode", "attempt mode",
                       "lesson, drill, practice or mock.")
MASTERY = Concept(_EXT + "mastery-estimate", "mastery estimate",
                  "Estimated chance (0 to 1) that the learner answers a medium item of the "
                  "key activity correctly.")

CONTEXT_EXTENSIONS = (LTI_ISSUER, LTI_DEPLOYMENT, LTI_CONTEXT, LTI_RESOURCE_LINK, KEY_ACTIVITY,
                      ATTEMPT_MODE)
RESULT_EXTENSIONS = (MASTERY,)

# --- activity ids ----------------------------------------------------------------------
CPT_COURSE_ID = f"{NAMESPACE}/activities/course/cpt-4.0"
PLATFORM_NAME = "CPT Practice"


def module_activity_id(module_id: str) -> str:
    return f"{NAMESPACE}/activities/module/{module_id}"


def key_activity_activity_id(key_activity_id: str) -> str:
    return f"{NAMESPACE}/activities/key-activity/{key_activity_id}"


def lesson_activity_id(lesson_id: str) -> str:
    return f"{NAMESPACE}/activities/lesson/{lesson_id}"


def item_activity_id(item_id: str) -> str:
    return f"{NAMESPACE}/activities/item/{item_id}"


def assessment_activity_id(mode: str, module_id: str, key_activity_id: str | None) -> str:
    """The same drill/test of the same module is one activity everywhere; the attempt is
    told apart by the statement's ``registration``."""
    scope = key_activity_id or module_id
    return f"{NAMESPACE}/activities/assessment/{mode}/{scope}"


def lms_course_activity_id(issuer: str, context_id: str) -> str:
    """The LMS course as an activity: unique per platform without us inventing ids."""
    return f"{issuer.rstrip('/')}/lti/context/{quote(context_id, safe='')}"
