"""Whole launches from the Canvas- and Moodle-shaped sandbox platforms over real HTTP."""

from __future__ import annotations

import pytest
import requests
from lti_helpers import begin_launch, full_launch
from sqlalchemy import select
from support import parse_form

from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.models import Course, Deployment, Enrollment, Platform, Role, ToolSession, User
from lti_tool.sandbox.platforms import CANVAS, MOODLE


def _db(server):
    engine = make_engine(server.settings.database_url)
    return engine, make_session_factory(engine)


@pytest.mark.parametrize(("platform", "persona", "role", "page_text"), [
    (CANVAS, "learner", Role.LEARNER, "Welcome, Ana"),
    (CANVAS, "instructor", Role.INSTRUCTOR, "Instructor overview"),
    (CANVAS, "ta", Role.INSTRUCTOR, "Instructor overview"),
    (MOODLE, "learner", Role.LEARNER, "Welcome, Maria"),
    (MOODLE, "instructor", Role.INSTRUCTOR, "Instructor overview"),
    (MOODLE, "admin", Role.ADMIN, "Instructor overview"),
])
def test_launch_lands_on_the_door_of_the_role(live_server, platform, persona, role, page_text):
    person = next(p for p in platform.people if p.persona == persona)
    r = full_launch(live_server, platform.key, person.sub)
    assert r.status_code == 200, r.text[:800]
    assert page_text in r.text
    assert person.name in r.text
    assert platform.context_title in r.text
    assert "Safety" in r.text and "Green Production" in r.text
    engine, sessions = _db(live_server)
    with transaction(sessions) as db:
        user = db.scalars(select(User).where(User.sub == person.sub)).one()
        assert user.email == person.email
        course = db.scalars(select(Course).where(Course.context_id == platform.context_id)).one()
        enrollment = db.scalars(select(Enrollment).where(
            Enrollment.user_id == user.id, Enrollment.course_id == course.id)).one()
        assert enrollment.role == role
        assert enrollment.lti_roles == list(platform.roles[persona])
        session_row = db.scalars(select(ToolSession).where(ToolSession.user_id == user.id)).one()
        assert session_row.role == role
        platform_row = db.get(Platform, user.platform_id)
        assert platform_row.client_id == platform.client_id
        assert platform_row.last_launch_at is not None
    engine.dispose()


def test_relaunch_updates_rows_instead_of_duplicating(live_server):
    learner = CANVAS.people[0]
    for _ in range(2):
        assert full_launch(live_server, "canvas", learner.sub).status_code == 200
    engine, sessions = _db(live_server)
    with transaction(sessions) as db:
        assert len(list(db.scalars(select(User).where(User.sub == learner.sub)))) == 1
        assert len(list(db.scalars(select(Course)))) == 1
        # The relaunch of the same link ended the first launch's session (issue 15).
        assert len(list(db.scalars(select(ToolSession)))) == 1
    engine.dispose()


def test_session_cookie_is_http_only(live_server):
    s = requests.Session()
    r = full_launch(live_server, "moodle", MOODLE.people[0].sub, session=s)
    assert r.status_code == 200
    cookie = next(c for c in s.cookies if c.name == "cpt_session")
    assert cookie.has_nonstandard_attr("HttpOnly")


def test_same_issuer_with_two_client_ids(live_server):
    """Canvas uses one issuer for every school: issuer + client_id picks the registration."""
    engine, sessions = _db(live_server)
    with transaction(sessions) as db:
        first = db.scalars(select(Platform).where(Platform.client_id == CANVAS.client_id)).one()
        second = Platform(issuer=first.issuer, client_id="10000000000777",
                          name="Second college on Canvas", auth_login_url=first.auth_login_url,
                          auth_token_url=first.auth_token_url, key_set_url=first.key_set_url)
        db.add(second)
        db.flush()
        db.add(Deployment(platform_id=second.id, deployment_id="7:second-college"))
        second_id = second.id
    pending = begin_launch(live_server, "canvas")
    claims = pending.claims()
    claims["aud"] = claims["azp"] = "10000000000777"
    claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] = "7:second-college"
    r = pending.post(pending.sign(claims))
    assert r.status_code == 200, r.text[:800]
    assert "Second college on Canvas" in r.text
    with transaction(sessions) as db:
        user = db.scalars(select(User).where(User.platform_id == second_id)).one()
        assert user.sub == pending.person_sub
    engine.dispose()


def test_tenants_are_kept_apart(live_server):
    """Same context id and same sub on two platforms: two courses, two users, no mixing."""
    engine, sessions = _db(live_server)
    with transaction(sessions) as db:
        canvas = db.scalars(select(Platform).where(Platform.client_id == CANVAS.client_id)).one()
        other = Platform(issuer=canvas.issuer, client_id="10000000000888", name="Other school",
                         auth_login_url=canvas.auth_login_url,
                         auth_token_url=canvas.auth_token_url, key_set_url=canvas.key_set_url)
        db.add(other)
        db.flush()
        db.add(Deployment(platform_id=other.id, deployment_id="8:other"))
    assert full_launch(live_server, "canvas", CANVAS.people[0].sub).status_code == 200
    pending = begin_launch(live_server, "canvas")
    claims = pending.claims()
    claims["aud"] = claims["azp"] = "10000000000888"
    claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] = "8:other"
    claims["https://purl.imsglobal.org/spec/lti/claim/context"]["title"] = "Other school's MFG"
    r = pending.post(pending.sign(claims))
    assert r.status_code == 200
    assert "Other school&#39;s MFG" in r.text
    assert CANVAS.context_title not in r.text
    with transaction(sessions) as db:
        courses = list(db.scalars(select(Course).where(
            Course.context_id == CANVAS.context_id)))
        assert len(courses) == 2
        assert {c.title for c in courses} == {CANVAS.context_title, "Other school's MFG"}
        users = list(db.scalars(select(User).where(User.sub == CANVAS.people[0].sub)))
        assert len(users) == 2 and len({u.platform_id for u in users}) == 2
        for course in courses:
            enrolled = {e.user_id for e in db.scalars(select(Enrollment).where(
                Enrollment.course_id == course.id))}
            assert len(enrolled) == 1
        assert len({next(iter({e.user_id for e in db.scalars(select(Enrollment).where(
            Enrollment.course_id == c.id))})) for c in courses}) == 2
    engine.dispose()


def test_auto_register_policy_records_new_deployment(live_server):
    """A course copy mints a new deployment id: recorded when the platform allows it."""
    engine, sessions = _db(live_server)
    with transaction(sessions) as db:
        canvas = db.scalars(select(Platform).where(Platform.client_id == CANVAS.client_id)).one()
        canvas.deployment_policy = "auto-register"
    pending = begin_launch(live_server, "canvas")
    claims = pending.claims()
    claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] = "55:copied-course"
    assert pending.post(pending.sign(claims)).status_code == 200
    with transaction(sessions) as db:
        dep = db.scalars(select(Deployment).where(
            Deployment.deployment_id == "55:copied-course")).one()
        assert dep.auto_registered
    engine.dispose()


def test_disabled_deployment_is_refused(live_server):
    engine, sessions = _db(live_server)
    with transaction(sessions) as db:
        dep = db.scalars(select(Deployment).where(
            Deployment.deployment_id == MOODLE.deployment_id)).one()
        dep.enabled = False
    r = full_launch(live_server, "moodle", MOODLE.people[0].sub)
    assert r.status_code == 403
    assert "<code>unknown_deployment</code>" in r.text
    engine.dispose()


def test_disabled_platform_cannot_start_a_login(live_server):
    engine, sessions = _db(live_server)
    with transaction(sessions) as db:
        row = db.scalars(select(Platform).where(Platform.client_id == MOODLE.client_id)).one()
        row.enabled = False
    s = requests.Session()
    page = s.get(f"{live_server.url}/sandbox/moodle/launch/frame", params={"user": "5"})
    action, fields = parse_form(page.text)
    r = s.post(action, data=fields)
    assert r.status_code == 403
    assert "<code>unknown_platform</code>" in r.text
    assert MOODLE.client_id in r.text
    engine.dispose()
