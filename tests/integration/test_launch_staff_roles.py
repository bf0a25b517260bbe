"""Issue 19, defect 10: which sub-roles count as staff is a setting of each platform.

Open edX sends a discussion moderator as a bare ``membership/Instructor#TeachingAssistant``
(no ``membership#Instructor``). By default that person gets the student view - never the
class's results - while Canvas TAs (Instructor plus the sub-role) and Moodle's non-editing
teachers (Instructor) keep the instructor view; a platform whose sub-role really means staff
says so (``--staff-role Instructor#TeachingAssistant``, or the admin console).
"""

from __future__ import annotations

from lti_helpers import CLAIM, begin_launch, full_launch
from sqlalchemy import select

from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.lti.platforms import PlatformService, PlatformSpec
from lti_tool.models import Enrollment, Platform, Role, User
from lti_tool.sandbox.platforms import CANVAS, LIS, MOODLE

# What Open edX sends for a discussion moderator, and nothing else.
MODERATOR_ROLES = [LIS + "membership/Instructor#TeachingAssistant"]


def _launch_as_moderator(server):
    pending = begin_launch(server, "moodle")
    claims = pending.claims()
    claims[CLAIM + "roles"] = MODERATOR_ROLES
    return pending.post(pending.sign(claims)), pending.person_sub


def _role(server, sub: str) -> Role:
    engine = make_engine(server.settings.database_url)
    with transaction(make_session_factory(engine)) as db:
        user = db.scalars(select(User).where(User.sub == sub)).one()
        role = db.scalars(select(Enrollment.role).where(Enrollment.user_id == user.id)).one()
    engine.dispose()
    return role


def _set_staff_roles(server, *names: str) -> None:
    engine = make_engine(server.settings.database_url)
    with transaction(make_session_factory(engine)) as db:
        row = db.scalars(select(Platform).where(Platform.client_id == MOODLE.client_id)).one()
        PlatformService(db).add(PlatformSpec(
            issuer=row.issuer, client_id=row.client_id, auth_login_url=row.auth_login_url,
            auth_token_url=row.auth_token_url, key_set_url=row.key_set_url,
            staff_roles=names))
    engine.dispose()


def test_a_bare_teaching_assistant_sub_role_gets_the_student_view_by_default(live_server):
    landed, sub = _launch_as_moderator(live_server)
    assert landed.status_code == 200, landed.text[:800]
    assert "Instructor overview" not in landed.text and "Welcome, " in landed.text
    assert _role(live_server, sub) == Role.LEARNER


def test_the_platform_setting_makes_the_sub_role_staff(live_server):
    _set_staff_roles(live_server, "Instructor#TeachingAssistant")
    landed, sub = _launch_as_moderator(live_server)
    assert landed.status_code == 200, landed.text[:800]
    assert "Instructor overview" in landed.text
    assert _role(live_server, sub) == Role.INSTRUCTOR
    _set_staff_roles(live_server)  # cleared: the student view again at the next launch
    landed, sub = _launch_as_moderator(live_server)
    assert "Instructor overview" not in landed.text
    assert _role(live_server, sub) == Role.LEARNER


def test_canvas_and_moodle_teaching_assistants_keep_the_instructor_view(live_server):
    for platform in (CANVAS, MOODLE):
        ta = next(p for p in platform.people if p.persona in ("ta", "instructor")
                  and platform.roles[p.persona] == platform.roles["ta"])
        landed = full_launch(live_server, platform.key, ta.sub)
        assert "Instructor overview" in landed.text, platform.key
