"""Every refused launch: a 4xx page naming the reason and the admin's next step.

One case per test, following the 1EdTech LTI 1.3 certification list of bad payloads. Each
test does a real OIDC login against the live tool, then posts a crafted id_token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging

import jwt
import requests
from lti_helpers import CLAIM, assert_refused, begin_launch

from lti_tool.lti.keys import generate_rsa_pem
from lti_tool.sandbox.platforms import CANVAS


def _b64(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _sandbox_kid(pending) -> str:
    return jwt.get_unverified_header(pending.sign(pending.claims()))["kid"]


def test_valid_token_is_accepted_as_control(live_server):
    """Control: the same helper with untouched claims launches fine."""
    pending = begin_launch(live_server)
    r = pending.post(pending.sign(pending.claims()))
    assert r.status_code == 200
    assert "Welcome, Ana" in r.text


def test_bad_signature(live_server):
    """The token is signed by a key other than the one its kid names."""
    pending = begin_launch(live_server)
    token = jwt.encode(pending.claims(), generate_rsa_pem(), algorithm="RS256",
                       headers={"kid": _sandbox_kid(pending)})
    assert_refused(pending.post(token), "bad_token")


def test_tampered_payload(live_server):
    """A correctly signed token whose body was edited afterwards (role escalation)."""
    pending = begin_launch(live_server)
    header, _, sig = pending.sign(pending.claims()).split(".")
    claims = pending.claims()
    claims[CLAIM + "roles"] = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]
    assert_refused(pending.post(f"{header}.{_b64(claims)}.{sig}"), "bad_token")


def test_unknown_kid(live_server):
    """The kid in the header is not in the platform's JWKS (even after a refetch)."""
    pending = begin_launch(live_server)
    token = pending.sign(pending.claims(), headers={"kid": "no-such-key"})
    assert_refused(pending.post(token), "unknown_kid")


def test_missing_kid(live_server):
    """The header names no kid at all."""
    pending = begin_launch(live_server)
    key_pem = generate_rsa_pem()
    token = jwt.encode(pending.claims(), key_pem, algorithm="RS256")
    assert_refused(pending.post(token), "unknown_kid")


def test_alg_none(live_server):
    """An unsigned token (alg none) is refused before any key is looked up."""
    pending = begin_launch(live_server)
    header = {"alg": "none", "typ": "JWT", "kid": _sandbox_kid(pending)}
    token = f"{_b64(header)}.{_b64(pending.claims())}."
    assert_refused(pending.post(token), "bad_token")


def test_hs256_with_public_key_as_secret(live_server):
    """Algorithm confusion: HS256 keyed with the platform's public key."""
    pending = begin_launch(live_server)
    jwks = requests.get(live_server.url + "/sandbox/canvas/api/lti/security/jwks").json()
    public_pem = jwt.PyJWK(jwks["keys"][0]).key.public_bytes(
        encoding=__import__("cryptography.hazmat.primitives.serialization",
                            fromlist=["Encoding"]).Encoding.PEM,
        format=__import__("cryptography.hazmat.primitives.serialization",
                          fromlist=["PublicFormat"]).PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': jwks['keys'][0]['kid']})}." \
                    f"{_b64(pending.claims())}"
    sig = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()
    assert_refused(pending.post(token), "bad_token")


def test_malformed_jwt(live_server):
    """An id_token that is not three base64url parts."""
    pending = begin_launch(live_server)
    assert_refused(pending.post("not-a.jwt"), "bad_token")


def test_missing_id_token(live_server):
    """The launch POST carries a state but no id_token."""
    pending = begin_launch(live_server)
    r = pending.session.post(pending.redirect_uri, data={"state": pending.state})
    assert_refused(r, "bad_token")


def test_unknown_issuer(live_server, caplog):
    """The iss is not registered; the refusal is logged with issuer and client id."""
    pending = begin_launch(live_server)
    claims = pending.claims()
    claims["iss"] = "https://lms.unknown.example"
    with caplog.at_level(logging.WARNING):
        assert_refused(pending.post(pending.sign(claims)), "unknown_platform")
    assert any("unknown_platform" in m and "https://lms.unknown.example" in m
               and CANVAS.client_id in m for m in caplog.messages)


def test_unknown_client_id(live_server):
    """The issuer is known but aud names a client id that is not registered."""
    pending = begin_launch(live_server)
    claims = pending.claims()
    claims["aud"] = claims["azp"] = "99999999"
    r = pending.post(pending.sign(claims))
    assert_refused(r, "unknown_platform")
    assert "99999999" in r.text


def test_missing_aud(live_server):
    """No aud claim at all."""
    pending = begin_launch(live_server)
    claims = pending.claims()
    del claims["aud"]
    assert_refused(pending.post(pending.sign(claims)), "missing_claim")


def test_azp_names_another_client(live_server):
    """aud lists us among others, but azp says the token was for someone else."""
    pending = begin_launch(live_server)
    claims = pending.claims()
    claims["aud"] = [CANVAS.client_id, "another-tool"]
    claims["azp"] = "another-tool"
    assert_refused(pending.post(pending.sign(claims)), "wrong_audience")


def test_several_audiences_without_azp(live_server):
    """Several audiences and no azp: the token may not be meant for us."""
    pending = begin_launch(live_server)
    claims = pending.claims()
    claims["aud"] = [CANVAS.client_id, "another-tool"]
    del claims["azp"]
    assert_refused(pending.post(pending.sign(claims)), "wrong_audience")


def test_unregistered_deployment(live_server):
    """The deployment id is not registered and the platform's policy is strict."""
    pending = begin_launch(live_server)
    claims = pending.claims()
    claims[CLAIM + "deployment_id"] = "99:not-registered"
    r = pending.post(pending.sign(claims))
    assert_refused(r, "unknown_deployment")
    assert "99:not-registered" in r.text


def test_expired_token(live_server):
    """exp is in the past."""
    pending = begin_launch(live_server)
    claims = pending.claims()
    claims["iat"] -= 600
    claims["exp"] = claims["iat"] + 300
    assert_refused(pending.post(pending.sign(claims)), "expired_token")


def test_issued_in_the_future(live_server):
    """iat is well in the future (a platform clock far ahead)."""
    pending = begin_launch(live_server)
    claims = pending.claims()
    claims["iat"] += 3600
    claims["exp"] += 3600
    assert_refused(pending.post(pending.sign(claims)), "expired_token")


def test_missing_exp(live_server):
    """A token without exp would never expire."""
    pending = begin_launch(live_server)
    claims = pending.claims()
    del claims["exp"]
    assert_refused(pending.post(pending.sign(claims)), "missing_claim")


def test_missing_nonce(live_server):
    """No nonce claim."""
    pending = begin_launch(live_server)
    claims = pending.claims()
    del claims["nonce"]
    assert_refused(pending.post(pending.sign(claims)), "bad_nonce")


def test_nonce_never_issued(live_server):
    """A nonce the tool never handed out."""
    pending = begin_launch(live_server)
    claims = pending.claims()
    claims["nonce"] = "made-up-nonce"
    assert_refused(pending.post(pending.sign(claims)), "bad_nonce")


def test_replayed_launch(live_server):
    """The same id_token and state posted twice: the second time the nonce is spent."""
    pending = begin_launch(live_server)
    token = pending.sign(pending.claims())
    assert pending.post(token).status_code == 200
    assert_refused(pending.post(token), "bad_nonce")


def test_replay_from_another_process_is_refused(live_server, database_url):
    """Nonces live in the DB: a second app instance on the same DB refuses the replay."""
    from support import LiveServer

    pending = begin_launch(live_server)
    token = pending.sign(pending.claims())
    assert pending.post(token).status_code == 200
    other = LiveServer(database_url).start()
    try:
        s = requests.Session()
        s.cookies.update(pending.session.cookies)
        r = s.post(other.url + "/lti/launch", data={"id_token": token, "state": pending.state})
        assert_refused(r, "bad_nonce")
    finally:
        other.stop()


def test_state_mismatch(live_server):
    """The state posted back is not the one this browser got at login."""
    pending = begin_launch(live_server)
    r = pending.post(pending.sign(pending.claims()), state="state-forged")
    assert_refused(r, "bad_state")


def test_state_cookie_missing_offers_new_window(live_server):
    """Cookies blocked and no platform storage (Moodle): refused, with a new-window link."""
    pending = begin_launch(live_server, "moodle")
    r = pending.post(pending.sign(pending.claims()), session=requests.Session())
    assert_refused(r, "bad_state")
    assert 'target="_blank"' in r.text and "/lti/login?" in r.text
    assert "login_hint=" in r.text


def test_unknown_message_type(live_server):
    """A message type that is not LTI 1.3 at all."""
    pending = begin_launch(live_server)
    claims = pending.claims()
    claims[CLAIM + "message_type"] = "LtiBogusRequest"
    assert_refused(pending.post(pending.sign(claims)), "unsupported_message")


def test_message_type_not_handled(live_server):
    """A valid LTI message this tool does not handle yet (data privacy launch)."""
    pending = begin_launch(live_server)
    claims = pending.claims("DataPrivacyLaunchRequest")
    del claims[CLAIM + "context"]  # the privacy launch is platform-wide
    claims[CLAIM + "for_user"] = {"user_id": claims["sub"]}
    assert_refused(pending.post(pending.sign(claims)), "unsupported_message")


def test_wrong_lti_version(live_server):
    """version claim is not 1.3.0."""
    pending = begin_launch(live_server)
    claims = pending.claims()
    claims[CLAIM + "version"] = "1.1"
    assert_refused(pending.post(pending.sign(claims)), "unsupported_message")


def test_missing_sub(live_server):
    """Resource link launches need a user."""
    pending = begin_launch(live_server)
    claims = pending.claims()
    del claims["sub"]
    assert_refused(pending.post(pending.sign(claims)), "missing_claim")


def test_missing_roles(live_server):
    """The roles claim is required (it may be empty, but must be there)."""
    pending = begin_launch(live_server)
    claims = pending.claims()
    del claims[CLAIM + "roles"]
    assert_refused(pending.post(pending.sign(claims)), "missing_claim")


def test_missing_resource_link(live_server):
    """A resource link launch without a resource link id."""
    pending = begin_launch(live_server)
    claims = pending.claims()
    del claims[CLAIM + "resource_link"]
    assert_refused(pending.post(pending.sign(claims)), "missing_claim")


def test_missing_deployment_id(live_server):
    """No deployment_id claim."""
    pending = begin_launch(live_server)
    claims = pending.claims()
    del claims[CLAIM + "deployment_id"]
    assert_refused(pending.post(pending.sign(claims)), "missing_claim")


def test_missing_iss(live_server):
    """No iss claim."""
    pending = begin_launch(live_server)
    claims = pending.claims()
    del claims["iss"]
    assert_refused(pending.post(pending.sign(claims)), "missing_claim")


def test_get_on_launch_is_not_allowed(live_server):
    """The launch URL takes only POST; a GET gets a page, not a stack trace."""
    r = requests.get(live_server.url + "/lti/launch")
    assert r.status_code == 405
    assert "Traceback" not in r.text
