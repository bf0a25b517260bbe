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


def test_student_who_is_also_institution_instructor_elsewhere_is_instructor():
    """Canvas sends institution roles too; an institution instructor gets the instructor door."""
    assert map_roles([LIS + "institution/person#Instructor", LIS + "membership#Learner"]) \
        == Role.INSTRUCTOR
