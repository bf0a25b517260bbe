"""The admin console: its own sign-in (rate-limited), CSRF on every form, no way in for
LTI users, and the changes it makes (approve a platform, manage LRSs, rotate keys)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from lti_tool.db import transaction
from lti_tool.lti.keys import KeyService
from lti_tool.models import LrsEndpoint, Platform, ToolSession
from lti_tool.ops.admin import MAX_FAILURES, AdminService
from lti_tool.web.runtime import system_clock

PASSWORD = "correct horse battery"


@pytest.fixture
def admin_client(app, client):
    with transaction(app.extensions["cpt_lti"].sessions) as db:
        AdminService(db, system_clock).create("it-admin", PASSWORD)
    return client


def _sign_in(client, password=PASSWORD, address="10.0.0.1"):
    return client.post("/admin/login", data={"username": "it-admin", "password": password},
                       environ_base={"REMOTE_ADDR": address})


def _csrf(client) -> str:
    page = client.get("/admin/")
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_sign_in_sets_a_strict_cookie_and_opens_the_console(admin_client):
    answer = _sign_in(admin_client)
    assert answer.status_code == 302
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    page = admin_client.get("/admin/")
    assert page.status_code == 200 and "Admin console" in page.text
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"


def test_without_sign_in_the_console_sends_you_to_the_login(client):
    assert client.get("/admin/").headers["Location"].endswith("/admin/login")
    assert client.post("/admin/keys/rotate").status_code == 302


def test_wrong_passwords_pause_that_address_for_that_name_only(admin_client):
    for _ in range(MAX_FAILURES):
        assert _sign_in(admin_client, "wrong password!!").status_code == 401
    # Even the right password waits now, from this address and for this name...
    assert _sign_in(admin_client).status_code == 429
    # ...but not from another address: a stranger cannot lock the admin out (issue 15;
    # more in test_attacks_admin_signin.py).
    assert _sign_in(admin_client, address="10.0.0.2").status_code == 302


def test_an_lti_session_does_not_open_the_console(app, admin_client, client):
    rt = app.extensions["cpt_lti"]
    with transaction(rt.sessions) as db:
        session_id = db.scalars(select(ToolSession.id)).first()
    # Whatever an LTI user carries (cookie, ?s=, header), /admin wants its own sign-in.
    client.set_cookie("cpt_session", session_id or "x")
    for url in ("/admin/", f"/admin/?s={session_id}"):
        assert client.get(url, headers={"X-CPT-Session": session_id or "x"}).status_code == 302


def test_every_form_needs_the_csrf_token(admin_client):
    _sign_in(admin_client)
    token = _csrf(admin_client)
    assert admin_client.post("/admin/keys/rotate").status_code == 403
    assert admin_client.post("/admin/keys/rotate", data={"csrf_token": "forged"}
                             ).status_code == 403
    assert admin_client.post("/admin/keys/rotate", data={"csrf_token": token}
                             ).status_code == 302


def test_approving_a_platform_and_managing_its_lrs(app, admin_client):
    rt = app.extensions["cpt_lti"]
    with transaction(rt.sessions) as db:
        platform = db.scalars(select(Platform)).first()
        platform.enabled = False
        platform_id = platform.id
    _sign_in(admin_client)
    token = _csrf(admin_client)
    answer = admin_client.post(f"/admin/platforms/{platform_id}/enabled",
                               data={"csrf_token": token, "enabled": "1"})
    assert answer.status_code == 302
    secret = "college-lrs-secret-123"
    admin_client.post(f"/admin/platforms/{platform_id}/lrs", data={
        "csrf_token": token, "name": "district", "endpoint": "https://lrs.college.edu/xapi/",
        "username": "key", "password": secret, "actor_identity": "mbox_sha1sum"})
    page = admin_client.get("/admin/", follow_redirects=True)
    assert "https://lrs.college.edu/xapi/" in page.text and secret not in page.text
    with transaction(rt.sessions) as db:
        assert db.get(Platform, platform_id).enabled is True
        lrs = db.scalars(select(LrsEndpoint)).one()
        assert lrs.actor_identity.value == "mbox_sha1sum" and secret not in lrs.password_sealed
    bad = admin_client.post(f"/admin/platforms/{platform_id}/lrs", data={
        "csrf_token": token, "name": "x", "endpoint": "ftp://nope", "username": "k",
        "password": "p"}, follow_redirects=True)
    assert "LRS not saved" in bad.text


def test_rotating_and_retiring_keys_from_the_console(app, admin_client):
    rt = app.extensions["cpt_lti"]
    _sign_in(admin_client)
    token = _csrf(admin_client)
    with transaction(rt.sessions) as db:
        [old] = [k.kid for k in KeyService(db).all()]
    admin_client.post("/admin/keys/rotate", data={"csrf_token": token})
    with transaction(rt.sessions) as db:
        service = KeyService(db)
        statuses = {k.kid: service.status(k) for k in service.all()}
    assert statuses[old] == "signing" and sorted(statuses.values()) == ["next", "signing"]
    refused = admin_client.post(f"/admin/keys/{old}/retire", data={"csrf_token": token},
                                follow_redirects=True)
    assert "not retired" in refused.text
