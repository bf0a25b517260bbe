"""Bad input is a clear 4xx, never a 5xx (issue 15 point 7), on SQLite and PostgreSQL.

Reproduced with real parts: id_tokens built like the sandbox LMS's, edited, signed with the
platform's real key (so they pass signature validation and reach the claim code) and
posted after a real OIDC login; path segments and JSON/form values sent by a launched
student, instructor or admin. PostgreSQL is where most of these were 500s: it refuses a
NUL in text, a value longer than its column and an integer beyond 64 bits, where SQLite
stores anything.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import jwt
import pytest
import requests
from lti_helpers import CLAIM, assert_refused, begin_launch
from sqlalchemy import select
from test_attacks_common import (
    TIMEOUT,
    actor,
    admin_actor,
    changed_tables,
    db_session,
    person_sub,
    practice_attempt,
    snapshot,
)

from lti_tool.models import Course, Platform, ResourceLink, User
from lti_tool.sandbox.setup import sandbox_key

AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
LONG = "x" * 3000
INSTRUCTOR = person_sub("canvas", "instructor")


def _set(path: str, value: Any):
    """An edit that sets one claim (``a/b`` sets key ``b`` inside claim ``a``)."""

    def edit(claims: dict[str, Any]) -> None:
        *parents, last = path.split("|")
        target = claims
        for key in parents:
            target = target[key]
        target[last] = value

    return edit


def signed_launch(server, user: str | None = None, edit=None,
                  message_type: str = "LtiResourceLinkRequest") -> tuple[Any, requests.Response]:
    """test_attacks_common.signed_launch, signing the claims as they are: PyJWT's
    ``jwt.encode`` refuses some wrong shapes (an ``iss`` that is a number) before they
    could be sent, so the JSON is signed as a JWS payload (still PyJWT, RS256, the
    platform's real key)."""
    pending = begin_launch(server, "canvas", user)
    claims = pending.claims(message_type)
    if edit is not None:
        edit(claims)
    with db_session(server) as db:
        key = sandbox_key(db, pending.platform)
        pem, kid = key.private_key_pem, key.kid
    token = jwt.api_jws.encode(json.dumps(claims).encode(), pem, algorithm="RS256",
                               headers={"kid": kid})
    return pending, pending.session.post(pending.redirect_uri, timeout=TIMEOUT,
                                         data={"id_token": token, "state": pending.state})


# (edit, message type, user, the claim the refusal names)
WRONG_SHAPES: dict[str, tuple] = {
    "resource_link a string": (_set(CLAIM + "resource_link", "link-1"), None, None,
                               "resource_link"),
    "resource_link a list": (_set(CLAIM + "resource_link", [{"id": "x"}]), None, None,
                             "resource_link"),
    "resource_link null": (_set(CLAIM + "resource_link", None), None, None, "resource_link"),
    "ags endpoint null in a submission review": (_set(AGS, None),
                                                 "LtiSubmissionReviewRequest", INSTRUCTOR,
                                                 "endpoint"),
    "resource_link id a number": (_set(CLAIM + "resource_link|id", 42), None, None,
                                  "resource_link.id"),
    "context a list": (_set(CLAIM + "context", ["c1"]), None, None, "context"),
    "context id an object": (_set(CLAIM + "context|id", {"id": "c"}), None, None,
                             "context.id"),
    "context title a number": (_set(CLAIM + "context|title", 7), None, None,
                               "context.title"),
    "roles a string": (_set(CLAIM + "roles", "Learner"), None, None, "roles"),
    "roles a list of numbers": (_set(CLAIM + "roles", [1, 2]), None, None, "roles"),
    "custom a list": (_set(CLAIM + "custom", ["activity", "mock"]), None, None, "custom"),
    "custom value an object": (_set(CLAIM + "custom|activity", {"a": 1}), None, None,
                               "custom"),
    "ags endpoint a string": (_set(AGS, "https://lms.test/lineitems"), None, None,
                              "endpoint"),
    "ags lineitems a number": (_set(AGS + "|lineitems", 5), None, None, "lineitems"),
    "ags scope a string": (_set(AGS + "|scope", "https://purl.imsglobal.org/x"), None, None,
                           "scope"),
    "nrps claim a number": (_set(NRPS, 12), None, None, "namesroleservice"),
    "lis a string": (_set(CLAIM + "lis", "RCC0001"), None, None, "lis"),
    "launch_presentation a list": (_set(CLAIM + "launch_presentation", []), None, None,
                                   "launch_presentation"),
    "tool_platform a string": (_set(CLAIM + "tool_platform", "canvas"), None, None,
                               "tool_platform"),
    "target_link_uri a list": (_set(CLAIM + "target_link_uri", ["https://x.test"]), None,
                               None, "target_link_uri"),
    "sub a number": (_set("sub", 12345), None, None, "sub"),
    "sub with a NUL": (_set("sub", "ana\x00"), None, None, "sub"),
    "name a list": (_set("name", ["Ana", "Lima"]), None, None, "name"),
    "email a number": (_set("email", 5), None, None, "email"),
    "exp a string": (_set("exp", "tomorrow"), None, None, "exp"),
    "iat a float overflow": (_set("iat", 1e300), None, None, "iat"),
    "deployment_id a number": (_set(CLAIM + "deployment_id", 1), None, None,
                               "deployment_id"),
    "aud an object": (_set("aud", {"client": "x"}), None, None, "aud"),
    "iss a number": (_set("iss", 10), None, None, "iss"),
    "context title with a NUL": (_set(CLAIM + "context|title", "Intro\x00"), None, None,
                                 "context.title"),
    "deep linking settings a string": (_set(DL, "https://lms.test/return"),
                                       "LtiDeepLinkingRequest", INSTRUCTOR,
                                       "deep_linking_settings"),
    "deep linking accept_types a string": (_set(DL + "|accept_types", "ltiResourceLink"),
                                           "LtiDeepLinkingRequest", INSTRUCTOR,
                                           "accept_types"),
    "deep linking return url a list": (_set(DL + "|deep_link_return_url", ["https://x"]),
                                       "LtiDeepLinkingRequest", INSTRUCTOR,
                                       "deep_link_return_url"),
    "deep linking data a number": (_set(DL + "|data", 12), "LtiDeepLinkingRequest",
                                   INSTRUCTOR, "data"),
    "for_user a string": (_set(CLAIM + "for_user", "someone"), "LtiSubmissionReviewRequest",
                          INSTRUCTOR, "for_user"),
}

OVERSIZED_IDENTIFIERS: dict[str, tuple] = {
    "sub of 3,000 characters": (_set("sub", LONG), "sub"),
    "context id of 3,000 characters": (_set(CLAIM + "context|id", LONG), "context.id"),
    "resource link id of 3,000 characters": (_set(CLAIM + "resource_link|id", LONG),
                                             "resource_link.id"),
    "deployment id of 3,000 characters": (_set(CLAIM + "deployment_id", LONG),
                                          "deployment_id"),
    "ags line items URL of 3,000 characters": (
        _set(AGS + "|lineitems", "https://canvas.test/" + LONG), "lineitems"),
    "custom value of 5,000 characters": (_set(CLAIM + "custom|module", "m" * 5000),
                                         "custom"),
    "500 roles": (_set(CLAIM + "roles", ["http://purl.imsglobal.org/vocab/lis/v2/"
                                         f"membership#Learner{n}" for n in range(500)]),
                  "roles"),
}


@pytest.mark.parametrize("case", list(WRONG_SHAPES))
def test_a_wrongly_shaped_claim_is_refused_naming_it(live_server, case):
    """A signed launch with one claim of the wrong JSON type (reproduced: a string
    ``resource_link`` was a 500) is refused with ``bad_claim`` naming the claim, and
    writes nothing."""
    edit, message_type, user, name = WRONG_SHAPES[case]
    before = snapshot(live_server)
    _, response = signed_launch(live_server, user=user, edit=edit,
                                message_type=message_type or "LtiResourceLinkRequest")
    assert_refused(response, "bad_claim")
    assert response.status_code == 400
    assert name in response.text
    after = snapshot(live_server)
    # The one-time nonce of the refused launch is not burnt; the login's state row stays.
    # The platform the token names notes its last refused launch for the admin console
    # (ops/launch_failures.py): the time, the code and a fixed reason, nothing else.
    changed = [t for t in changed_tables(before, after) if t != "platform"]
    assert changed in ([], ["launch_value"], ["counter"], ["counter", "launch_value"]), \
        changed_tables(before, after)
    with db_session(live_server) as db:
        noted = [(p.last_failed_launch_code, p.last_failed_launch_reason)
                 for p in db.scalars(select(Platform)) if p.last_failed_launch_at]
    assert noted in ([], [("bad_claim", noted[0][1] if noted else "")])
    assert not noted or name not in (noted[0][1] or "")  # no claim text kept


@pytest.mark.parametrize("case", list(OVERSIZED_IDENTIFIERS))
def test_an_oversized_identifier_is_refused_naming_it(live_server, case):
    """An identifier longer than LTI allows (255 characters for sub, context, link and
    deployment ids; reproduced: 3,000 made PostgreSQL fail with a 500) cannot be
    shortened without becoming someone else's: the launch is refused, naming it."""
    edit, name = OVERSIZED_IDENTIFIERS[case]
    _, response = signed_launch(live_server, edit=edit)
    assert_refused(response, "bad_claim")
    assert response.status_code == 400
    assert name in response.text


def test_oversized_display_text_is_shortened_and_the_launch_works(live_server):
    """Names and titles are only shown: a 3,000-character one is cut to what its column
    holds and the launch goes on; an over-long email is dropped (a cut address would be
    somebody else's)."""

    def edit(claims: dict[str, Any]) -> None:
        claims["name"] = claims["given_name"] = claims["family_name"] = "N" * 3000
        claims["email"] = "e" * 3000 + "@example.test"
        claims[CLAIM + "context"]["title"] = "T" * 3000
        claims[CLAIM + "context"]["label"] = "L" * 3000
        claims[CLAIM + "resource_link"]["title"] = "R" * 3000

    student = actor(live_server, edit=edit)
    with db_session(live_server) as db:
        user = db.get(User, student.user_id)
        assert (user.name, user.given_name, user.family_name) == ("N" * 255,) * 3
        assert user.email is None
        course = db.get(Course, student.course_id)
        assert (course.title, course.label) == ("T" * 512, "L" * 255)
        link = db.get(ResourceLink, student.resource_link_id)
        assert link.title == "R" * 512


# -- path segments -------------------------------------------------------------------------

def test_a_nul_or_control_character_in_any_path_segment_is_a_400(live_server):
    """Reproduced: ``/api/attempts/%00/submit`` and ``/results`` were 500s on PostgreSQL
    (NUL cannot be stored or compared in text). Every route with a path parameter, reached
    by someone allowed in (student, instructor, admin), answers 400 before any query."""
    server = live_server
    ana = actor(server)
    carla = actor(server, user=INSTRUCTOR)
    admin = admin_actor(server)
    get_api = {"Accept": "application/json"}
    probes = [
        (ana, "POST", "/api/attempts/{}/submit", {"X-CSRF-Token": ana.csrf}, None),
        (ana, "GET", "/api/attempts/{}/results", get_api, None),
        (ana, "GET", "/api/attempts/{}", get_api, None),
        (ana, "GET", "/api/attempts/{}/item", get_api, None),
        (ana, "POST", "/api/attempts/{}/answers", {"X-CSRF-Token": ana.csrf},
         {"item_id": "S-001", "choice": 0, "idempotency_key": "k" * 16}),
        (ana, "GET", "/attempts/{}", {}, None),
        (ana, "GET", "/attempts/{}/results", {}, None),
        (ana, "POST", "/attempts/{}/submit", {}, {"csrf_token": ana.csrf}),
        (ana, "POST", "/attempts/{}/answer", {}, {"csrf_token": ana.csrf, "choice": "0",
                                                  "item_id": "S-001"}),
        (ana, "GET", "/modules/{}", {}, None),
        (carla, "GET", "/instructor/attempts/{}", {}, None),
        (admin, "POST", "/admin/keys/{}/retire", {}, {"csrf_token": admin.csrf}),
    ]
    failures = []
    for segment in ("%00", "a%00b", "%01", "%1f", "%7f"):
        for who, method, pattern, headers, body in probes:
            url = server.url + pattern.format(segment)
            kw: dict[str, Any] = {"headers": headers, "allow_redirects": False}
            if body is not None:
                kw["json" if pattern.startswith("/api/") else "data"] = body
            r = who.http.request(method, url, timeout=TIMEOUT, **kw)
            if r.status_code != 400 or "Traceback" in r.text:
                failures.append((method, url, r.status_code, r.text[:120]))
    assert not failures, failures


def test_an_attempt_id_that_is_no_uuid_is_a_404(live_server):
    """Attempt ids are UUIDs: anything else (3,000 characters, text) answers 404 at once,
    never reaching the database with a value longer than its column."""
    server = live_server
    ana = actor(server)
    carla = actor(server, user=INSTRUCTOR)
    failures = []
    for segment in ("x" * 3000, "not-a-uuid", "1", str(uuid.uuid4()) + "0"):
        for who, path in ((ana, "/api/attempts/{}/results"), (ana, "/attempts/{}"),
                          (ana, "/api/attempts/{}"), (carla, "/instructor/attempts/{}")):
            r = who.get(server.url + path.format(segment), allow_redirects=False)
            if r.status_code != 404:
                failures.append((path, segment[:20], r.status_code, r.text[:120]))
    assert not failures, failures


def test_an_integer_path_segment_beyond_any_id_is_a_404(live_server):
    """``<int:...>`` segments accept any number of digits; one beyond a database integer
    (2^63 and more) failed on PostgreSQL. No row has such an id: 404."""
    server = live_server
    carla = actor(server, user=INSTRUCTOR)
    admin = admin_actor(server)
    failures = []
    for number in (2 ** 31, 2 ** 63, 10 ** 40):
        for who, method, path, data in (
                (carla, "GET", f"/instructor/students/{number}", None),
                (carla, "POST", f"/instructor/students/{number}/time",
                 {"csrf_token": carla.csrf, "multiplier": "1.5"}),
                (admin, "POST", f"/admin/platforms/{number}/enabled",
                 {"csrf_token": admin.csrf, "enabled": "1"}),
                (admin, "POST", f"/admin/deployments/{number}/enabled",
                 {"csrf_token": admin.csrf, "enabled": "1"}),
                (admin, "POST", f"/admin/lrs/{number}/remove", {"csrf_token": admin.csrf})):
            r = who.http.request(method, server.url + path, data=data, timeout=TIMEOUT,
                                 allow_redirects=False)
            if r.status_code != 404:
                failures.append((method, path, r.status_code, r.text[:120]))
    assert not failures, failures


# -- integers in the JSON API and the forms --------------------------------------------------

def _answer(server, student, attempt_id: str, **fields: Any):
    body = {"item_id": "S-001", "choice": 0, "idempotency_key": uuid.uuid4().hex, **fields}
    return student.post(f"{server.url}/api/attempts/{attempt_id}/answers",
                        headers={"X-CSRF-Token": student.csrf}, json=body)


def test_out_of_range_integers_in_the_json_api_are_a_400(live_server):
    """Reproduced: ``duration_ms`` of 2^63 was a 500 on PostgreSQL (BIGINT overflow).
    Every integer the API takes is bounded and answers 400 with a message naming it."""
    server = live_server
    ana = actor(server)
    attempt = practice_attempt(server, ana, answers=0)
    item_id = ana.get(f"{server.url}/api/attempts/{attempt['id']}/item").json()["item"]["id"]
    headers = {"X-CSRF-Token": ana.csrf}
    cases = [
        ("duration_ms", {"duration_ms": 2 ** 63}),
        ("duration_ms", {"duration_ms": 10 ** 30}),
        ("duration_ms", {"duration_ms": 24 * 3600 * 1000 + 1}),
        ("duration_ms", {"duration_ms": -1}),
        ("duration_ms", {"duration_ms": 1.5}),
        ("duration_ms", {"duration_ms": True}),
        ("choice", {"choice": 2 ** 63}),
        ("choice", {"choice": -1}),
        ("choice", {"choice": 10}),
        ("idempotency_key", {"idempotency_key": 2 ** 63}),
    ]
    failures = []
    for name, fields in cases:
        r = _answer(server, ana, attempt["id"], item_id=item_id, **fields)
        if r.status_code != 400 or name not in r.json().get("message", ""):
            failures.append((fields, r.status_code, r.text[:160]))
    for size in (2 ** 63, 0, -5, 101):
        r = ana.post(f"{server.url}/api/attempts", headers=headers,
                     json={"mode": "practice", "module_id": "safety", "size": size})
        if r.status_code != 400 or "size" not in r.json().get("message", ""):
            failures.append(("size", size, r.status_code, r.text[:160]))
    for position in (2 ** 63, 10 ** 30, 0, -1, 1001):
        r = ana.get(f"{server.url}/api/attempts/{attempt['id']}/item",
                    params={"position": position})
        if r.status_code != 400 or "position" not in r.json().get("message", ""):
            failures.append(("position", position, r.status_code, r.text[:160]))
    assert not failures, failures


def test_out_of_range_integers_in_the_forms_are_a_400(live_server):
    """The HTML pages take the same integers as form fields and query parameters."""
    server = live_server
    ana = actor(server)
    attempt = practice_attempt(server, ana, answers=0)
    url = f"{server.url}/attempts/{attempt['id']}"
    before = snapshot(server)
    failures = []
    for choice in (str(2 ** 63), str(10 ** 30), "-1", "10"):
        r = ana.post(url + "/answer", allow_redirects=False,
                     data={"csrf_token": ana.csrf, "choice": choice,
                           "item_id": attempt["first_item"] and attempt["first_item"]["id"]
                           or "S-001", "idempotency_key": uuid.uuid4().hex})
        if r.status_code != 400 or "Traceback" in r.text:
            failures.append(("choice", choice, r.status_code, r.text[:160]))
    for position in (str(2 ** 63), "0", "-1", "1001"):
        r = ana.get(url, params={"position": position}, allow_redirects=False)
        if r.status_code != 400:
            failures.append(("position", position, r.status_code, r.text[:160]))
        r = ana.post(url + "/answer", allow_redirects=False,
                     data={"csrf_token": ana.csrf, "choice": "0", "position": position,
                           "item_id": "S-001", "idempotency_key": uuid.uuid4().hex})
        if r.status_code != 400:
            failures.append(("answer position", position, r.status_code, r.text[:160]))
    assert not failures, failures
    with db_session(server) as db:
        assert db.scalars(select(User)).first() is not None
    assert changed_tables(before, snapshot(server)) in ([], ["counter"])


def test_admin_lrs_form_with_oversized_values_is_refused_with_a_notice(live_server):
    """Reproduced: the console's LRS form with a 3,000-character endpoint or user name
    was a 500 on PostgreSQL (the columns hold 1,024 and 255). Now a notice, nothing saved."""
    server = live_server
    admin = admin_actor(server)
    with db_session(server) as db:
        platform_id = db.scalars(select(Platform.id)).first()
    before = snapshot(server)
    for field, value in (("endpoint", "https://lrs.example.test/" + LONG),
                         ("username", LONG)):
        fields = {"name": "lrs", "endpoint": "https://lrs.example.test/xapi/",
                  "username": "u", "password": "p", field: value}
        r = admin.http.post(f"{server.url}/admin/platforms/{platform_id}/lrs",
                            data={"csrf_token": admin.csrf, **fields}, timeout=TIMEOUT)
        assert r.status_code == 200, (field, r.status_code, r.text[:300])
        assert "LRS not saved" in r.text and "at most" in r.text
    assert "lrs_endpoint" not in changed_tables(before, snapshot(server))
