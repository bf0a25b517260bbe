"""Role mapping for the role sets Canvas and Moodle really send."""

from __future__ import annotations

import pytest

from lti_tool.lti.roles import map_roles
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
    ([LIS + "membership/Instructor#TeachingAssistant"], Role.INSTRUCTOR),
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
