"""Course roster from the LMS (Names and Role Provisioning Services 2.0).

The token comes from pylti1p3's signed client assertion (through our DB token cache); the
pages are followed through ``Link: rel="next"`` as the server sent it (Moodle's quirk:
``lti.platforms.family.next_page_url``).
Members who left the course stay listed, marked, so their work is not orphaned.

The memberships URL and every next page must be on the platform's own hosts (the bearer
token goes with them), and every call follows the outbound policy (lti_tool.delivery.outbound).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.db import transaction
from lti_tool.delivery.outbound import OutboundPolicy
from lti_tool.lti.ags import AgsClient, DeliveryError, call_lms
from lti_tool.lti.platforms.family import next_page_url
from lti_tool.lti.roles import map_roles, staff_roles_of
from lti_tool.models import Course, Deployment, Platform, RosterMember

NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
NRPS_MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MAX_PAGES = 200
# Each page has the policy's deadline; the roster as a whole (fetched while an instructor
# waits) gets this many of them.
TOTAL_DEADLINES = 3


def fetch_members(sessions: sessionmaker[Session], clock: Callable[[], datetime],
                  policy: OutboundPolicy, platform_id: int, url: str) -> list[dict]:
    """Every member on every page; raises DeliveryError with what went wrong."""
    client = AgsClient(sessions, clock, policy)
    connector, _ = client.connector(platform_id)
    connector.check_service_url(url, "NRPS memberships")
    token = connector.get_access_token([NRPS_SCOPE])
    members: list[dict] = []
    next_url: str | None = url
    give_up = time.monotonic() + TOTAL_DEADLINES * policy.deadline_seconds
    for _ in range(MAX_PAGES):
        if not next_url:
            return members
        if time.monotonic() > give_up:
            raise DeliveryError("the roster took longer than the tool waits for it",
                                retryable=True)
        connector.check_service_url(next_url, "NRPS next page")
        resp = call_lms("roster", lambda page=next_url: client.http.get(page, headers={
            "Authorization": f"Bearer {token}", "Accept": NRPS_MEDIA_TYPE}))
        try:
            page_members = resp.json().get("members", [])
        except (ValueError, AttributeError) as exc:
            raise DeliveryError("the roster page is not a JSON object",
                                retryable=False) from exc
        if not isinstance(page_members, list):
            raise DeliveryError("the roster page's members are not a list", retryable=False)
        members += [m for m in page_members if isinstance(m, dict)]
        next_url = next_page_url(resp.links)
    raise DeliveryError("the roster has too many pages", retryable=False)


def sync_roster(sessions: sessionmaker[Session], clock: Callable[[], datetime],
                policy: OutboundPolicy, course_id: int, url: str) -> int:
    """Fetch the roster of a course and store it; returns the number of members."""
    with transaction(sessions) as db:
        course = db.get(Course, course_id)
        deployment = db.get(Deployment, course.deployment_id) if course else None
        if deployment is None:
            raise DeliveryError("the course is gone", retryable=False)
        platform_id = deployment.platform_id
        staff = staff_roles_of(db.get(Platform, platform_id).staff_roles)
    members = fetch_members(sessions, clock, policy, platform_id, url)
    now = clock()
    with transaction(sessions) as db:
        known = {m.sub: m for m in db.scalars(select(RosterMember).where(
            RosterMember.course_id == course_id))}
        seen = set()
        for member in members:
            sub = str(member.get("user_id") or "")
            if not sub:
                continue
            seen.add(sub)
            row = known.get(sub) or RosterMember(course_id=course_id, sub=sub)
            row.name = member.get("name") or " ".join(
                p for p in (member.get("given_name"), member.get("family_name")) if p) or None
            row.email = member.get("email")
            row.role = map_roles(member.get("roles") or [], staff)
            row.status = str(member.get("status") or "Active")
            row.synced_at = now
            db.add(row)
        for sub, row in known.items():
            if sub not in seen:
                row.status, row.synced_at = "Deleted", now  # dropped: kept and marked
        course = db.get(Course, course_id)
        if course is not None:
            course.roster_synced_at = now
    return len(seen)
