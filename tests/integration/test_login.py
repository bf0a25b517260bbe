"""The OIDC login initiation: what the tool answers, and what it refuses."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from lti_tool.sandbox.platforms import CANVAS, MOODLE


def _login(client, method, params):
    if method == "GET":
        return client.get("/lti/login", query_string=params)
    return client.post("/lti/login", data=params)


def _params(settings, platform):
    return {"iss": platform.issuer(settings), "login_hint": platform.people[0].sub,
            "target_link_uri": settings.url("/lti/launch"), "client_id": platform.client_id,
            "lti_message_hint": "opaque-hint", "lti_deployment_id": platform.deployment_id}


def test_login_redirects_to_platform_auth_with_oidc_parameters(client, settings):
    for method in ("GET", "POST"):
        r = _login(client, method, _params(settings, MOODLE))
        assert r.status_code == 302
        target = urlsplit(r.headers["Location"])
        assert target.path == "/sandbox/moodle/mod/lti/auth.php"
        q = {k: v[0] for k, v in parse_qs(target.query).items()}
        assert q["scope"] == "openid" and q["response_type"] == "id_token"
        assert q["response_mode"] == "form_post" and q["prompt"] == "none"
        assert q["client_id"] == MOODLE.client_id
        assert q["redirect_uri"] == "http://localhost/lti/launch"
        assert q["login_hint"] == MOODLE.people[0].sub
        assert q["lti_message_hint"] == "opaque-hint"
        assert q["state"] and len(q["nonce"]) >= 32
        assert any(c.startswith(f"lti1p3-{q['state']}=") for c in
                   r.headers.getlist("Set-Cookie"))


def test_each_login_gets_a_fresh_state_and_nonce(client, settings):
    seen = set()
    for _ in range(3):
        r = _login(client, "POST", _params(settings, CANVAS))
        q = parse_qs(urlsplit(r.headers["Location"]).query)
        seen.add((q["state"][0], q["nonce"][0]))
    assert len(seen) == 3


def test_login_without_client_id_works_when_issuer_has_one_registration(client, settings):
    params = _params(settings, MOODLE)
    del params["client_id"]
    assert _login(client, "GET", params).status_code == 302


def test_login_missing_iss(client, settings):
    params = _params(settings, CANVAS)
    del params["iss"]
    r = _login(client, "POST", params)
    assert r.status_code == 400 and b"<code>bad_login</code>" in r.data


def test_login_missing_login_hint(client, settings):
    params = _params(settings, CANVAS)
    del params["login_hint"]
    r = _login(client, "POST", params)
    assert r.status_code == 400 and b"<code>bad_login</code>" in r.data


def test_login_unknown_issuer(client, settings):
    params = _params(settings, CANVAS)
    params["iss"] = "https://not-registered.example"
    r = _login(client, "POST", params)
    assert r.status_code == 403 and b"<code>unknown_platform</code>" in r.data
    assert b"https://not-registered.example" in r.data
    assert b"Traceback" not in r.data


def test_login_unknown_client_id(client, settings):
    params = _params(settings, CANVAS)
    params["client_id"] = "123"
    r = _login(client, "GET", params)
    assert r.status_code == 403 and b"<code>unknown_platform</code>" in r.data


def test_front_page_lists_registration_urls_and_sandbox(client):
    r = client.get("/")
    assert r.status_code == 200
    for path in (b"/lti/login", b"/lti/launch", b"/lti/jwks", b"/sandbox/"):
        assert path in r.data


def test_health(client):
    r = client.get("/health")
    assert r.status_code == 200 and r.get_json()["status"] == "ok"


def test_unknown_page_is_a_plain_404(client):
    r = client.get("/nope")
    assert r.status_code == 404 and b"Traceback" not in r.data


def test_https_cookies_are_partitioned_cross_site_cookies(database_url):
    """Over HTTPS the state cookie must survive an LMS iframe: SameSite=None; Secure;
    Partitioned, even when TLS ends at a proxy in front of the tool."""
    from support import make_settings, prepare

    from lti_tool import create_app

    s = make_settings(database_url, "https://cpt.example.edu")
    prepare(s)
    app = create_app(s)
    try:
        r = app.test_client().post("/lti/login", data=_params(s, MOODLE))
        assert r.status_code == 302
        cookie = next(c for c in r.headers.getlist("Set-Cookie") if c.startswith("lti1p3-"))
        for attribute in ("SameSite=None", "Secure", "Partitioned", "HttpOnly"):
            assert attribute in cookie
        assert urlsplit(parse_qs(urlsplit(r.headers["Location"]).query)["redirect_uri"][0]
                        ).path == "/lti/launch"
    finally:
        app.extensions["cpt_lti"].engine.dispose()


def test_expired_login_state_is_purged_by_a_later_login(client, app, settings, monkeypatch):
    """One login in PURGE_EVERY deletes expired states and nonces (made 1 here: which
    login does it is random); expired rows are never read as live meanwhile."""
    from datetime import timedelta

    monkeypatch.setattr("lti_tool.lti.launch.PURGE_EVERY", 1)

    from sqlalchemy import func, select

    from lti_tool.models import LaunchValue

    rt = app.extensions["cpt_lti"]
    _login(client, "POST", _params(settings, MOODLE))
    with rt.transaction() as db:
        before = db.scalar(select(func.count()).select_from(LaunchValue))
        assert before >= 2  # nonce and state parameters
        for row in db.scalars(select(LaunchValue)):
            row.expires_at = rt.clock() - timedelta(seconds=1)
    _login(client, "POST", _params(settings, MOODLE))
    with rt.transaction() as db:
        assert db.scalar(select(func.count()).select_from(LaunchValue)) == before
