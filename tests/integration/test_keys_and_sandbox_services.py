"""Tool keys over HTTP, and the sandbox LMS's token, AGS and NRPS endpoints driven by
pylti1p3 itself with the tool's real key - the path grade passback will take."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.exception import LtiServiceException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.service_connector import ServiceConnector

from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.delivery.sealed import sealer_for
from lti_tool.lti.keys import KeyService
from lti_tool.lti.registry import DbToolConf
from lti_tool.sandbox.platforms import AGS_SCOPES, CANVAS, MOODLE, NRPS_SCOPE
from lti_tool.sandbox.services import NRPS_MT, ROSTER_ONLY


def _sessions(server):
    engine = make_engine(server.settings.database_url)
    return engine, make_session_factory(engine, sealer_for(server.settings))


def test_jwks_publishes_rs256_signing_keys(live_server):
    r = requests.get(live_server.url + "/lti/jwks")
    assert r.status_code == 200
    assert "max-age" in r.headers["Cache-Control"]
    keys = r.json()["keys"]
    assert len(keys) == 1
    assert {k["alg"] for k in keys} == {"RS256"} and {k["use"] for k in keys} == {"sig"}
    assert all(k["kty"] == "RSA" and "d" not in k and k["kid"] for k in keys)


def test_rotation_keeps_old_key_published_until_retired(live_server):
    engine, sessions = _sessions(live_server)
    old_kid = requests.get(live_server.url + "/lti/jwks").json()["keys"][0]["kid"]
    with transaction(sessions) as db:
        new_kid = KeyService(db).rotate().kid  # no overlap: signs at once
    kids = [k["kid"] for k in requests.get(live_server.url + "/lti/jwks").json()["keys"]]
    assert set(kids) == {old_kid, new_kid}
    with transaction(sessions) as db:
        assert KeyService(db).signing_key().kid == new_kid
        KeyService(db).retire(old_kid)
    kids = [k["kid"] for k in requests.get(live_server.url + "/lti/jwks").json()["keys"]]
    assert kids == [new_kid]
    engine.dispose()


def test_staged_rotation_never_signs_with_a_key_a_platform_has_not_seen(live_server):
    """A platform caches the JWKS, then the tool rotates: until the overlap window has
    passed the tool keeps signing with the old key, which the cached copy verifies; after
    it, the platform has refetched (max-age 300 s) and verifies the new key."""
    import jwt
    from jwt import PyJWKSet

    class Clock:
        now = datetime.now(UTC)

        def __call__(self):
            return self.now

    clock = Clock()
    engine, sessions = _sessions(live_server)
    cached = PyJWKSet.from_dict(requests.get(live_server.url + "/lti/jwks").json())

    def verifies(jwks: PyJWKSet, token: str) -> bool:
        kid = jwt.get_unverified_header(token)["kid"]
        try:
            key = jwks[kid]
        except KeyError:
            return False
        return jwt.decode(token, key.key, algorithms=["RS256"], audience="lms")["n"] == 1

    def tool_signs() -> str:
        with transaction(sessions) as db:
            signing = KeyService(db, clock).signing_key()
        return jwt.encode({"n": 1, "aud": "lms"}, signing.private_key_pem, algorithm="RS256",
                          headers={"kid": signing.kid})

    with transaction(sessions) as db:
        new_kid = KeyService(db, clock).rotate(timedelta(hours=1)).kid
    published = [k["kid"] for k in requests.get(live_server.url + "/lti/jwks").json()["keys"]]
    assert new_kid in published  # announced at once
    assert verifies(cached, tool_signs())  # the stale cache still works during overlap
    clock.now += timedelta(minutes=59)
    assert verifies(cached, tool_signs())
    clock.now += timedelta(minutes=2)  # overlap over: the new key signs
    token = tool_signs()
    assert jwt.get_unverified_header(token)["kid"] == new_kid
    assert not verifies(cached, token)  # only a platform that never refetched would fail
    fresh = PyJWKSet.from_dict(requests.get(live_server.url + "/lti/jwks").json())
    assert verifies(fresh, token)
    with transaction(sessions) as db:
        # Scheduled rotation: nothing while the newest key is young, a staged key after.
        service = KeyService(db, clock)
        assert service.rotate_if_due(timedelta(days=90), timedelta(hours=24)) is None
        clock.now += timedelta(days=91)
        staged = service.rotate_if_due(timedelta(days=90), timedelta(hours=24))
        assert staged is not None and service.status(staged) == "next"
        assert service.rotate_if_due(timedelta(days=90), timedelta(hours=24)) is None
    engine.dispose()


def _connector(server, platform):
    engine, sessions = _sessions(server)
    with transaction(sessions) as db:
        registration = DbToolConf(db).find_registration_by_params(
            platform.issuer(server.settings), platform.client_id)
    engine.dispose()
    return ServiceConnector(registration)


@pytest.mark.parametrize("platform", [CANVAS, MOODLE], ids=["canvas", "moodle"])
def test_grade_passback_lands_in_sandbox_gradebook(live_server, platform):
    """Client-credentials token with the tool's signed assertion, then line item + score."""
    base = platform.base(live_server.settings)
    lineitems = (f"{base}/api/lti/courses/{platform.context_id}/line_items"
                 if platform.key == "canvas"
                 else f"{base}/mod/lti/services.php/{platform.context_id}/lineitems?type_id=4")
    ags = AssignmentsGradesService(_connector(live_server, platform),
                                   {"scope": list(AGS_SCOPES), "lineitems": lineitems})
    item = ags.find_or_create_lineitem(
        LineItem().set_label("Safety practice test").set_score_maximum(25)
        .set_resource_id("practice_test:safety").set_tag("cpt-practice"))
    again = ags.find_or_create_lineitem(
        LineItem().set_label("Safety practice test").set_score_maximum(25)
        .set_resource_id("practice_test:safety").set_tag("cpt-practice"))
    assert item.get_id() == again.get_id()  # found by resourceId, not duplicated
    learner = next(p for p in platform.people if p.persona == "learner")
    stamp = datetime(2026, 11, 25, 10, 0, tzinfo=UTC).isoformat()
    ags.put_grade(Grade().set_score_given(20).set_score_maximum(25).set_timestamp(stamp)
                  .set_activity_progress("Completed").set_grading_progress("FullyGraded")
                  .set_user_id(learner.sub), item)
    older = datetime(2026, 11, 25, 9, 0, tzinfo=UTC).isoformat()
    ags.put_grade(Grade().set_score_given(5).set_score_maximum(25).set_timestamp(older)
                  .set_activity_progress("Completed").set_grading_progress("FullyGraded")
                  .set_user_id(learner.sub), item)
    results = ags.get_grades(item)
    assert [(r["userId"], r["resultScore"]) for r in results] == [(learner.sub, 20.0)]
    page = requests.get(f"{base}/gradebook").text
    assert "Safety practice test" in page and "20.0" in page


def test_token_endpoint_refuses_foreign_assertion(live_server):
    """An assertion signed by a key the tool does not publish gets no token."""
    import jwt

    from lti_tool.lti.keys import generate_rsa_pem

    token_url = CANVAS.endpoint(live_server.settings, CANVAS.token_path)
    now = int(datetime.now(UTC).timestamp())
    kid = requests.get(live_server.url + "/lti/jwks").json()["keys"][0]["kid"]
    assertion = jwt.encode({"iss": CANVAS.client_id, "sub": CANVAS.client_id, "aud": token_url,
                            "iat": now, "exp": now + 60, "jti": "x1"}, generate_rsa_pem(),
                           algorithm="RS256", headers={"kid": kid})
    r = requests.post(token_url, data={
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion, "scope": AGS_SCOPES[3]})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_ags_needs_a_token(live_server):
    base = CANVAS.base(live_server.settings)
    r = requests.get(f"{base}/api/lti/courses/{CANVAS.context_id}/line_items")
    assert r.status_code == 401


def test_nrps_roster_pages_through_link_headers(live_server):
    """Paging follows ``Link: rel=next`` exactly as sent.

    (pylti1p3's own NRPS paging lower-cases the whole Link header and so breaks Moodle's
    ``/CourseSection/`` URLs; the tool's roster client must read ``response.links``.)
    """
    base = MOODLE.base(live_server.settings)
    url = (f"{base}/mod/lti/services.php/CourseSection/{MOODLE.context_id}"
           f"/bindings/4/memberships?limit=3")
    token = _connector(live_server, MOODLE).get_access_token([NRPS_SCOPE])
    members, pages = [], 0
    while url:
        r = requests.get(url, headers={"Authorization": f"Bearer {token}",
                                       "Accept": NRPS_MT})
        assert r.status_code == 200
        members += r.json()["members"]
        pages += 1
        url = r.links.get("next", {}).get("url")
    assert pages == 3
    assert len(members) == len(MOODLE.people) + len(ROSTER_ONLY)
    assert {m["user_id"] for m in members} >= {p.sub for p in MOODLE.people}


def test_scope_is_enforced(live_server):
    """A token for NRPS alone cannot post scores."""
    connector = _connector(live_server, CANVAS)
    token = connector.get_access_token([NRPS_SCOPE])
    base = CANVAS.base(live_server.settings)
    r = requests.get(f"{base}/api/lti/courses/{CANVAS.context_id}/line_items",
                     headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    with pytest.raises(LtiServiceException):
        connector.make_service_request([NRPS_SCOPE], f"{base}/api/lti/courses/nope/names_and_roles")
