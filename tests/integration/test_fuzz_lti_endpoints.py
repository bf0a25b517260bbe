"""Property-based fuzzing of /lti/login and /lti/launch: 2,000 malformed requests, and the
answer is always a clear 4xx page (or a redirect), never a 5xx or a stack trace.

Then past the signature (issue 15, point 7): id_tokens after a real login, with claims of
the wrong type, shape or size, signed with the sandbox platform's real key so that they
reach the claim code; every path parameter of every route with random text (NUL, control
characters, thousands of characters) sent by someone allowed in; and hostile numbers and
shapes in the JSON API. Bounded: the file runs in well under a minute per backend."""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import jwt
import pytest
import requests
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lti_helpers import storage_config
from support import LiveServer
from test_attacks_common import actor, admin_actor, person_sub

from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.sandbox import lms
from lti_tool.sandbox.platforms import CANVAS
from lti_tool.sandbox.setup import sandbox_key

PARAMS = ["iss", "login_hint", "target_link_uri", "lti_message_hint", "client_id",
          "lti_deployment_id", "lti_storage_target", "id_token", "state", "nonce"]
ISSUERS = st.sampled_from(["https://canvas.instructure.com", "https://unknown.example",
                           "", "not a url", "javascript:alert(1)", "https://" + "a" * 3000])
TEXT = st.text(max_size=200) | st.binary(max_size=100).map(
    lambda b: b.decode("latin-1")) | ISSUERS


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


# JWT-looking tokens with hostile headers and claims: the validation path, not just parsing.
JWTS = st.builds(
    lambda header, claims, sig: f"{_b64(header)}.{_b64(claims)}.{sig}",
    st.fixed_dictionaries({}, optional={
        "alg": st.sampled_from(["RS256", "none", "HS256", "ES256", ""]),
        "kid": st.text(max_size=40), "typ": st.text(max_size=10)}),
    st.fixed_dictionaries({}, optional={
        "iss": ISSUERS, "aud": st.one_of(st.text(max_size=20), st.lists(
            st.text(max_size=20), max_size=3), st.just(CANVAS.client_id)),
        "nonce": st.text(max_size=30), "exp": st.integers(), "iat": st.integers(),
        "sub": st.text(max_size=30),
        "https://purl.imsglobal.org/spec/lti/claim/message_type": st.text(max_size=40),
        "https://purl.imsglobal.org/spec/lti/claim/deployment_id": st.text(max_size=40),
        "https://purl.imsglobal.org/spec/lti/claim/roles": st.lists(st.text(max_size=30))}),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", max_size=50))

FORMS = st.dictionaries(st.sampled_from(PARAMS), TEXT | JWTS, max_size=6)


def _ok(answer) -> None:
    assert answer.status_code < 500, answer.data[:300]
    assert b"Traceback" not in answer.data


@pytest.fixture
def fuzz_client(app):
    return app.test_client()


@settings(max_examples=700, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(form=FORMS, method=st.sampled_from(["GET", "POST"]))
def test_login_never_fails_with_a_server_error(fuzz_client, form, method):
    if method == "GET":
        _ok(fuzz_client.get("/lti/login", query_string=form))
    else:
        _ok(fuzz_client.post("/lti/login", data=form))


@settings(max_examples=1300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(form=FORMS, cookie=st.none() | st.text(max_size=60))
def test_launch_never_fails_with_a_server_error(fuzz_client, form, cookie):
    if cookie is not None:
        fuzz_client.set_cookie("lti1p3-state", cookie.encode("ascii", "ignore").decode())
    _ok(fuzz_client.post("/lti/launch", data=form))


@pytest.mark.parametrize("where", ["form", "query", "cookie", "json"])
def test_a_nul_byte_is_a_clear_400_not_a_database_error(client, where):
    """Found by the fuzzing above: PostgreSQL cannot store NUL, so a state of "\\x00"
    reached the launch-state query and failed with a 500."""
    if where == "form":
        answer = client.post("/lti/launch", data={"state": "\x00", "id_token": "x"})
    elif where == "query":
        answer = client.get("/lti/login", query_string={"iss": "https://x.test\x00"})
    elif where == "cookie":
        client.set_cookie("lti1p3-state", "a\x00b")
        answer = client.post("/lti/launch", data={"state": "s", "id_token": "x"})
    else:
        answer = client.post("/api/attempts", data='{"mode": "drill\\u0000"}',
                             content_type="application/json")
    assert answer.status_code == 400
    assert b"NUL" in answer.data and b"Traceback" not in answer.data


# -- signed id_tokens with ill-typed, oversized and wrongly shaped claims --------------------

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
# Every claim the tool reads, top level and one level down (claim, member or None).
CLAIM_PATHS = [
    ("sub", None), ("iss", None), ("aud", None), ("azp", None), ("exp", None),
    ("iat", None), ("nbf", None), ("nonce", None), ("name", None), ("given_name", None),
    ("family_name", None), ("email", None), (CLAIM + "deployment_id", None),
    (CLAIM + "message_type", None), (CLAIM + "version", None), (CLAIM + "roles", None),
    (CLAIM + "target_link_uri", None), (CLAIM + "context", None),
    (CLAIM + "context", "id"), (CLAIM + "context", "label"), (CLAIM + "context", "title"),
    (CLAIM + "resource_link", None), (CLAIM + "resource_link", "id"),
    (CLAIM + "resource_link", "title"), (CLAIM + "custom", None),
    (CLAIM + "custom", "activity"), (CLAIM + "custom", "module"), (CLAIM + "custom", "size"),
    (AGS, None), (AGS, "lineitems"), (AGS, "lineitem"), (AGS, "scope"), (NRPS, None),
    (NRPS, "context_memberships_url"), (CLAIM + "lis", None),
    (CLAIM + "launch_presentation", None), (CLAIM + "launch_presentation", "locale"),
    (CLAIM + "tool_platform", None), (CLAIM + "tool_platform", "product_family_code"),
    (CLAIM + "for_user", None), (CLAIM + "for_user", "user_id"), (DL, None),
    (DL, "deep_link_return_url"), (DL, "accept_types"), (DL, "accept_multiple"),
    (DL, "data"), (DL, "title"),
]
CONTROL_TEXT = st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=30)
LONG_TEXT = st.builds(lambda c, n: c * n, st.characters(blacklist_categories=("Cs",)),
                      st.integers(250, 5000))
# What JSON can carry (Python's json also reads NaN and Infinity, so a token may hold them).
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70)
           | st.floats() | st.text(max_size=40) | CONTROL_TEXT | LONG_TEXT)


def _nested(scalars):
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(max_size=10), inner, max_size=4), max_leaves=8)


HOSTILE = _nested(SCALARS)
DELETE = object()
EDITS = st.lists(st.tuples(st.sampled_from(CLAIM_PATHS), HOSTILE | st.just(DELETE)),
                 min_size=1, max_size=4)
MESSAGES = st.sampled_from(["LtiResourceLinkRequest", "LtiDeepLinkingRequest",
                            "LtiSubmissionReviewRequest"])


def _apply(claims: dict[str, Any], edits) -> None:
    for (claim, member), value in edits:
        if member is None:
            if value is DELETE:
                claims.pop(claim, None)
            else:
                claims[claim] = value
            continue
        holder = claims.get(claim)
        if not isinstance(holder, dict):
            holder = claims[claim] = {}
        if value is DELETE:
            holder.pop(member, None)
        else:
            holder[member] = value


class SignedLauncher:
    """Real logins through the tool (test client, so each costs no socket), then a claim
    set built like the sandbox's, edited, signed with the platform's real key and posted
    by the same client. The live server is there for the tool's JWKS fetch."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.client = server.app.test_client()
        self.platform = CANVAS
        engine = make_engine(server.settings.database_url)
        try:
            with transaction(make_session_factory(engine)) as db:
                key = sandbox_key(db, self.platform)
                self.pem, self.kid = key.private_key_pem, key.kid
        finally:
            engine.dispose()

    def launch(self, sub: str, message_type: str, edits) -> Any:
        settings = self.server.settings
        person = self.platform.person(sub)
        link = lms.DEMO_LINKS[0]
        login = self.client.get("/lti/login", query_string=lms.login_initiation(
            settings, self.platform, person, link, message_type))
        storage = storage_config(login.get_data(as_text=True))
        location = storage["redirect"] if storage else login.headers["Location"]
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        claims = lms.id_token_claims(settings, self.platform, person, link, message_type,
                                     query["nonce"], query["redirect_uri"],
                                     self.server.app.extensions["cpt_lti"].clock())
        _apply(claims, edits)
        token = jwt.api_jws.encode(json.dumps(claims).encode(), self.pem, algorithm="RS256",
                                   headers={"kid": self.kid})
        return self.client.post("/lti/launch", data={"id_token": token,
                                                     "state": query["state"]})


@pytest.fixture
def launcher(live_server) -> SignedLauncher:
    return SignedLauncher(live_server)


PEOPLE = st.sampled_from([p.sub for p in CANVAS.people if p.persona in ("learner",
                                                                          "instructor")])


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sub=PEOPLE, message_type=MESSAGES, edits=EDITS)
def test_signed_launch_with_hostile_claims_never_fails_with_a_server_error(
        launcher, sub, message_type, edits):
    answer = launcher.launch(sub, message_type, edits)
    _ok(answer)
    code = re.search(rb"<code>([a-z_]+)</code>", answer.data)
    event(f"{answer.status_code} {code.group(1).decode() if code else ''}")  # statistics


def test_the_signed_launcher_reaches_the_claim_code(launcher):
    """Control for the fuzzing above: untouched claims launch, and a broken one is
    refused by the claim checks (past the signature), not by an earlier step."""
    learner = next(p.sub for p in CANVAS.people if p.persona == "learner")
    assert launcher.launch(learner, "LtiResourceLinkRequest", []).status_code in (200, 303)
    refused = launcher.launch(learner, "LtiResourceLinkRequest",
                              [((CLAIM + "resource_link", None), "a string")])
    assert refused.status_code == 400 and b"<code>bad_claim</code>" in refused.data


# -- path segments of every route, sent by someone allowed in ----------------------------

SEGMENTS = (st.text(max_size=60) | CONTROL_TEXT.map(lambda t: t + "\x00")
            | st.builds(lambda c, n: c * n, st.characters(blacklist_categories=("Cs",)),
                        st.integers(250, 3000))
            | st.integers(min_value=-(2 ** 80), max_value=2 ** 80).map(str)
            | st.uuids().map(str))


def _route_owner(endpoint: str) -> str:
    blueprint = endpoint.split(".")[0]
    return {"api": "student", "student": "student", "instructor": "instructor",
            "admin": "admin"}.get(blueprint, "anonymous")


@pytest.fixture
def route_cast(live_server):
    server = live_server
    student = actor(server)
    teacher = actor(server, user=person_sub("canvas", "instructor"))
    admin = admin_actor(server)
    return {"student": (student.http, student.csrf), "instructor": (teacher.http,
                                                                    teacher.csrf),
            "admin": (admin.http, admin.csrf), "anonymous": (requests.Session(), "")}


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_any_path_segment_never_fails_with_a_server_error(live_server, route_cast, data):
    rules = [r for r in live_server.app.url_map.iter_rules()
             if r.arguments and r.endpoint != "static"]
    rule = data.draw(st.sampled_from(sorted(rules, key=lambda r: r.rule)), label="rule")
    method = data.draw(st.sampled_from(sorted((rule.methods or set())
                                              - {"HEAD", "OPTIONS"})), label="method")
    path = rule.rule
    for name in rule.arguments:
        segment = data.draw(SEGMENTS, label=name)
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", quote(segment, safe=""), path)
    http, csrf = route_cast[_route_owner(rule.endpoint)]
    kw: dict[str, Any] = {"timeout": 20, "allow_redirects": False}
    if method == "POST":
        if rule.endpoint.startswith("api."):
            kw["headers"] = {"X-CSRF-Token": csrf, "Accept": "application/json"}
            kw["json"] = {"item_id": "S-001", "choice": 0, "idempotency_key": "k" * 16}
        else:
            kw["data"] = {"csrf_token": csrf, "choice": "0", "item_id": "S-001"}
    r = http.request(method, live_server.url + path, **kw)
    assert r.status_code < 500, (method, path[:200], r.status_code, r.text[:300])
    assert "Traceback" not in r.text


# -- numbers and shapes in the JSON API ----------------------------------------------------

# Column edges and beyond (PostgreSQL INTEGER and BIGINT), as often as any other shape.
EDGE_INTS = st.sampled_from([2 ** 31 - 1, 2 ** 31, 2 ** 63 - 1, 2 ** 63, -(2 ** 63) - 1,
                             10 ** 30, -1])
JSON_SCALARS = (st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False)
                | st.text(max_size=40) | LONG_TEXT)
JSON_VALUES = st.one_of(EDGE_INTS, st.integers(-(2 ** 80), 2 ** 80), JSON_SCALARS,
                        _nested(JSON_SCALARS))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(start=st.fixed_dictionaries({"mode": st.sampled_from(["practice", "drill", "lesson"])},
                                   optional={"module_id": JSON_VALUES, "size": JSON_VALUES,
                                             "key_activity_id": JSON_VALUES,
                                             "lesson_id": JSON_VALUES}),
       position=st.none() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70).map(str)
       | st.text(max_size=20),
       data=st.data())
def test_json_api_numbers_and_shapes_never_fail_with_a_server_error(
        live_server, route_cast, start, position, data):
    """The answer's fields are the served item's id and a real option most of the time,
    so that the hostile one (a ``duration_ms`` of 2^63, reproduced) reaches the engine."""
    http, csrf = route_cast["student"]
    base = f"{live_server.url}/api/attempts"
    headers = {"X-CSRF-Token": csrf}
    r = http.post(base, json=start, headers=headers, timeout=20)
    assert r.status_code < 500, (start, r.status_code, r.text[:300])
    r = http.post(base, json={"mode": "drill", "module_id": "safety"}, headers=headers,
                  timeout=20)
    assert r.status_code == 201, r.text
    attempt = r.json()["id"]
    r = http.get(f"{base}/{attempt}/item", params={"position": position}, timeout=20)
    assert r.status_code < 500, (position, r.status_code, r.text[:300])
    item = http.get(f"{base}/{attempt}/item", timeout=20).json()["item"]
    answer = {"item_id": item["id"], "choice": 1, "idempotency_key": uuid.uuid4().hex,
              "duration_ms": 1000}
    for name in data.draw(st.lists(st.sampled_from(sorted(answer)), min_size=1, max_size=2,
                                   unique=True), label="hostile fields"):
        answer[name] = data.draw(JSON_VALUES, label=name)
    r = http.post(f"{base}/{attempt}/answers", json=answer, headers=headers, timeout=20)
    assert r.status_code < 500, (answer, r.status_code, r.text[:300])
