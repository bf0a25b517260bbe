"""Role mapping for the role sets Canvas and Moodle really send."""

from __future__ import annotations

import pytest

from lti_tool.lti.roles import map_roles, staff_role_name
from lti_tool.models import Role
from lti_tool.sandbox.platforms import CANVAS, MOODLE

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"


@pytest.mark.parametrize(("roles", "expected"), [
    # Canvas
    (CANVAS.roles["learner"], Role.LEARNER),
    (CANVAS.roles["instructor"], Role.INSTRUCTOR),
    (CANVAS.roles["ta"], Role.INSTRUCTOR),
    (CANVAS.roles["admin"], Role.ADMIN),
    ([LIS + "membership#ContentDeveloper", LIS + "system/person#User"], Role.INSTRUCTOR),
    ([LIS + "membership#Mentor", LIS + "system/person#User"], Role.LEARNER),  # observer
    # A bare sub-role (Open edX's discussion moderator) is not staff by default: issue 19
    ([LIS + "membership/Instructor#TeachingAssistant"], Role.LEARNER),
    # Moodle
    (MOODLE.roles["learner"], Role.LEARNER),
    (MOODLE.roles["instructor"], Role.INSTRUCTOR),
    (MOODLE.roles["admin"], Role.ADMIN),
    # LTI 1.3 also allows the deprecated short context role names
    (["Instructor"], Role.INSTRUCTOR),
    (["Learner"], Role.LEARNER),
    # Nothing, or roles we do not know: the least privileged door
    ([], Role.LEARNER),
    (["http://purl.imsglobal.org/vocab/lis/v2/membership#Guest"], Role.LEARNER),
    (["urn:lti:role:ims/lis/Instructor#made-up"], Role.LEARNER),
])
def test_role_mapping(roles, expected):
    assert map_roles(roles) == expected


def test_student_who_teaches_another_course_is_a_student_here():
    """Canvas sends institution roles too: teaching elsewhere in the school gives no rights
    over this course's classmates; the course's own role decides."""
    assert map_roles([LIS + "institution/person#Instructor", LIS + "membership#Learner",
                      LIS + "system/person#User"]) == Role.LEARNER
    assert map_roles([LIS + "institution/person#Faculty", "Learner"]) == Role.LEARNER
    assert map_roles([LIS + "institution/person#Instructor", LIS + "membership#Mentor"]) \
        == Role.LEARNER


def test_institution_instructor_without_any_course_role_is_an_instructor():
    """Some LMSs send only institution roles (no context membership): then it decides."""
    assert map_roles([LIS + "institution/person#Instructor", LIS + "system/person#User"]) \
        == Role.INSTRUCTOR


MODERATOR = [LIS + "membership/Instructor#TeachingAssistant"]  # Open edX, nothing else


def test_a_bare_sub_role_is_staff_only_where_the_platform_says_so():
    assert map_roles(MODERATOR) == Role.LEARNER
    assert map_roles(MODERATOR, {"Instructor#Grader"}) == Role.LEARNER
    assert map_roles(MODERATOR, {"Instructor#TeachingAssistant"}) == Role.INSTRUCTOR
    # The setting never demotes: a Canvas TA (Instructor + the sub-role) stays staff.
    assert map_roles(CANVAS.roles["ta"], set()) == Role.INSTRUCTOR
    # Nor promotes a learner who also holds a sub-role the platform does not list.
    assert map_roles([LIS + "membership#Learner", LIS + "membership/Learner#NonCreditLearner"],
                     {"Instructor#TeachingAssistant"}) == Role.LEARNER


def test_staff_role_names_are_checked_and_kept_short():
    assert staff_role_name(" Instructor#TeachingAssistant ") == "Instructor#TeachingAssistant"
    assert staff_role_name(MODERATOR[0]) == "Instructor#TeachingAssistant"
    for bad in ("Learner#Member", "TeachingAssistant", "Instructor#", "Instructor#a b",
                "http://example.test/membership/Instructor#TA", "Instructor#TA<script>"):
        with pytest.raises(ValueError, match="sub-role like Instructor#TeachingAssistant"):
            staff_role_name(bad)
