"""What a launch records, and how often it rewrites the bookkeeping columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from lti_tool.lti.launch import LaunchContext
from lti_tool.lti.records import SEEN_STEP, record_launch
from lti_tool.models import Deployment, Enrollment, Platform, User
from lti_tool.sandbox.platforms import CANVAS

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _ctx(db, name: str) -> LaunchContext:
    platform = db.scalars(select(Platform).where(Platform.client_id == CANVAS.client_id)).one()
    deployment = db.scalars(select(Deployment).where(
        Deployment.platform_id == platform.id)).first()
    return LaunchContext(launch_id="launch-1", message_type="LtiResourceLinkRequest",
                         platform_id=platform.id, issuer=platform.issuer,
                         client_id=platform.client_id, deployment_id=deployment.deployment_id,
                         sub="student-42", lti_roles=(LEARNER,), name=name,
                         context_id="MFG101", context_title="Manufacturing 101",
                         resource_link_id="link-1")


def _launch(app, at: datetime, name: str = "Ana Reyes") -> tuple[datetime, datetime, str]:
    rt = app.extensions["cpt_lti"]
    with rt.transaction() as db:
        record_launch(db, _ctx(db, name), lambda: at)
    with rt.transaction() as db:
        user = db.scalars(select(User).where(User.sub == "student-42")).one()
        enrollment = db.scalars(select(Enrollment).where(Enrollment.user_id == user.id)).one()
        return user.last_seen_at, enrollment.last_launch_at, user.name


def test_last_seen_is_kept_to_a_quarter_hour_but_personal_data_at_once(app):
    assert _launch(app, T0) == (T0, T0, "Ana Reyes")
    # Relaunching minutes later (every click in the LMS is a launch) rewrites neither row...
    assert _launch(app, T0 + timedelta(minutes=5)) == (T0, T0, "Ana Reyes")
    # ...but what the platform says about the person is never held back.
    assert _launch(app, T0 + timedelta(minutes=6), name="Ana R. Diaz") == (
        T0, T0, "Ana R. Diaz")
    later = T0 + SEEN_STEP
    assert _launch(app, later, name="Ana R. Diaz") == (later, later, "Ana R. Diaz")
