"""No caching of authenticated answers: every page, JSON API response and CSV export that
needs a session carries ``Cache-Control: no-store``, so a shared campus computer, a proxy
or the back button never shows one person's data to the next.

The GET routes come from ``app.url_map``: a new one fails the inventory test until it is
listed as authenticated (and checked) or as public with a reason.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from test_attacks_common import (
    TIMEOUT,
    actor,
    admin_actor,
    db_session,
    person_sub,
    practice_attempt,
    rules,
)
from werkzeug.routing import Map, Rule

from lti_tool.models import CurriculumItem, CurriculumLesson, Platform, Response

# GET routes anyone may fetch, and why caching them is harmless or wanted.
PUBLIC = {
    "pages.index": "the tool's public front page",
    "pages.ping": "plain 'ok' for benchmarks",
    "pages.health": "load balancer probe, no personal data",
    "pages.metrics": "bearer-token Prometheus text; sets no-store itself (404 when off)",
    "pages.no_submission": "a fixed message, the same for everyone",
    "pages.xapi_profile": "the public xAPI profile, cached an hour on purpose",
    "api.openapi": "the public API description",
    "lti.jwks": "public keys, cached five minutes on purpose (rotation)",
    "lti.canvas_json": "public developer-key configuration",
    "lti.dynamic_registration": "starts a registration; its pages hold no session data",
    "lti.login": "OIDC login redirect (no session yet)",
    "admin.login": "the sign-in form (the admin blueprint sets no-store on it anyway)",
    "static": "stylesheet and scripts",
}
PUBLIC_BLUEPRINTS = ("sandbox", "sandbox_registration", "sandbox_services")

# endpoint -> (who, URL values, query); who: learner | instructor | admin
AUTHENTICATED: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "student.home": ("learner", {}, {}),
    "student.module": ("learner", {"module_id": "safety"}, {}),
    "student.play": ("learner", {"attempt_id": "open"}, {}),
    "student.start_screen": ("learner", {}, {"mode": "mock", "module_id": "safety"}),
    "student.submit_review": ("learner", {"attempt_id": "open"}, {}),
    "student.results": ("learner", {"attempt_id": "done"}, {}),
    "student.mastery": ("learner", {}, {}),
    "api.get_attempt": ("learner", {"attempt_id": "open"}, {}),
    "api.next_item": ("learner", {"attempt_id": "open"}, {}),
    "api.results": ("learner", {"attempt_id": "done"}, {}),
    "api.mastery": ("learner", {}, {}),
    "api.catalog": ("learner", {}, {}),
    "instructor.class_overview": ("instructor", {}, {}),
    "instructor.grades": ("instructor", {}, {}),
    "instructor.items": ("instructor", {}, {}),
    "instructor.student": ("instructor", {"user_id": "learner"}, {}),
    "instructor.attempt_review": ("instructor", {"attempt_id": "done"}, {}),
    "instructor.item_detail": ("instructor", {"item_id": "answered_item"}, {}),
    "instructor.preview": ("instructor", {}, {}),
    "instructor.preview_module": ("instructor", {"module_id": "quality"}, {}),
    "instructor.preview_drill": ("instructor", {"key_activity_id": "answered_topic"}, {}),
    "instructor.preview_lesson": ("instructor", {"lesson_id": "a_lesson"}, {}),
    "admin.console": ("admin", {}, {}),
    "admin.platform_new": ("admin", {}, {}),
    "admin.platform_edit": ("admin", {"platform_id": "platform"}, {}),
    "admin.platform_delete": ("admin", {"platform_id": "platform"}, {}),  # the confirm page
    "admin.platform_view": ("admin", {"platform_id": "platform"}, {}),
}
CSV_EXPORTS = ("instructor.class_overview", "instructor.grades", "instructor.items")


def _gets(app) -> dict[str, str]:
    return {endpoint: rule for endpoint, rule, methods in rules(app)
            if "GET" in methods and endpoint.split(".")[0] not in PUBLIC_BLUEPRINTS}


def test_every_get_route_is_listed_as_authenticated_or_public(live_server):
    routes = _gets(live_server.app)
    unlisted = sorted(set(routes) - set(AUTHENTICATED) - set(PUBLIC))
    assert not unlisted, f"GET routes not classified for caching: {unlisted}"
    stale = sorted((set(AUTHENTICATED) | set(PUBLIC)) - set(routes))
    assert not stale, stale


def _no_store(response, where: Any) -> None:
    assert "no-store" in response.headers.get("Cache-Control", ""), (
        where, response.status_code, response.headers.get("Content-Type"),
        response.headers.get("Cache-Control"))


def test_authenticated_answers_are_never_stored(live_server):
    server = live_server
    learner = actor(server, "canvas", person_sub("canvas", "learner", 0))
    instructor = actor(server, "canvas", person_sub("canvas", "instructor"))
    admin = admin_actor(server)
    done = practice_attempt(server, learner, "quality", size=2, answers=2, submit=True)
    # Writes answer with no-store too (the JSON they return is the student's).
    headers = {"X-CSRF-Token": learner.csrf}
    started = learner.post(f"{server.url}/api/attempts", headers=headers,
                           json={"mode": "practice", "module_id": "safety", "size": 2})
    assert started.status_code == 201
    _no_store(started, "POST /api/attempts")
    item = learner.get(f"{server.url}/api/attempts/{started.json()['id']}/item").json()
    answered = learner.post(f"{server.url}/api/attempts/{started.json()['id']}/answers",
                            headers=headers, json={"item_id": item["item"]["id"], "choice": 0,
                                                   "idempotency_key": "k" * 12})
    assert answered.status_code == 201
    _no_store(answered, "POST answers")
    _no_store(learner.get(f"{server.url}/api/attempts/not-mine"), "API 404")
    _no_store(instructor.landing, "instructor launch page")
    _no_store(learner.landing, "student landing")

    with db_session(server) as db:
        platform = db.scalars(select(Platform.id).order_by(Platform.id)).first()
        answered = db.scalars(select(Response.item_id).order_by(Response.id)).first()
        topic = db.get(CurriculumItem, answered).key_activity_id
        lesson = db.scalars(select(CurriculumLesson.id).where(
            CurriculumLesson.retired.is_(False)).order_by(CurriculumLesson.id)).first()
    ids = {"open": started.json()["id"], "done": done["id"], "learner": learner.user_id,
           "platform": platform, "answered_item": answered, "answered_topic": topic,
           "a_lesson": lesson}
    routes = _gets(server.app)
    for endpoint, (who, values, query) in AUTHENTICATED.items():
        url = server.url + Map([Rule(routes[endpoint], endpoint="x")]).bind("x").build(
            "x", {k: ids.get(v, v) for k, v in values.items()})
        http = {"learner": learner.http, "instructor": instructor.http,
                "admin": admin.http}[who]
        variants = [query] + ([{**query, "format": "csv"}] if endpoint in CSV_EXPORTS else [])
        for params in variants:
            r = http.get(url, params=params, timeout=TIMEOUT, allow_redirects=False)
            assert r.status_code == 200, (endpoint, params, r.status_code, r.text[:300])
            _no_store(r, (endpoint, params))
