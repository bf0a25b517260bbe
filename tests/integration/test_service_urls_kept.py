"""The roster (NRPS) and grade (AGS) service URLs a course and a link were given are kept
until a launch carries the claim again (issue 19.1): the spec lets a platform leave either
claim out of any message, and Deep Linking requests often come without the roster one.
A launch that leaves a claim out must not make the tool forget the service."""

from __future__ import annotations

from datetime import UTC, datetime

from factories import db_sessions
from instructor_support import at, staff
from lti_helpers import deep_link_picker, full_launch, instructor, place
from sqlalchemy import select
from test_grade_passback import _take_practice, _worker

from lti_tool.db import transaction
from lti_tool.lti.launch import LaunchContext
from lti_tool.lti.records import record_launch
from lti_tool.models import Course, Deployment, Platform, ResourceLink
from lti_tool.sandbox import lms
from lti_tool.sandbox.models import SandboxPlacedLink, SandboxResult
from lti_tool.sandbox.platforms import CANVAS, MOODLE
from lti_tool.sandbox.services import ROSTER_ONLY

MARIA = MOODLE.people[0]
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def test_the_sandbox_can_leave_a_service_claim_out(live_server):
    claims = lms.id_token_claims(live_server.settings, MOODLE, instructor(MOODLE),
                                 lms.DEEP_LINK, "LtiDeepLinkingRequest", "n", "r",
                                 datetime.now(UTC), omit=("nrps",))
    assert lms.NRPS_CLAIM not in claims
    assert "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings" in claims


def test_a_deep_linking_launch_without_the_roster_claim_keeps_the_roster(live_server):
    """The instructor opens the class from the course link (the launch names the roster
    service), then adds an activity: the LMS's Deep Linking request has no roster claim.
    The roster still comes from the LMS afterwards."""
    s, csrf, url = staff(live_server, MOODLE)
    _, picker = deep_link_picker(live_server, MOODLE, instructor(MOODLE), omit=("nrps",))
    assert picker.status_code == 200 and "activity" in picker.text
    synced = s.post(at(url, "/instructor/class/roster"), data={"csrf_token": csrf})
    assert synced.status_code == 200
    assert "did not offer a roster" not in synced.text
    for _, given, family in ROSTER_ONLY:
        assert f"{given} {family}" in synced.text


def test_a_launch_without_the_grade_claim_keeps_the_links_grade_service(live_server):
    """Maria's score is queued; then the same graded link is launched without the AGS
    claim. The score still reaches the line item the link was given."""
    placed = place(live_server, MOODLE)
    _take_practice(live_server, MOODLE, MARIA, placed, right=20)
    again = full_launch(live_server, "moodle", MARIA.sub, link=f"placed-{placed}",
                        omit=("ags",))
    assert again.status_code == 200
    engine, worker = _worker(live_server)
    report = worker.run_once()
    assert (report.sent, report.failed) == (1, 0), report.errors
    _, sessions = db_sessions(live_server)
    with transaction(sessions) as db:
        item_id = db.get(SandboxPlacedLink, placed).line_item_id
        given = db.scalars(select(SandboxResult.score_given).where(
            SandboxResult.line_item_id == item_id, SandboxResult.user_id == MARIA.sub)).one()
        link = db.scalars(select(ResourceLink).where(
            ResourceLink.link_id == f"placed-{placed}")).one()
        assert link.ags_lineitem_url and link.ags_scopes
    engine.dispose()
    assert given == 20.0


def _ctx(platform: Platform, deployment: Deployment, context_id: str,
         nrps_url: str | None) -> LaunchContext:
    return LaunchContext(launch_id="l", message_type="LtiDeepLinkingRequest",
                         platform_id=platform.id, issuer=platform.issuer,
                         client_id=platform.client_id, deployment_id=deployment.deployment_id,
                         sub="teacher-1", lti_roles=(INSTRUCTOR,), context_id=context_id,
                         nrps_url=nrps_url)


def test_each_course_keeps_its_own_roster_url(app):
    """Stored per course (platform, deployment, context): another course's launch, even
    with the same context id on another platform, never gives or takes this one's."""
    rt = app.extensions["cpt_lti"]
    now = datetime.now(UTC)
    with rt.transaction() as db:
        canvas = db.scalars(select(Platform).where(Platform.client_id == CANVAS.client_id)
                            ).one()
        moodle = db.scalars(select(Platform).where(Platform.client_id == MOODLE.client_id)
                            ).one()
        dep_c = db.scalars(select(Deployment).where(Deployment.platform_id == canvas.id)
                           ).first()
        dep_m = db.scalars(select(Deployment).where(Deployment.platform_id == moodle.id)
                           ).first()
        record_launch(db, _ctx(canvas, dep_c, "MFG101", "https://c.example/a"), lambda: now)
        record_launch(db, _ctx(moodle, dep_m, "MFG101", "https://m.example/b"), lambda: now)
        record_launch(db, _ctx(moodle, dep_m, "MFG101", None), lambda: now)  # no claim
        urls = {c.deployment_id: c.nrps_url for c in db.scalars(select(Course))}
    assert urls == {dep_c.id: "https://c.example/a", dep_m.id: "https://m.example/b"}
