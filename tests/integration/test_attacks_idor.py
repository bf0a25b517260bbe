"""IDOR and tenant isolation: every URL that names an attempt, a user or another object is
tried by people who must not reach it - a classmate, a student of another platform, an
instructor of another course or platform, a Moodle site administrator, an instructor whose
launch had no course, a student on staff URLs - and must answer 403/404, leak nothing and
write nothing. The parametrised routes come from ``app.url_map``: a new one fails the
inventory test until it is probed here or excluded with a reason.

Also: the same ``sub`` at the two sandbox platforms is two people, and an instructor's
class view shows only their own course's students.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from typing import Any

import requests
from sqlalchemy import select
from test_attacks_common import (
    TIMEOUT,
    WRITE_METHODS,
    Actor,
    actor,
    as_person,
    changed_tables,
    combine,
    db_session,
    in_course,
    person_sub,
    practice_attempt,
    rules,
    snapshot,
    without_context,
)
from werkzeug.routing import Map, Rule

from lti_tool.models import (
    Deployment,
    LrsEndpoint,
    Platform,
    PlatformRegistration,
    ResourceLink,
    User,
)
from lti_tool.sandbox.platforms import CANVAS, MOODLE

# Parametrised routes that name nothing private, and why.
EXCLUDED = {
    "student.module": "module_id names public curriculum, the same for everyone; the page "
                      "shows the viewer's own progress, found through the session",
    # The student preview shows public curriculum only and writes nothing
    # (test_instructor_preview.py); staff-only, which the learner test below checks.
    "instructor.preview_module": "module_id names public curriculum; no course data shown",
    "instructor.preview_drill": "key_activity_id names public curriculum; no course data",
    "instructor.preview_drill_answer": "public curriculum; feedback in memory, no row written",
    "instructor.preview_lesson": "lesson_id names public curriculum; no course data shown",
    "instructor.preview_lesson_answer": "public curriculum; feedback in memory, no row written",
    "static": "public stylesheet and scripts",
}
EXCLUDED_BLUEPRINTS = ("sandbox", "sandbox_registration", "sandbox_services")

# What each parametrised route names: an attempt, a course member, or an object of the
# admin console (reachable only with an admin sign-in, never with an LTI session).
KIND = {
    "student.play": "attempt", "student.answer": "attempt", "student.submit": "attempt",
    "student.submit_review": "attempt",
    "student.results": "attempt", "api.get_attempt": "attempt", "api.next_item": "attempt",
    "api.answer": "attempt", "api.submit": "attempt", "api.results": "attempt",
    "instructor.attempt_review": "attempt",
    "instructor.student": "user", "instructor.set_extra_time": "user",
    # An item's page reports how the viewer's course answered it: only for an item the
    # course's students answered, so it names course data.
    "instructor.item_detail": "item",
    "admin.platform_enabled": "admin", "admin.deployment_enabled": "admin",
    "admin.lrs_add": "admin", "admin.lrs_remove": "admin", "admin.keys_retire": "admin",
    "admin.registration_approve": "admin", "admin.registration_reject": "admin",
    "admin.platform_edit": "admin", "admin.platform_delete": "admin",
    "admin.platform_check": "admin",
    "admin.platform_view": "admin",
}
JSON_ROUTES = {"api.answer", "api.submit"}


def _routes(app) -> dict[str, tuple[str, frozenset[str]]]:
    return {endpoint: (rule, methods) for endpoint, rule, methods in rules(app)
            if "<" in rule and endpoint.split(".")[0] not in EXCLUDED_BLUEPRINTS}


def test_every_parametrised_route_is_probed_or_excluded(live_server):
    routes = _routes(live_server.app)
    unprobed = sorted(set(routes) - set(KIND) - set(EXCLUDED))
    assert not unprobed, f"routes taking ids with no IDOR probe: {unprobed} - add to KIND"
    stale = sorted((set(KIND) | set(EXCLUDED)) - set(routes))
    assert not stale, f"probes for routes that no longer exist: {stale}"


@dataclass
class Cast:
    people: dict[str, Actor]
    attempts: dict[str, dict[str, Any]]  # name -> attempt JSON (+ owner, first_item)
    ids: dict[str, Any]


def _cast(server) -> Cast:
    canvas_teacher = person_sub("canvas", "instructor")
    moodle_teacher = person_sub("moodle", "instructor")
    people = {
        "ana": actor(server, "canvas", person_sub("canvas", "learner", 0)),
        "ben": actor(server, "canvas", person_sub("canvas", "learner", 1)),
        "carla": actor(server, "canvas", canvas_teacher),
        "maria": actor(server, "moodle", person_sub("moodle", "learner", 0)),
        "grace": actor(server, "moodle", moodle_teacher),
        "moodle_admin": actor(server, "moodle", person_sub("moodle", "admin")),
        # Same Canvas, another course: its own instructor and student.
        "zed": actor(server, "canvas", canvas_teacher, combine(
            as_person("canvas-zed", "Zed", "Second"), in_course("course-two", "Course Two"))),
        "olga": actor(server, "canvas", person_sub("canvas", "learner", 0), combine(
            as_person("canvas-olga", "Olga", "Second"), in_course("course-two", "Course Two"))),
        # Links placed outside any course (the context claim is optional in LTI 1.3).
        "nc_teacher": actor(server, "moodle", moodle_teacher, combine(
            as_person("moodle-nc-teacher", "Nick", "Nocourse"), without_context)),
        "nc_student": actor(server, "canvas", person_sub("canvas", "learner", 0), combine(
            as_person("canvas-nc-student", "Nora", "Nocourse"), without_context)),
    }
    assert people["moodle_admin"].role == "admin" and people["zed"].role == "instructor"
    assert people["nc_teacher"].course_id is None and people["nc_student"].course_id is None
    assert people["zed"].course_id not in (None, people["carla"].course_id)
    attempts = {
        "ana_open": practice_attempt(server, people["ana"], "safety"),
        "ana_done": practice_attempt(server, people["ana"], "quality", submit=True),
        "nc_done": practice_attempt(server, people["nc_student"], "safety", submit=True),
    }
    attempts["ana_open"]["owner"] = attempts["ana_done"]["owner"] = "ana"
    attempts["nc_done"]["owner"] = "nc_student"
    nxt = people["ana"].get(f"{server.url}/api/attempts/{attempts['ana_open']['id']}/item")
    attempts["ana_open"]["next_item"] = nxt.json()["item"]
    with db_session(server) as db:
        canvas = db.scalars(select(Platform).where(Platform.client_id == CANVAS.client_id)).one()
        moodle = db.scalars(select(Platform).where(Platform.client_id == MOODLE.client_id)).one()
        dep = db.scalars(select(Deployment).where(Deployment.platform_id == moodle.id)).first()
        lrs = LrsEndpoint(platform_id=canvas.id, name="lrs", url="https://lrs.example.test/",
                          username="u", password_sealed="x")
        db.add(lrs)
        db.flush()
        waiting = PlatformRegistration(
            issuer="https://lms.example.test", client_id="pending", name="Waiting LMS",
            auth_login_url="https://lms.example.test/auth",
            auth_token_url="https://lms.example.test/token",
            key_set_url="https://lms.example.test/jwks",
            openid_configuration="https://lms.example.test/.well-known/openid-configuration")
        db.add(waiting)
        db.flush()
        ids = {"platform_id": moodle.id, "deployment_id": dep.id, "lrs_id": lrs.id,
               "kid": "any-kid", "registration_id": waiting.id}
    return Cast(people, attempts, ids)


# Who may legitimately reach what: (person, target) pairs; everyone else is refused.
def _allowed(kind: str, endpoint: str, person: str, target: str, cast: Cast) -> bool:
    if kind == "attempt":
        owner = cast.attempts[target]["owner"]
        if endpoint.startswith("instructor."):
            return person == "carla" and owner == "ana"  # Ana's course's instructor
        return person == owner
    if kind == "user":
        return (person, target) in {("carla", "ana"), ("grace", "maria"),
                                    ("moodle_admin", "maria"), ("zed", "olga")}
    if kind == "item":  # answered in Ana's course (finished test) or in no course at all
        return person == "carla" and target == "ana_done"
    return False  # LTI sessions never reach the admin console


def _targets(kind: str, cast: Cast) -> list[str]:
    if kind == "attempt":
        return list(cast.attempts)
    if kind == "user":
        return ["ana", "maria", "olga", "nc_student"]
    if kind == "item":
        return ["ana_done", "nc_done"]
    return ["-"]


def _url(server, rule: str, values: dict[str, Any]) -> str:
    return server.url + Map([Rule(rule, endpoint="x")]).bind("x").build("x", values)


def _request(server, who: Actor, endpoint: str, rule: str, method: str, kind: str,
             target: str, cast: Cast) -> requests.Response:
    values: dict[str, Any]
    body: dict[str, Any] = {}
    if kind == "attempt":
        attempt = cast.attempts[target]
        values = {"attempt_id": attempt["id"]}
        item = attempt.get("next_item") or attempt["first_item"]
        if endpoint.endswith("answer"):
            body = {"item_id": item["id"], "choice": 1, "idempotency_key": uuid.uuid4().hex}
    elif kind == "user":
        values = {"user_id": cast.people[target].user_id}
        body = {"multiplier": "2.0"}
    elif kind == "item":
        values = {"item_id": cast.attempts[target]["first_item"]["id"]}
    else:
        values = {k: v for k, v in cast.ids.items() if f"<{k}>" in rule or f":{k}>" in rule}
        body = {"enabled": "0", "name": "x", "endpoint": "https://evil.example/xapi/",
                "username": "u", "password": "p", "confirm": "yes",
                "key_set_url": "https://evil.example/jwks"}
    url = _url(server, rule, values)
    if method not in WRITE_METHODS:
        return who.http.request(method, url, timeout=TIMEOUT, allow_redirects=False)
    # The attacker's own valid CSRF token: only authorisation may stop the request.
    if endpoint in JSON_ROUTES:
        return who.http.request(method, url, json=body, timeout=TIMEOUT,
                                headers={"X-CSRF-Token": who.csrf}, allow_redirects=False)
    return who.http.request(method, url, data={**body, "csrf_token": who.csrf},
                            timeout=TIMEOUT, allow_redirects=False)


def _secrets_of(server, kind: str, target: str, cast: Cast) -> list[str]:
    """Strings a refusal must not contain: the victim's name, the attempt's items."""
    if kind == "attempt":
        attempt = cast.attempts[target]
        owner = cast.people[attempt["owner"]]
        return [attempt["first_item"]["id"], attempt["first_item"]["stem"][:40],
                _name(server, owner)]
    if kind == "user":
        return [_name(server, cast.people[target])]
    if kind == "item":  # the page's figures: its responses and facility
        return [cast.attempts[target]["first_item"]["stem"][:40]]
    return []


def _name(server, person: Actor) -> str:
    with db_session(server) as db:
        user = db.get(User, person.user_id)
        assert user is not None
        return user.name or user.sub


def test_nobody_reaches_what_is_not_theirs(live_server):
    server = live_server
    cast = _cast(server)
    routes = _routes(server.app)
    before = snapshot(server)
    controls: list[tuple[str, str, str, int]] = []
    refused = 0
    for endpoint, kind in KIND.items():
        rule, methods = routes[endpoint]
        for method in sorted(methods):
            for target in _targets(kind, cast):
                secrets = _secrets_of(server, kind, target, cast)
                for person, who in cast.people.items():
                    if _allowed(kind, endpoint, person, target, cast):
                        if method not in WRITE_METHODS:
                            r = _request(server, who, endpoint, rule, method, kind, target,
                                         cast)
                            controls.append((endpoint, person, target, r.status_code))
                        continue
                    r = _request(server, who, endpoint, rule, method, kind, target, cast)
                    where = (endpoint, method, person, target, r.status_code, r.text[:300])
                    if kind == "admin":
                        assert r.status_code == 302, where
                        assert r.headers["Location"].endswith("/admin/login"), where
                    else:
                        assert r.status_code in (403, 404), where
                        if endpoint.startswith("instructor.") and who.role == "learner":
                            assert r.status_code == 403, where
                    for secret in secrets:
                        assert secret not in r.text, (where, secret)
                    refused += 1
    assert not changed_tables(before, snapshot(server)), changed_tables(before,
                                                                        snapshot(server))
    # Controls: the rightful owner or course instructor does get in, so the refusals above
    # are about who asked, not about a broken URL.
    odd = [c for c in controls if c[3] != 200 and not (
        c[2] != "ana_open" and (c[0], c[3]) in {
            ("student.play", 303), ("student.submit_review", 303), ("api.next_item", 409)})]
    assert controls and not odd, odd
    assert {(e, p) for e, p, _, _ in controls} >= {
        ("instructor.attempt_review", "carla"), ("instructor.student", "carla"),
        ("instructor.student", "grace"), ("instructor.student", "zed"),
        ("api.get_attempt", "ana"), ("student.results", "nc_student"),
        ("instructor.item_detail", "carla")}
    assert refused > 300


def test_learners_are_refused_on_every_staff_route(live_server):
    """A student's session on each instructor URL (from the URL map): 403, nothing
    written, even with the student's own valid CSRF token."""
    server = live_server
    ana = actor(server, "canvas", person_sub("canvas", "learner", 0))
    staff = [(e, rule, methods) for e, rule, methods in rules(server.app)
             if e.startswith("instructor.") or e == "lti.deep_link_response"]
    assert len(staff) >= 9
    before = snapshot(server)
    for endpoint, rule, methods in staff:
        # A well-formed attempt id (a UUID): anything else is a 404 before any role check.
        url = _url(server, rule, {"attempt_id": str(uuid.uuid4()), "user_id": ana.user_id,
                                  "item_id": "SAF-001", "module_id": "safety",
                                  "key_activity_id": "x", "lesson_id": "x"})
        for method in sorted(methods):
            data = {"csrf_token": ana.csrf} if method in WRITE_METHODS else None
            r = ana.http.request(method, url, data=data, timeout=TIMEOUT,
                                 allow_redirects=False)
            assert r.status_code == 403, (endpoint, method, r.status_code)
            assert "for instructors" in r.text
    assert not changed_tables(before, snapshot(server))


def _class_names(person: Actor, server) -> list[str]:
    r = person.get(f"{server.url}/instructor/class", params={"format": "csv"})
    assert r.status_code == 200, r.text[:300]
    return [row[0] for row in list(csv.reader(io.StringIO(r.text)))[1:]]


def test_same_sub_on_two_platforms_is_two_people(live_server):
    """Moodle sends the sub Canvas uses for Ana: a different person, who sees none of Ana's
    work and cannot reach it; each instructor's class shows only their own course."""
    server = live_server
    ana = actor(server, "canvas", person_sub("canvas", "learner", 0))
    done = practice_attempt(server, ana, "safety", answers=3, submit=True)
    twin = actor(server, "moodle", person_sub("moodle", "learner", 0),
                 as_person(ana_sub := person_sub("canvas", "learner", 0), "Mallory", "Moodle"))
    assert twin.user_id != ana.user_id and twin.course_id != ana.course_id
    with db_session(server) as db:
        users = list(db.scalars(select(User).where(User.sub == ana_sub)))
        assert len({u.platform_id for u in users}) == 2
        assert {u.name for u in users} == {"Ana Reyes", "Mallory Moodle"}
    mastery = twin.get(f"{server.url}/api/mastery").json()
    assert all(a["evidence"] == 0 for a in mastery["activities"])
    home = twin.get(f"{server.url}/home")
    assert "Mallory" in home.text and "Ana" not in home.text
    assert CANVAS.context_title not in home.text
    for path in (f"/api/attempts/{done['id']}/results", f"/attempts/{done['id']}/results"):
        assert twin.get(server.url + path).status_code == 404
    # A relaunch of Ana on Canvas is still Ana, with her answers.
    again = actor(server, "canvas", ana_sub)
    assert again.user_id == ana.user_id
    assert sum(a["evidence"] for a in again.get(
        f"{server.url}/api/mastery").json()["activities"]) == 3

    ben = actor(server, "canvas", person_sub("canvas", "learner", 1))
    olga = actor(server, "canvas", ana_sub, combine(
        as_person("canvas-olga", "Olga", "Second"), in_course("course-two", "Course Two")))
    carla = actor(server, "canvas", person_sub("canvas", "instructor"))
    grace = actor(server, "moodle", person_sub("moodle", "instructor"))
    zed = actor(server, "canvas", person_sub("canvas", "instructor"), combine(
        as_person("canvas-zed", "Zed", "Second"), in_course("course-two", "Course Two")))
    assert sorted(_class_names(carla, server)) == ["Ana Reyes", "Ben Okafor"]
    assert _class_names(grace, server) == ["Mallory Moodle"]
    assert _class_names(zed, server) == ["Olga Second"]
    page = carla.get(f"{server.url}/instructor/class").text
    assert "Mallory" not in page and "Olga" not in page
    # Ana's answers count in her course's item analysis only.
    for teacher, expected in ((carla, 3), (grace, 0), (zed, 0)):
        r = teacher.get(f"{server.url}/instructor/items", params={"format": "csv"})
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert sum(int(row["responses"]) for row in rows) == expected
    assert ben.user_id != olga.user_id


def test_a_session_stays_in_its_own_course(live_server):
    """A Moodle instructor's session cannot act on Canvas's course: the grade policy and
    roster actions work on the session's own link and course only."""
    server = live_server
    ana = actor(server, "canvas", person_sub("canvas", "learner", 0))
    practice_attempt(server, ana, "safety", submit=True)
    grace = actor(server, "moodle", person_sub("moodle", "instructor"))
    carla = actor(server, "canvas", person_sub("canvas", "instructor"))
    r = grace.post(f"{server.url}/instructor/grades/policy",
                   data={"policy": "average", "csrf_token": grace.csrf})
    assert r.status_code == 200  # followed to her own grades page
    assert "Ana" not in r.text
    with db_session(server) as db:
        links = {link.course_id: link.grading_policy.value
                 for link in db.scalars(select(ResourceLink))}
        assert links[carla.course_id] == "best" and links[grace.course_id] == "average"
    # Grace's session id, however it is carried, reaches Grace's course and nothing else.
    stolen = requests.Session()
    stolen.headers["X-CPT-Session"] = grace.session_id
    assert stolen.get(f"{server.url}/instructor/students/{ana.user_id}",
                      timeout=TIMEOUT).status_code == 404
