"""The admin console's platform pages (issue 17, College IT): add, edit, disable and
enable, delete with a confirmation, the URLs an LMS admin registers - and the attacks on
those forms (no sign-in, an LTI session, a missing, forged or foreign CSRF token)."""

from __future__ import annotations

import re
from html import unescape

import pytest
import requests
from lti_helpers import assert_refused, begin_launch, full_launch
from sqlalchemy import func, select
from test_attacks_common import admin_actor, db_session

from lti_tool.db import transaction
from lti_tool.models import Deployment, Platform, User
from lti_tool.ops.admin import AdminService
from lti_tool.sandbox.platforms import MOODLE
from lti_tool.web.runtime import system_clock

PASSWORD = "correct horse battery"
NEW = {
    "name": "Lakeside TC Moodle", "issuer": "https://moodle.lakeside.example",
    "client_id": "abc123",
    "auth_login_url": "https://moodle.lakeside.example/mod/lti/auth.php",
    "auth_token_url": "https://moodle.lakeside.example/mod/lti/token.php",
    "key_set_url": "https://moodle.lakeside.example/mod/lti/certs.php",
    "deployment_ids": "1\r\n\r\n7\r\n1", "deployment_policy": "strict",
    "auth_audience": "", "frame_origins": "https://lms.lakeside.example",
}


@pytest.fixture
def admin(app, client):
    """A signed-in admin on the Flask test client and the console's CSRF token."""
    with transaction(app.extensions["cpt_lti"].sessions) as db:
        AdminService(db, system_clock).create("it-admin", PASSWORD)
    assert client.post("/admin/login", data={"username": "it-admin", "password": PASSWORD},
                       environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 302
    page = client.get("/admin/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client, token


def _db(app):
    return transaction(app.extensions["cpt_lti"].sessions)


def _platform(app, client_id: str) -> Platform | None:
    with _db(app) as db:
        row = db.scalars(select(Platform).where(Platform.client_id == client_id)).first()
        if row is not None:
            db.expunge(row)
        return row


def _count(app, model) -> int:
    with _db(app) as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def test_the_console_shows_the_urls_an_lms_admin_registers(app, admin, settings):
    client, _ = admin
    page = client.get("/admin/").text
    for label, path in (("OpenID Connect login (initiation) URL", "/lti/login"),
                        ("Launch (redirect) URL", "/lti/launch"),
                        ("Deep Linking URL", "/lti/launch"),
                        ("Public keyset (JWKS) URL", "/lti/jwks"),
                        ("Dynamic Registration URL", "/lti/register"),
                        ("Canvas configuration (JSON) URL", "/lti/canvas.json")):
        # Built from base_url (never the Host header), as the LMS must be told.
        assert re.search(re.escape(label) + r"</dt>\s*<dd><code>"
                         + re.escape(settings.url(path)) + "</code>", page), label
    spoofed = client.get("/admin/", headers={"Host": "evil.example"}).text
    assert "evil.example" not in spoofed
    assert client.get("/admin/platforms/new").text.count(settings.url("/lti/jwks")) == 1


def test_adding_a_platform_registers_it_with_its_deployments(app, admin):
    client, token = admin
    answer = client.post("/admin/platforms/new", data={**NEW, "csrf_token": token})
    assert answer.status_code == 302, answer.text[:500]
    assert "registered" in client.get(answer.headers["Location"]).text
    row = _platform(app, "abc123")
    assert row is not None and row.enabled and row.name == "Lakeside TC Moodle"
    assert row.frame_origins == "https://lms.lakeside.example"
    with _db(app) as db:
        assert sorted(db.scalars(select(Deployment.deployment_id).where(
            Deployment.platform_id == row.id))) == ["1", "7"]
    # The same issuer and client ID again: refused, nothing changed, the form kept.
    again = client.post("/admin/platforms/new", data={**NEW, "name": "Twin",
                                                      "csrf_token": token})
    assert again.status_code == 400 and "already registered" in again.text
    assert 'value="Twin"' in again.text
    assert _platform(app, "abc123").name == "Lakeside TC Moodle"


@pytest.mark.parametrize(("field", "bad", "message"), [
    ("auth_login_url", "javascript:alert(1)", "auth login URL must be an http"),
    ("key_set_url", "https://x.example/" + "a" * 1100, "at most 1024"),
    ("issuer", "", "issuer must not be empty"),
    ("client_id", "c" * 300, "at most 255"),
    ("frame_origins", "https://a.example; script-src *", "frame origin must look like"),
    ("deployment_policy", "lenient", "deployment policy must be one of"),
    ("name", "n" * 9000, "too long"),
])
def test_a_bad_platform_form_is_refused_with_its_reason(app, admin, field, bad, message):
    client, token = admin
    before = _count(app, Platform)
    answer = client.post("/admin/platforms/new", data={**NEW, field: bad, "csrf_token": token})
    assert answer.status_code == 400
    assert message in unescape(answer.text) and "Traceback" not in answer.text
    assert 'role="alert"' in answer.text
    assert _count(app, Platform) == before


def test_the_form_escapes_what_it_echoes(app, admin):
    client, token = admin
    hostile = '"><script>alert(1)</script>'
    answer = client.post("/admin/platforms/new", data={
        **NEW, "name": hostile, "auth_login_url": "nope", "csrf_token": token})
    assert answer.status_code == 400
    assert "<script>alert(1)" not in answer.text and "&#34;&gt;&lt;script&gt;" in answer.text


def test_editing_changes_urls_and_adds_deployments_but_not_the_identity(app, admin):
    client, token = admin
    moodle = _platform(app, MOODLE.client_id)
    form = client.get(f"/admin/platforms/{moodle.id}/edit")
    assert form.status_code == 200 and moodle.key_set_url in form.text
    assert 'name="issuer"' not in form.text  # shown, not editable
    answer = client.post(f"/admin/platforms/{moodle.id}/edit", data={
        "csrf_token": token, "name": "Moodle (new host)",
        "issuer": "https://attacker.example", "client_id": "stolen",
        "auth_login_url": "https://moodle.new.example/mod/lti/auth.php",
        "auth_token_url": "https://moodle.new.example/mod/lti/token.php",
        "key_set_url": "https://moodle.new.example/mod/lti/certs.php",
        "deployment_ids": "2", "deployment_policy": "auto-register",
        "auth_audience": "", "frame_origins": ""})
    assert answer.status_code == 302, answer.text[:500]
    row = _platform(app, MOODLE.client_id)
    assert (row.id, row.issuer, row.client_id) == (moodle.id, moodle.issuer, moodle.client_id)
    assert row.name == "Moodle (new host)"
    assert row.key_set_url == "https://moodle.new.example/mod/lti/certs.php"
    assert row.deployment_policy.value == "auto-register"
    assert _platform(app, "stolen") is None
    with _db(app) as db:
        assert sorted(db.scalars(select(Deployment.deployment_id).where(
            Deployment.platform_id == row.id))) == sorted([MOODLE.deployment_id, "2"])
    bad = client.post(f"/admin/platforms/{moodle.id}/edit", data={
        "csrf_token": token, "auth_login_url": "ftp://x", "auth_token_url": "https://t",
        "key_set_url": "https://k"})
    assert bad.status_code == 400 and "Not saved" in bad.text
    assert _platform(app, MOODLE.client_id).auth_token_url.startswith("https://moodle.new")
    assert client.get("/admin/platforms/999999/edit").status_code == 404


def test_staff_sub_roles_are_set_in_the_edit_form_and_shown(app, admin):
    """Issue 19: which sub-roles count as staff is a per-platform setting, checked like
    `platform add --staff-role`, shown on the console."""
    client, token = admin
    moodle = _platform(app, MOODLE.client_id)
    assert "none (a bare sub-role gets the student view)" in client.get("/admin/").text
    fields = {"csrf_token": token, "auth_login_url": moodle.auth_login_url,
              "auth_token_url": moodle.auth_token_url, "key_set_url": moodle.key_set_url,
              "deployment_policy": "strict", "lms_family": "moodle"}
    bad = client.post(f"/admin/platforms/{moodle.id}/edit", data={
        **fields, "staff_roles": "Instructor#TeachingAssistant\r\n<b>Learner#x</b>"})
    assert bad.status_code == 400 and "sub-role like Instructor#TeachingAssistant" in bad.text
    assert "<b>Learner#x</b>" not in bad.text  # escaped
    assert _platform(app, MOODLE.client_id).staff_roles == ""
    good = client.post(f"/admin/platforms/{moodle.id}/edit", data={
        **fields, "staff_roles": "Instructor#TeachingAssistant\r\n\r\nInstructor#Grader"})
    assert good.status_code == 302, good.text[:500]
    assert _platform(app, MOODLE.client_id).staff_roles == (
        "Instructor#TeachingAssistant Instructor#Grader")
    assert "Instructor#TeachingAssistant, Instructor#Grader" in client.get("/admin/").text
    form = client.get(f"/admin/platforms/{moodle.id}/edit").text
    assert "Instructor#TeachingAssistant\nInstructor#Grader</textarea>" in form


def test_delete_needs_the_confirmation_page_and_its_checkbox(app, admin):
    client, token = admin
    moodle = _platform(app, MOODLE.client_id)
    with _db(app) as db:
        db.add(User(platform_id=moodle.id, sub="learner-1", name="L One"))
    confirm = client.get(f"/admin/platforms/{moodle.id}/delete")
    assert confirm.status_code == 200
    assert "cannot be undone" in confirm.text and "1 user," in confirm.text
    assert re.search(r'<input type="checkbox" id="confirm" name="confirm" value="yes" '
                     r'required>', confirm.text)
    assert _platform(app, MOODLE.client_id) is not None  # a GET deletes nothing
    # Without the ticked box (no JavaScript to stop it): refused, the page says why.
    for data in ({}, {"confirm": "no"}, {"confirm": "YES "}):
        refused = client.post(f"/admin/platforms/{moodle.id}/delete",
                              data={"csrf_token": token, **data})
        assert refused.status_code == 400 and "Tick the box" in refused.text
        assert _platform(app, MOODLE.client_id) is not None
    done = client.post(f"/admin/platforms/{moodle.id}/delete",
                       data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 302
    assert "deleted" in client.get(done.headers["Location"]).text
    assert _platform(app, MOODLE.client_id) is None
    with _db(app) as db:  # its users and deployments went with it
        assert db.scalar(select(func.count()).select_from(User).where(
            User.platform_id == moodle.id)) == 0
        assert db.scalar(select(func.count()).select_from(Deployment).where(
            Deployment.platform_id == moodle.id)) == 0
    assert client.post(f"/admin/platforms/{moodle.id}/delete", data={
        "csrf_token": token, "confirm": "yes"}).status_code == 404


def test_disable_and_delete_look_different_from_save(app, admin):
    """A danger style and a label that says what happens: not colour alone."""
    client, _ = admin
    page = client.get("/admin/").text
    assert 'admin.css' in page
    hidden = r'<span class="visually-hidden"> ([^<]+)</span>'  # the name, for screen readers
    disable = re.findall(r'<button type="submit" class="danger">Disable' + hidden
                         + r'</button>', page)
    delete = re.findall(r'<a class="button danger" href="[^"]+/delete">Delete' + hidden
                        + r'…</a>', page)
    assert len(disable) == len(delete) == _count(app, Platform) == 2
    assert sorted(disable) == sorted(delete)
    assert len(re.findall(r'class="danger">Disable deployment ', page)) == 2
    moodle = _platform(app, MOODLE.client_id)
    edit = client.get(f"/admin/platforms/{moodle.id}/edit").text
    assert '<button type="submit">Save changes</button>' in edit
    confirm = client.get(f"/admin/platforms/{moodle.id}/delete").text
    assert re.search(r'<button type="submit" class="danger">Delete platform ', confirm)
    css = client.get("/static/admin.css").text
    rule = re.search(r"button\.danger, \.button\.danger \{([^}]+)\}", css).group(1)
    assert "background: #fff" in rule and "border: 2px solid" in rule  # outlined vs filled


def test_a_disabled_platform_is_refused_with_a_clear_page_and_enabling_restores_it(
        live_server):
    server = live_server
    admin = admin_actor(server)
    learner = next(p.sub for p in MOODLE.people if p.persona == "learner")
    assert "Welcome, Maria" in full_launch(server, "moodle", learner).text
    with db_session(server) as db:
        moodle = db.scalars(select(Platform).where(
            Platform.client_id == MOODLE.client_id)).one()
        platform_id = moodle.id
    # A login already under way when the admin disables: its launch is refused too.
    pending = begin_launch(server, "moodle", learner)
    r = admin.http.post(f"{server.url}/admin/platforms/{platform_id}/enabled",
                        data={"csrf_token": admin.csrf, "enabled": "0"})
    assert r.status_code == 200 and "disabled: its launches are refused" in r.text
    assert re.search(r'<button type="submit">Enable<span class="visually-hidden"> ', r.text)
    for refused in (pending.post(pending.sign(pending.claims())),
                    _login_only(server, learner)):
        assert_refused(refused, "unknown_platform")
        assert refused.status_code == 403
        assert "This LMS is turned off in CPT Practice" in refused.text
        assert "Enable it again in the admin console" in refused.text
        assert MOODLE.client_id in refused.text
    admin.http.post(f"{server.url}/admin/platforms/{platform_id}/enabled",
                    data={"csrf_token": admin.csrf, "enabled": "1"})
    assert "Welcome, Maria" in full_launch(server, "moodle", learner).text


def _login_only(server, learner: str) -> requests.Response:
    from support import parse_form

    s = requests.Session()
    page = s.get(f"{server.url}/sandbox/moodle/launch/frame", params={"user": learner})
    action, fields = parse_form(page.text)
    return s.post(action, data=fields)


def test_an_unregistered_platform_still_gets_the_plain_unknown_page(live_server):
    r = requests.post(f"{live_server.url}/lti/login", data={
        "iss": "https://never.example", "login_hint": "x", "client_id": MOODLE.client_id,
        "target_link_uri": f"{live_server.url}/lti/launch"})
    assert_refused(r, "unknown_platform")
    assert "turned off" not in r.text and "is not registered" in r.text


# -- attacks on the new forms -------------------------------------------------------------

ROUTES = ("/admin/platforms/new", "/admin/platforms/{id}/edit", "/admin/platforms/{id}/delete",
          "/admin/platforms/{id}/enabled")


def _state(app) -> list[tuple]:
    with _db(app) as db:
        return [(p.id, p.issuer, p.client_id, p.name, p.key_set_url, p.enabled,
                 p.frame_origins, len(p.deployments))
                for p in db.scalars(select(Platform).order_by(Platform.id))]


def _bodies(platform_id: int) -> dict[str, dict[str, str]]:
    return {
        "new": {**NEW},
        "edit": {**NEW, "name": "hijacked", "key_set_url": "https://evil.example/jwks"},
        "delete": {"confirm": "yes"},
        "enabled": {"enabled": "0"},
    }


def test_the_platform_forms_need_a_sign_in_and_refuse_lti_sessions(app, client):
    moodle = _platform(app, MOODLE.client_id)
    before = _state(app)
    bodies = _bodies(moodle.id)
    for route in ROUTES:
        url = route.format(id=moodle.id)
        kind = url.rsplit("/", 1)[1]
        for method in ("GET", "POST"):
            if kind == "enabled" and method == "GET":
                continue
            r = client.open(url, method=method, data=bodies[kind])
            assert r.status_code == 302 and r.headers["Location"].endswith("/admin/login"), (
                url, method, r.status_code)
    # An LTI session (cookie, ?s=, header) is not an admin sign-in.
    with _db(app) as db:
        from lti_tool.models import ToolSession
        sid = db.scalars(select(ToolSession.id)).first() or "x"
    client.set_cookie("cpt_session", sid)
    r = client.post(f"/admin/platforms/{moodle.id}/delete?s={sid}", data={"confirm": "yes"},
                    headers={"X-CPT-Session": sid})
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/login")
    assert _state(app) == before


def test_the_platform_forms_refuse_a_missing_forged_or_foreign_csrf_token(app, admin):
    client, token = admin
    # Another admin's live session: its token is not this session's.
    other = app.test_client()
    with _db(app) as db:
        AdminService(db, system_clock).create("other-admin", PASSWORD)
    other.post("/admin/login", data={"username": "other-admin", "password": PASSWORD},
               environ_base={"REMOTE_ADDR": "10.0.0.2"})
    foreign = re.search(r'name="csrf_token" value="([^"]+)"',
                        other.get("/admin/").text).group(1)
    assert foreign != token
    moodle = _platform(app, MOODLE.client_id)
    before = _state(app)
    bodies = _bodies(moodle.id)
    for route in ROUTES:
        url = route.format(id=moodle.id)
        body = bodies[url.rsplit("/", 1)[1]]
        for bad in (None, "", "forged-" + token[:8], token[:-1], token + "x", foreign):
            data = dict(body) if bad is None else {**body, "csrf_token": bad}
            r = client.post(url, data=data)
            assert r.status_code == 403, (url, bad, r.status_code)
            assert "Traceback" not in r.text
        # The same token in the query string or a header does not count either.
        r = client.post(f"{url}?csrf_token={token}", data=body,
                        headers={"X-CSRF-Token": token})
        assert r.status_code == 403, url
    assert _state(app) == before
    # Control: with the right token each form does its job (so the 403s were the token's).
    assert client.post(ROUTES[0], data={**bodies["new"], "csrf_token": token}
                       ).status_code == 302
    assert client.post(f"/admin/platforms/{moodle.id}/edit",
                       data={**bodies["edit"], "csrf_token": token}).status_code == 302
    assert _platform(app, MOODLE.client_id).name == "hijacked"
