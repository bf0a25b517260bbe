"""LTI role URIs -> our three doors. Per-LMS role quirks live here and nowhere else.

Canvas sends context roles (``membership#Learner``) plus institution and system roles
(``institution/person#Student``, ``system/person#User``); Moodle sends ``membership#Learner`` or
``membership#Instructor`` and, for site admins, ``institution/person#Administrator`` and
``system/person#Administrator``. LTI 1.3 also allows the deprecated short names
(``Instructor``) and sub-roles (``membership/Instructor#TeachingAssistant``).
"""

from __future__ import annotations

from collections.abc import Iterable

from lti_tool.models import Role

_LIS = "http://purl.imsglobal.org/vocab/lis/v2/"

# Administrators of the whole LMS (Moodle site admins, Canvas account admins) and of the
# course: the LMS trusts them with every course, so do we (inside the launched course).
ADMIN_ROLES = {
    _LIS + "system/person#Administrator",
    _LIS + "system/person#SysAdmin",
    _LIS + "institution/person#Administrator",
    _LIS + "membership#Administrator",
    "Administrator",
}
# Roles held in *this* course (context roles, and the deprecated short names of them).
CONTEXT_INSTRUCTOR_ROLES = {
    _LIS + "membership#Instructor",
    _LIS + "membership#ContentDeveloper",
    "Instructor",
    "ContentDeveloper",
}
# Sub-roles such as membership/Instructor#TeachingAssistant belong to their parent role.
INSTRUCTOR_PREFIXES = (_LIS + "membership/Instructor#",)
CONTEXT_PREFIXES = (_LIS + "membership#", _LIS + "membership/")
SHORT_CONTEXT_ROLES = {"Learner", "Instructor", "ContentDeveloper", "Mentor", "Member",
                       "Manager", "Officer", "TeachingAssistant"}
# Teaching somewhere in the school: says nothing about this course.
INSTITUTION_INSTRUCTOR_ROLES = {
    _LIS + "institution/person#Instructor",
    _LIS + "institution/person#Faculty",
}
INSTRUCTOR_ROLES = CONTEXT_INSTRUCTOR_ROLES | INSTITUTION_INSTRUCTOR_ROLES


def _is_context_role(role: str) -> bool:
    return role.startswith(CONTEXT_PREFIXES) or role in SHORT_CONTEXT_ROLES


def map_roles(lti_roles: Iterable[str]) -> Role:
    """Pick the door the roles open in the launched course.

    The course's own (context) roles decide: Canvas adds ``institution/person#Instructor``
    for anyone who teaches anywhere in the school, so a student here who teaches another
    course must stay a student here (else they would see classmates' grades). Institution
    instructor roles count only when the LMS sends no context role at all. LMS
    administrators get the admin door.

    Anything else - Learner, Mentor (Canvas observers), Guest - gets the learner door, which
    shows only the person's own data: a privacy-safe default for roles we do not know.
    """
    roles = set(lti_roles)
    if roles & ADMIN_ROLES:
        return Role.ADMIN
    if roles & CONTEXT_INSTRUCTOR_ROLES or any(r.startswith(INSTRUCTOR_PREFIXES)
                                               for r in roles):
        return Role.INSTRUCTOR
    if roles & INSTITUTION_INSTRUCTOR_ROLES and not any(_is_context_role(r) for r in roles):
        return Role.INSTRUCTOR
    return Role.LEARNER
