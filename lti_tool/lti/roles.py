"""LTI role URIs -> our three doors. Per-LMS role quirks live here and nowhere else.

Canvas sends context roles (``membership#Learner``) plus institution and system roles
(``institution/person#Student``, ``system/person#User``); Moodle sends ``membership#Learner`` or
``membership#Instructor`` and, for site admins, ``institution/person#Administrator`` and
``system/person#Administrator``. LTI 1.3 also allows the deprecated short names
(``Instructor``) and sub-roles (``membership/Instructor#TeachingAssistant``); which sub-roles
count as staff on their own is a setting of each platform (``Platform.staff_roles``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

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
# Sub-roles (membership/Instructor#TeachingAssistant) are written under their parent role.
SUB_ROLE_PREFIX = _LIS + "membership/"
CONTEXT_PREFIXES = (_LIS + "membership#", SUB_ROLE_PREFIX)
SHORT_CONTEXT_ROLES = {"Learner", "Instructor", "ContentDeveloper", "Mentor", "Member",
                       "Manager", "Officer", "TeachingAssistant"}
# Teaching somewhere in the school: says nothing about this course.
INSTITUTION_INSTRUCTOR_ROLES = {
    _LIS + "institution/person#Instructor",
    _LIS + "institution/person#Faculty",
}
INSTRUCTOR_ROLES = CONTEXT_INSTRUCTOR_ROLES | INSTITUTION_INSTRUCTOR_ROLES
# Parents whose sub-roles an admin may count as staff (never Learner's): LIS context roles.
STAFF_PARENTS = ("Administrator", "ContentDeveloper", "Instructor", "Manager", "Member",
                 "Mentor", "Officer")
_SUB_ROLE = re.compile("^(" + "|".join(STAFF_PARENTS) + ")#[A-Za-z]{1,64}$")
MAX_STAFF_ROLES = 20


def staff_role_name(value: str) -> str:
    """A staff sub-role as an admin types it - ``Instructor#TeachingAssistant`` or the whole
    URI ``http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant``
    - in its short form; ValueError says what is accepted."""
    name = value.strip()
    if name.startswith(SUB_ROLE_PREFIX):
        name = name[len(SUB_ROLE_PREFIX):]
    if not _SUB_ROLE.match(name):
        raise ValueError(
            f"a staff role must be a sub-role like Instructor#TeachingAssistant (of "
            f"{', '.join(STAFF_PARENTS)}), not {value[:80]!r}")
    return name


def staff_roles_of(stored: str) -> frozenset[str]:
    """A platform's ``staff_roles`` column as the set ``map_roles`` takes."""
    return frozenset(stored.split())


def _is_context_role(role: str) -> bool:
    return role.startswith(CONTEXT_PREFIXES) or role in SHORT_CONTEXT_ROLES


def map_roles(lti_roles: Iterable[str], staff_sub_roles: Collection[str] = ()) -> Role:
    """Pick the door the roles open in the launched course.

    The course's own (context) roles decide: Canvas adds ``institution/person#Instructor``
    for anyone who teaches anywhere in the school, so a student here who teaches another
    course must stay a student here (else they would see classmates' grades). Institution
    instructor roles count only when the LMS sends no context role at all. LMS
    administrators get the admin door.

    A sub-role alone (``membership/Instructor#TeachingAssistant`` without
    ``membership#Instructor``) is not staff unless the platform lists it in
    ``staff_sub_roles`` (short names, ``Instructor#TeachingAssistant``): LTI asks platforms
    to send the parent role with a sub-role, and Canvas (TAs: Instructor plus the
    TeachingAssistant sub-role) and Moodle (non-editing teachers: Instructor) do; Open edX
    sends a discussion moderator as a bare TeachingAssistant, who must not see classmates'
    results.

    Anything else - Learner, Mentor (Canvas observers), Guest - gets the learner door, which
    shows only the person's own data: a privacy-safe default for roles we do not know.
    """
    roles = set(lti_roles)
    if roles & ADMIN_ROLES:
        return Role.ADMIN
    if roles & CONTEXT_INSTRUCTOR_ROLES:
        return Role.INSTRUCTOR
    if staff_sub_roles and any(r.startswith(SUB_ROLE_PREFIX)
                               and r[len(SUB_ROLE_PREFIX):] in staff_sub_roles
                               for r in roles):
        return Role.INSTRUCTOR
    if roles & INSTITUTION_INSTRUCTOR_ROLES and not any(_is_context_role(r) for r in roles):
        return Role.INSTRUCTOR
    return Role.LEARNER
