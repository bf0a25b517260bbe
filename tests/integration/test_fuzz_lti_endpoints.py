"""Property-based fuzzing of /lti/login and /lti/launch: 2,000 malformed requests, and the
answer is always a clear 4xx page (or a redirect), never a 5xx or a stack trace."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lti_tool.sandbox.platforms import CANVAS

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
