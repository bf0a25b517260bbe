"""Upsert what a valid launch tells us: user, course, resource link and role.

Rows are keyed through the platform and deployment so that two colleges' identical ids
(context "MFG101", sub "42") never share a row.

Service URLs are kept until a launch names them again: the spec lets a platform leave the
roster (NRPS) and grade (AGS) claims out of any message, and Deep Linking requests often
come without the roster one (issue 19.1). The course keeps its roster URL, each link its
grade service; a launch without the claim changes neither.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, literal, select
from sqlalchemy.orm import Session

from lti_tool.lti import copies
from lti_tool.lti.launch import LaunchContext
from lti_tool.lti.roles import map_roles, staff_roles_of
from lti_tool.models import (
    Course,
    Deployment,
    Enrollment,
    Platform,
    ResourceLink,
    Role,
    User,
)


@dataclass(frozen=True)
class LaunchRecord:
    user_id: int
    course_id: int | None
    resource_link_id: int | None
    role: Role
    # The rows themselves, so the caller's session still holds them (its identity map
    # keeps only referenced objects) and the landing page reads none of them again.
    user: User | None = field(default=None, compare=False, repr=False)
    course: Course | None = field(default=None, compare=False, repr=False)
    platform: Platform | None = field(default=None, compare=False, repr=False)


LAST_LAUNCH_STEP = timedelta(minutes=1)
# A student's "last seen" and an enrollment's "last launch" are kept to a quarter hour: at
# exam time a student relaunches every few minutes (each click on the activity in the LMS
# is a launch), and rewriting both rows each time was two of a launch's five statements.
# Nothing reads them closer than that (retention and "inactive since" questions).
SEEN_STEP = timedelta(minutes=15)
# Built once with bind parameters: every launch runs them.
# User, course, enrollment and link in one query, each None where it does not exist yet:
# always one row (joined onto a one-row select), so a new student in a known course costs
# one round trip too.
_ONE_ROW = select(literal(1).label("one")).subquery("one_row")
_KNOWN = (
    select(User, Course, Enrollment, ResourceLink)
    .select_from(_ONE_ROW)
    .outerjoin(User, and_(User.platform_id == bindparam("platform_id"),
                          User.sub == bindparam("sub")))
    .outerjoin(Course, and_(Course.deployment_id == bindparam("deployment_id"),
                            Course.context_id == bindparam("context_id")))
    .outerjoin(Enrollment, and_(Enrollment.course_id == Course.id,
                                Enrollment.user_id == User.id))
    .outerjoin(ResourceLink, and_(ResourceLink.course_id == Course.id,
                                  ResourceLink.link_id == bindparam("link_id"))))


def record_launch(session: Session, ctx: LaunchContext, clock: Callable[[], datetime],
                  deployment: Deployment | None = None) -> LaunchRecord:
    """``deployment``: the row the launch was validated against, when the caller has it."""
    now = clock()
    platform = session.get(Platform, ctx.platform_id)
    assert platform is not None
    # Every launch of a college would update this one row (and on PostgreSQL wait on its
    # lock until the launch commits): to the minute is what the admin console needs.
    if platform.last_launch_at is None or now - platform.last_launch_at > LAST_LAUNCH_STEP:
        platform.last_launch_at = now
    if ctx.signing_kid and platform.last_launch_kid != ctx.signing_kid:
        platform.last_launch_kid = ctx.signing_kid  # written only when the key changed
    if deployment is None:
        deployment = session.scalars(select(Deployment).where(
            Deployment.platform_id == platform.id,
            Deployment.deployment_id == ctx.deployment_id)).one()

    user, course, enrollment, link = session.execute(_KNOWN, {
        "platform_id": platform.id, "sub": ctx.sub, "deployment_id": deployment.id,
        "context_id": ctx.context_id or "", "link_id": ctx.resource_link_id or ""}).one()
    if user is None:
        # Complete from the start: one INSERT, no UPDATE after.
        user = User(platform_id=platform.id, sub=ctx.sub, created_at=now, last_seen_at=now,
                    name=ctx.name, given_name=ctx.given_name, family_name=ctx.family_name,
                    email=ctx.email)
        session.add(user)
    # Personal data only as the platform sends it; a platform that stops sending it (a
    # privacy setting changed) makes us forget it too.
    user.name, user.given_name, user.family_name, user.email = (
        ctx.name, ctx.given_name, ctx.family_name, ctx.email)
    if now - user.last_seen_at >= SEEN_STEP:
        user.last_seen_at = now
    role = map_roles(ctx.lti_roles, staff_roles_of(platform.staff_roles))

    if not ctx.context_id:
        course = link = None
    else:
        if course is None:
            course = Course(deployment_id=deployment.id, context_id=ctx.context_id,
                            created_at=now)
            session.add(course)
        course.label, course.title = ctx.context_label, ctx.context_title
        if ctx.nrps_url:
            course.nrps_url = ctx.nrps_url
        session.flush()
        if enrollment is None:
            enrollment = Enrollment(course_id=course.id, user_id=user.id, role=role,
                                    last_launch_at=now)
            session.add(enrollment)
        enrollment.role = role
        enrollment.lti_roles = list(ctx.lti_roles)
        if now - enrollment.last_launch_at >= SEEN_STEP:
            enrollment.last_launch_at = now
        if ctx.resource_link_id:  # (without one, the query above found no link)
            new_link = link is None
            if link is None:
                link = ResourceLink(course_id=course.id, link_id=ctx.resource_link_id,
                                    created_at=now)
                session.add(link)
            link.title = ctx.resource_link_title
            link.custom = dict(ctx.custom)
            if ctx.ags_lineitems_url or ctx.ags_lineitem_url:
                # The claim as a whole: one without ``lineitem`` (the link is no longer
                # graded) does clear it; a launch without the claim keeps all three.
                link.ags_lineitems_url = ctx.ags_lineitems_url
                link.ags_lineitem_url = ctx.ags_lineitem_url
                link.ags_scopes = list(ctx.ags_scopes)
            if new_link and (ctx.custom.get(copies.RESOURCE_LINK_HISTORY)
                             or ctx.custom.get(copies.CONTEXT_HISTORY)):
                # A link seen for the first time may be a course copy's (lti/copies.py).
                session.flush()
                copies.carry_from_history(session, deployment.id, link, ctx.custom)
    session.flush()
    return LaunchRecord(user_id=user.id, course_id=course.id if course else None,
                        resource_link_id=link.id if link else None, role=role, user=user,
                        course=course, platform=platform)
