"""Outbound calls without bounds (issue 15, point 4), against the live tool over HTTP.

What the issue reproduced, each an attack here:

- ``http_timeout_seconds`` limited each socket read, not the request: a JWKS that
  trickled one header line every 5 s held a launch 110 s, and every launch of that
  platform opened its own such fetch (two made /health time out under gunicorn);
- AGS and NRPS URLs taken from a launch were called with the platform's bearer token
  whatever host they named;
- login parameters were stored unbounded (20 anonymous logins added 27 MB).

The slow and oversized key sets are servers of these tests on free loopback ports
(tests/outbound_support.py), stopped when each test ends; the platforms that point at
them are registered in the test's database with their own key.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from lti_helpers import assert_refused
from outbound_support import BigBody, FakeLms, Trickler
from sqlalchemy import func, select
from test_attacks_common import TIMEOUT, actor, db_session, person_sub

from lti_tool.lti import launch as launch_module
from lti_tool.lti.launch import AGS_CLAIM, CLAIM, NRPS_CLAIM
from lti_tool.models import (
    Course,
    Deployment,
    Enrollment,
    LaunchValue,
    Platform,
    ResourceLink,
)
from lti_tool.sandbox.platforms import CANVAS

DEADLINE = 2.0  # http_timeout_seconds for these tests
MARGIN = 2.5  # a launch also reads and writes the database; PostgreSQL in CI is slower
_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def short_deadline(live_server, monkeypatch):
    rt = live_server.app.extensions["cpt_lti"]
    monkeypatch.setattr(rt, "settings", dataclasses.replace(
        rt.settings, http_timeout_seconds=DEADLINE))
    return live_server


def _platform(server, key_set_url: str) -> tuple[str, str]:
    """A registered, enabled platform whose key set is ``key_set_url``."""
    issuer = f"https://lms-{uuid.uuid4().hex[:8]}.example"
    with db_session(server) as db:
        platform = Platform(issuer=issuer, client_id="client-1", name="Slow LMS",
                            auth_login_url=issuer + "/auth", auth_token_url=issuer + "/token",
                            key_set_url=key_set_url)
        db.add(platform)
        db.flush()
        db.add(Deployment(platform_id=platform.id, deployment_id="dep-1"))
    return issuer, "client-1"


def _login(server, issuer: str, client_id: str) -> tuple[requests.Session, str, str]:
    """An OIDC login for the platform: the browser's state cookie, the state and nonce."""
    s = requests.Session()
    r = s.post(f"{server.url}/lti/login", allow_redirects=False, timeout=TIMEOUT, data={
        "iss": issuer, "client_id": client_id, "login_hint": "someone",
        "target_link_uri": f"{server.url}/lti/launch", "lti_deployment_id": "dep-1"})
    assert r.status_code == 302, r.text[:500]
    query = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["Location"]).query).items()}
    return s, query["state"], query["nonce"]


def _launch(server, issuer: str, client_id: str, login=None,
            timeout: float = 15.0) -> tuple[requests.Response, float]:
    """A launch signed by a key the platform's key set would have to provide: the tool
    must fetch that key set to check it. Returns the answer and how long it took."""
    s, state, nonce = login or _login(server, issuer, client_id)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer, "aud": client_id, "sub": "someone", "iat": now, "exp": now + 300,
        "nonce": nonce, CLAIM + "message_type": "LtiResourceLinkRequest",
        CLAIM + "version": "1.3.0", CLAIM + "deployment_id": "dep-1",
        CLAIM + "target_link_uri": f"{server.url}/lti/launch",
        CLAIM + "resource_link": {"id": "link-1"}, CLAIM + "roles": []}
    token = jwt.encode(claims, _KEY, algorithm="RS256", headers={"kid": "k1"})
    began = time.monotonic()
    answer = s.post(f"{server.url}/lti/launch", data={"id_token": token, "state": state},
                    timeout=timeout)
    return answer, time.monotonic() - began


def test_a_trickling_key_set_is_cut_at_the_deadline(short_deadline):
    """ATTACK (issue 15.4): a key set that sends one header line every half second never
    tripped the per-read timeout and held the launch as long as it liked. The deadline is
    for the whole call now: the launch is refused with keyset_unavailable at about
    http_timeout_seconds, and the next launch of that platform is refused at once,
    without another fetch."""
    server = short_deadline
    with Trickler(interval=0.5) as slow:
        issuer, client_id = _platform(server, f"{slow.origin}/jwks")
        answer, took = _launch(server, issuer, client_id)
        assert_refused(answer, "keyset_unavailable")
        assert took < DEADLINE + MARGIN, took
        again, took_again = _launch(server, issuer, client_id)
        assert_refused(again, "keyset_unavailable")
        assert took_again < 1.0, took_again
        assert slow.connections == 1


def test_a_slow_platform_cannot_take_every_thread(short_deadline):
    """ATTACK (issue 15.4): every launch of a platform with a slow key set opened its own
    fetch and held its thread; enough of them took every worker and /health timed out.
    Now one fetch per key set runs at a time: the other launches wait a bounded time or
    fail at once, all are answered by the deadline, and /health answers meanwhile."""
    server = short_deadline
    with Trickler(interval=0.5) as slow:
        issuer, client_id = _platform(server, f"{slow.origin}/jwks")
        logins = [_login(server, issuer, client_id) for _ in range(6)]
        began = time.monotonic()
        with ThreadPoolExecutor(len(logins)) as pool:
            futures = [pool.submit(_launch, server, issuer, client_id, login)
                       for login in logins]
            time.sleep(0.5)
            health = requests.get(f"{server.url}/health", timeout=TIMEOUT)
            assert health.status_code == 200
            assert time.monotonic() - began < DEADLINE
            results = [f.result() for f in futures]
        for answer, took in results:
            assert_refused(answer, "keyset_unavailable")
            assert took < DEADLINE + MARGIN, took
        assert slow.connections == 1


def test_an_endless_key_set_is_not_read_past_the_cap(short_deadline):
    """ATTACK (issue 15.4): nothing bounded the size of an answer; a key set of 64 MB was
    read whole into memory by a launch. A key set is read up to its cap (256 KiB) and the
    launch refused."""
    server = short_deadline
    with BigBody(limit=64 * 1024 * 1024) as big:
        issuer, client_id = _platform(server, f"{big.origin}/jwks")
        answer, took = _launch(server, issuer, client_id)
        assert_refused(answer, "keyset_unavailable")
        assert "larger than" in answer.text
        big.stop()
        # What the kernel buffers on loopback is all the server got rid of.
        assert big.sent < 16 * 1024 * 1024, big.sent


def _services_on(host: str):
    def edit(claims: dict[str, Any]) -> None:
        claims[NRPS_CLAIM] = {"context_memberships_url": f"{host}/memberships",
                              "service_versions": ["2.0"]}
        claims[AGS_CLAIM] = {"lineitems": f"{host}/lineitems",
                             "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"]}
    return edit


def test_service_urls_on_a_foreign_host_get_no_token(live_server):
    """ATTACK (issue 15.4): a launch's NRPS and AGS URLs were stored and called with the
    platform's bearer token whatever host they named. URLs off the platform's registered
    hosts are not kept, and the roster refresh sends nothing there."""
    with FakeLms() as evil:
        # The sandbox LMS is 127.0.0.1; "localhost" is another host (on loopback, which
        # the test settings allow, so only the host rule stands in the way).
        teacher = actor(live_server, "canvas", person_sub("canvas", "instructor"),
                        edit=_services_on(f"http://localhost:{evil.port}"))
        with db_session(live_server) as db:
            enrollment = db.scalars(select(Enrollment).where(
                Enrollment.user_id == teacher.user_id)).one()
            assert db.get(Course, enrollment.course_id).nrps_url is None
            link = db.get(ResourceLink, teacher.resource_link_id)
            assert link.ags_lineitems_url is None
        teacher.post(f"{live_server.url}/instructor/class/roster",
                     data={"csrf_token": teacher.csrf})
        assert evil.requests == []


def test_a_stored_foreign_roster_url_is_not_called(live_server):
    """A roster URL stored before this check (or by any other path) on a foreign host:
    the refresh refuses it by name before any token is fetched or sent."""
    with FakeLms() as evil:
        teacher = actor(live_server, "canvas", person_sub("canvas", "instructor"))
        with db_session(live_server) as db:
            enrollment = db.scalars(select(Enrollment).where(
                Enrollment.user_id == teacher.user_id)).one()
            db.get(Course, enrollment.course_id).nrps_url = (
                f"http://localhost:{evil.port}/memberships")
        page = teacher.post(f"{live_server.url}/instructor/class/roster",
                            data={"csrf_token": teacher.csrf})
        assert page.status_code == 200
        assert "registered hosts" in page.text
        assert evil.requests == []


def _stored_bytes(server) -> tuple[int, int]:
    with db_session(server) as db:
        rows = list(db.scalars(select(LaunchValue)))
        return len(rows), sum(len(str(r.value)) for r in rows)


def test_oversized_login_parameters_are_refused(live_server):
    """ATTACK (issue 15.4): anyone can start a login, and its parameters were stored with
    the state whatever their size (20 anonymous logins added 27 MB). Each is bounded; a
    login over the bound is a 400 that stores nothing."""
    before = _stored_bytes(live_server)
    for name in ("lti_message_hint", "login_hint", "target_link_uri"):
        params = {"iss": CANVAS.issuer(live_server.settings), "client_id": CANVAS.client_id,
                  "login_hint": "someone", "target_link_uri": f"{live_server.url}/lti/launch",
                  name: "x" * 200_000}
        answer = requests.post(f"{live_server.url}/lti/login", data=params,
                               allow_redirects=False, timeout=TIMEOUT)
        assert_refused(answer, "bad_login")
        assert name in answer.text
    assert _stored_bytes(live_server) == before


def test_waiting_logins_are_capped_per_client(live_server, monkeypatch):
    """ATTACK (issue 15.4): the number of logins waiting for their launch was unbounded.
    Past the cap a client's oldest ones are forgotten, so one client's logins cannot grow
    the table without bound (a real login's launch follows within seconds)."""
    monkeypatch.setattr(launch_module, "LOGIN_STATES_PER_CLIENT", 10, raising=False)
    for n in range(25):
        answer = requests.post(f"{live_server.url}/lti/login", allow_redirects=False,
                               timeout=TIMEOUT, data={
                                   "iss": CANVAS.issuer(live_server.settings),
                                   "client_id": CANVAS.client_id, "login_hint": f"u{n}",
                                   "lti_message_hint": "m" * 4000,
                                   "target_link_uri": f"{live_server.url}/lti/launch"})
        assert answer.status_code == 302
    with db_session(live_server) as db:
        live = db.scalar(select(func.count()).select_from(LaunchValue))
    assert live <= 10, live
