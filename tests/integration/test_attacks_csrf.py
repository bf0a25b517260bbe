"""CSRF on every write: each route of the URL map that accepts POST/PUT/PATCH/DELETE is
sent, from a browser holding a valid session, without a CSRF token, with a forged one and
with the token of another live session; each must be refused (4xx) with nothing written.

The routes come from ``app.url_map``, so a write route added later fails this test until it
is protected and given a probe below, or excluded with a reason. A control request with the
right token shows each probe reaches past the CSRF check (and writes, where it should):
the refusals are the CSRF check's, not a missing role or a bad body.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from test_attacks_common import (
    WRITE_METHODS,
    Actor,
    AdminActor,
    actor,
    admin_actor,
    changed_tables,
    db_session,
    person_sub,
    practice_attempt,
    rules,
    snapshot,
)

from lti_tool.delivery.destinations import add_lrs
from lti_tool.lti.keys import KeyService
from lti_tool.models import (
    CurriculumItem,
    CurriculumLesson,
    Deployment,
    LrsEndpoint,
    Platform,
    PlatformRegistration,
)
from lti_tool.sandbox.platforms import CANVAS, MOODLE
from lti_tool.web.runtime import system_clock

# Write routes that must accept cross-site POSTs or carry their own proof, and why.
EXCLUDED = {
    "lti.login": "OIDC third-party initiated login: the LMS starts it from its own site by "
                 "design (LTI 1.3 Core 5.1.1); it only issues a state and nonce bound to a "
                 "new cookie of this browser",
    "lti.launch": "the LMS auto-posts the id_token cross-site by protocol; the platform's "
                  "RS256 signature, the one-time nonce and the state bound to this browser "
                  "are the proof (test_launch_rejections.py)",
    "admin.login": "the sign-in form itself: a forged sign-in needs the password, and only "
                   "signs the victim in to an account the forger already controls (no "
                   "session yet, so no token to check); failures are rate-limited",
}
# The sandbox LMS simulates a foreign platform (its token, AGS, NRPS, deep-link return and
# registration endpoints take server-to-server or cross-site posts from the tool by
# protocol) and is never enabled in production.
EXCLUDED_BLUEPRINTS = ("sandbox", "sandbox_registration", "sandbox_services")


@dataclass
class World:
    learner: Actor
    other_learner: Actor
    instructor: Actor
    dl_instructor: Actor
    admin: AdminActor
    attempts: dict[str, dict[str, Any]]
    ids: dict[str, Any]


@dataclass(frozen=True)
class Probe:
    who: str  # learner | instructor | dl_instructor | admin
    args: Callable[[World], dict[str, Any]]
    body: Callable[[World], dict[str, Any]]
    json: bool = False
    writes: bool = True  # the control request with the right token changes the database


def _answer(attempt: str, json: bool) -> Callable[[World], dict[str, Any]]:
    def body(w: World) -> dict[str, Any]:
        item = w.attempts[attempt]["next_item"]
        data: dict[str, Any] = {"item_id": item["id"], "choice": 2,
                                "idempotency_key": uuid.uuid4().hex}
        if not json:
            data["position"] = item["position"]
        return data

    return body


def _none(_: World) -> dict[str, Any]:
    return {}


PROBES: dict[str, Probe] = {
    "student.start": Probe("learner", _none, lambda w: {"mode": "drill",
                                                        "module_id": "safety"}),
    "student.answer": Probe("learner", lambda w: {"attempt_id": w.attempts["form"]["id"]},
                            _answer("form", json=False)),
    "student.submit": Probe("learner", lambda w: {"attempt_id": w.attempts["form"]["id"]},
                            lambda w: {"confirm": "yes"}),
    "api.start_attempt": Probe("learner", _none, lambda w: {"mode": "drill",
                                                            "module_id": "quality"}, True),
    "api.answer": Probe("learner", lambda w: {"attempt_id": w.attempts["api"]["id"]},
                        _answer("api", json=True), True),
    "api.submit": Probe("learner", lambda w: {"attempt_id": w.attempts["api"]["id"]}, _none,
                        True),
    "instructor.set_policy": Probe("instructor", _none, lambda w: {"policy": "latest"}),
    "instructor.resend": Probe("instructor", _none, _none, writes=False),
    "instructor.refresh_roster": Probe("instructor", _none, _none),
    "instructor.set_extra_time": Probe(
        "instructor", lambda w: {"user_id": w.learner.user_id}, lambda w: {"multiplier": "1.5"}),
    # The student preview writes nothing (its feedback is worked out in memory); the token
    # is still required, as on every POST.
    "instructor.preview_drill_answer": Probe(
        "instructor", lambda w: {"key_activity_id": w.ids["preview_ka"]},
        lambda w: {"item_id": w.ids["preview_item"], "choice": "0"}, writes=False),
    "instructor.preview_lesson_answer": Probe(
        "instructor", lambda w: {"lesson_id": w.ids["preview_lesson"]},
        lambda w: {"item_id": w.ids["preview_check"], "choice": "0"}, writes=False),
    "lti.deep_link_response": Probe(
        "dl_instructor", _none,
        lambda w: {"launch_id": w.dl_instructor.launch_id, "activity": "drill:safety"},
        writes=False),
    "admin.platform_enabled": Probe("admin", lambda w: {"platform_id": w.ids["moodle"]},
                                    lambda w: {"enabled": "0"}),
    "admin.deployment_enabled": Probe("admin", lambda w: {"deployment_id": w.ids["moodle_dep"]},
                                      lambda w: {"enabled": "0"}),
    "admin.lrs_add": Probe("admin", lambda w: {"platform_id": w.ids["canvas"]}, lambda w: {
        "name": "attack-lrs", "endpoint": "https://lrs.example.test/xapi/",
        "username": "key", "password": "secret", "actor_identity": "account"}),
    "admin.lrs_remove": Probe("admin", lambda w: {"lrs_id": w.ids["lrs"]}, _none),
    "admin.keys_rotate": Probe("admin", _none, _none),
    "admin.keys_retire": Probe("admin", lambda w: {"kid": w.ids["next_kid"]}, _none),
    "admin.registration_approve": Probe(
        "admin", lambda w: {"registration_id": w.ids["approve"]}, _none),
    "admin.registration_reject": Probe(
        "admin", lambda w: {"registration_id": w.ids["reject"]}, _none),
    "admin.platform_new": Probe("admin", _none, lambda w: {
        "name": "attack", "issuer": "https://new.example.test", "client_id": "new-1",
        "auth_login_url": "https://new.example.test/auth",
        "auth_token_url": "https://new.example.test/token",
        "key_set_url": "https://new.example.test/jwks", "deployment_ids": "1"}),
    "admin.platform_edit": Probe("admin", lambda w: {"platform_id": w.ids["canvas"]},
                                 lambda w: {
        "name": "renamed", "auth_login_url": "https://sso.canvaslms.com/api/lti/authorize",
        "auth_token_url": "https://sso.canvaslms.com/login/oauth2/token",
        "key_set_url": "https://sso.canvaslms.com/api/lti/security/jwks"}),
    "admin.platform_delete": Probe("admin", lambda w: {"platform_id": w.ids["doomed"]},
                                   lambda w: {"confirm": "yes"}),
    # The launch doctor: runs against the sandbox LMS and stores its result (a write).
    "admin.platform_check": Probe("admin", lambda w: {"platform_id": w.ids["moodle"]}, _none),
    "admin.logout": Probe("admin", _none, _none),  # last: it ends the admin session
    "pages.logout": Probe("learner", _none, _none),  # last of the learner's: it ends hers
}


def _write_routes(app) -> dict[str, tuple[str, frozenset[str]]]:
    return {endpoint: (rule, methods & WRITE_METHODS) for endpoint, rule, methods in rules(app)
            if methods & WRITE_METHODS and endpoint.split(".")[0] not in EXCLUDED_BLUEPRINTS}


def test_every_write_route_has_a_csrf_probe_or_a_reason(live_server):
    """The inventory: a new write route fails here until it is probed or excluded."""
    routes = _write_routes(live_server.app)
    unprobed = sorted(set(routes) - set(PROBES) - set(EXCLUDED))
    assert not unprobed, f"write routes with no CSRF probe: {unprobed} - add them to PROBES"
    stale = sorted((set(PROBES) | set(EXCLUDED)) - set(routes))
    assert not stale, f"probes for routes that no longer exist: {stale}"
    assert not set(PROBES) & set(EXCLUDED)


def _world(server) -> World:
    learner = actor(server, "canvas", person_sub("canvas", "learner", 0))
    other = actor(server, "canvas", person_sub("canvas", "learner", 1))
    instructor = actor(server, "canvas", person_sub("canvas", "instructor"))
    dl_instructor = actor(server, "canvas", person_sub("canvas", "instructor"),
                          message_type="LtiDeepLinkingRequest")
    assert (learner.role, instructor.role, dl_instructor.role) == (
        "learner", "instructor", "instructor")
    attempts = {}
    for name in ("form", "api"):
        attempt = practice_attempt(server, learner, "safety" if name == "form" else "green")
        attempt["next_item"] = learner.get(
            f"{server.url}/api/attempts/{attempt['id']}/item").json()["item"]
        attempts[name] = attempt
    admin = admin_actor(server)
    with db_session(server) as db:
        canvas = db.scalars(select(Platform).where(Platform.client_id == CANVAS.client_id)).one()
        moodle = db.scalars(select(Platform).where(Platform.client_id == MOODLE.client_id)).one()
        moodle_dep = db.scalars(select(Deployment).where(
            Deployment.platform_id == moodle.id)).first()
        add_lrs(db, server.settings, canvas, name="existing-lrs",
                url="https://lrs.example.test/other/", username="u", password="p")
        db.flush()
        lrs = db.scalars(select(LrsEndpoint).where(LrsEndpoint.name == "existing-lrs")).one()
        pending_key = KeyService(db, system_clock).rotate(timedelta(hours=24))
        waiting = {}
        for name in ("approve", "reject"):
            row = PlatformRegistration(
                issuer=f"https://{name}.example.test", client_id=name, name=name,
                auth_login_url=f"https://{name}.example.test/auth",
                auth_token_url=f"https://{name}.example.test/token",
                key_set_url=f"https://{name}.example.test/jwks",
                openid_configuration=f"https://{name}.example.test/openid-configuration")
            db.add(row)
            db.flush()
            waiting[name] = row.id
        doomed = Platform(issuer="https://doomed.example.test", client_id="doomed",
                          auth_login_url="https://doomed.example.test/auth",
                          auth_token_url="https://doomed.example.test/token",
                          key_set_url="https://doomed.example.test/jwks")
        db.add(doomed)
        db.flush()
        lesson = db.scalars(select(CurriculumLesson).where(
            CurriculumLesson.retired.is_(False)).order_by(CurriculumLesson.id)).first()
        drill_item = db.scalars(select(CurriculumItem).where(
            CurriculumItem.key_activity_id == lesson.key_activity_id,
            CurriculumItem.retired.is_(False)).order_by(CurriculumItem.difficulty,
                                                        CurriculumItem.id)).first()
        ids = {"canvas": canvas.id, "moodle": moodle.id, "moodle_dep": moodle_dep.id,
               "doomed": doomed.id,
               "lrs": lrs.id, "next_kid": pending_key.kid, **waiting,
               "preview_ka": lesson.key_activity_id, "preview_item": drill_item.id,
               "preview_lesson": lesson.id, "preview_check": lesson.checks[0]}
    return World(learner, other, instructor, dl_instructor, admin, attempts, ids)


def _send(server, w: World, probe: Probe, rule: str, method: str, token: str | None):
    from werkzeug.routing import Map, Rule

    url = server.url + Map([Rule(rule, endpoint="x")]).bind("x").build(
        "x", probe.args(w))
    who = w.admin if probe.who == "admin" else getattr(w, probe.who)
    body = probe.body(w)
    headers: dict[str, str] = {}
    if probe.json:
        if token is not None:
            headers["X-CSRF-Token"] = token
        return who.http.request(method, url, json=body, headers=headers, timeout=20,
                                allow_redirects=False)
    data = dict(body)
    if token is not None:
        data["csrf_token"] = token
    return who.http.request(method, url, data=data, timeout=20, allow_redirects=False)


def test_every_write_refuses_a_missing_forged_or_foreign_csrf_token(live_server):
    server = live_server
    routes = _write_routes(server.app)
    w = _world(server)
    order = sorted(PROBES, key=lambda e: (PROBES[e].who == "admin",
                                          e in ("admin.logout", "pages.logout"), e))
    for endpoint in order:
        probe = PROBES[endpoint]
        rule, methods = routes[endpoint]
        who = w.admin if probe.who == "admin" else getattr(w, probe.who)
        right = who.csrf
        # Another live session's token: the admin's for LTI routes and a learner's for the
        # admin console; for LTI routes also a classmate's (same course, same platform).
        foreign = [w.learner.csrf if probe.who == "admin" else w.admin.csrf]
        if probe.who != "admin":
            foreign.append(w.other_learner.csrf if probe.who != "learner"
                           else w.instructor.csrf)
        for method in sorted(methods):
            before = snapshot(server)
            for token in (None, "", "forged-" + right[:8], right[:-1], *foreign):
                r = _send(server, w, probe, rule, method, token)
                assert r.status_code == 403, (endpoint, method, token, r.status_code,
                                              r.text[:300])
                assert "Traceback" not in r.text
            after = snapshot(server)
            assert not changed_tables(before, after), (endpoint, changed_tables(before, after))
            control = _send(server, w, probe, rule, method, right)
            assert control.status_code not in (401, 403) and control.status_code < 500, (
                endpoint, control.status_code, control.text[:500])
            if endpoint != "admin.logout":  # signing out does land on the sign-in page
                assert "/admin/login" not in control.headers.get("Location", "")
            if probe.writes:
                assert changed_tables(after, snapshot(server)), (
                    f"{endpoint}: the control request wrote nothing, so the probe proves "
                    "nothing")
