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

ADMIN_ROLES = {
    _LIS + "system/person#Administrator",
    _LIS + "system/person#SysAdmin",
    _LIS + "institution/person#Administrator",
    _LIS + "membership#Administrator",
    "Administrator",
}
INSTRUCTOR_ROLES = {
    _LIS + "membership#Instructor",
    _LIS + "membership#ContentDeveloper",
    _LIS + "institution/person#Instructor",
    _LIS + "institution/person#Faculty",
    "Instructor",
    "ContentDeveloper",
}
# Sub-roles such as membership/Instructor#TeachingAssistant belong to their parent role.
INSTRUCTOR_PREFIXES = (_LIS + "membership/Instructor#",)


def map_roles(lti_roles: Iterable[str]) -> Role:
    """Pick the most privileged door the roles allow.

    Anything else - Learner, Mentor (Canvas observers), Guest - gets the learner door, which
    shows only the person's own data: a privacy-safe default for roles we do not know.
    """
    roles = set(lti_roles)
    if roles & ADMIN_ROLES:
        return Role.ADMIN
    if roles & INSTRUCTOR_ROLES or any(r.startswith(INSTRUCTOR_PREFIXES) for r in roles):
        return Role.INSTRUCTOR
    return Role.LEARNER
