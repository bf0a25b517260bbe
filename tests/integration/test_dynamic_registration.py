"""Dynamic Registration end to end against the sandbox LMS over HTTP, and the Canvas
developer-key JSON."""

from __future__ import annotations

import re
from html import unescape

import pytest
import requests
from lti_helpers import full_launch
from sqlalchemy import delete, select

from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.lti.registration import SCOPES, issuer_matches
from lti_tool.models import Deployment, Platform
from lti_tool.sandbox.platforms import CANVAS, MOODLE


def _db(server):
    engine = make_engine(server.settings.database_url)
    return engine, make_session_factory(engine)


def _forget(server, issuer: str) -> None:
    """Start as a college whose LMS never registered the tool."""
    engine, sessions = _db(server)
    with transaction(sessions) as db:
        db.execute(delete(Platform).where(Platform.issuer == issuer))
    engine.dispose()


def _start_url(server, key: str) -> str:
    page = requests.get(f"{server.lms_url}/sandbox/{key}/register-tool", timeout=10)
    assert page.status_code == 200
    return unescape(re.search(r'id="registration-frame"[^>]*src="([^"]+)"', page.text,
                              re.S).group(1))


@pytest.mark.parametrize("platform", [MOODLE, CANVAS], ids=["moodle", "canvas"])
def test_a_platform_registers_itself_and_launches_work_at_once(live_server, platform):
    issuer = platform.issuer(live_server.settings)
    _forget(live_server, issuer)
    with pytest.raises(requests.HTTPError, match="403"):  # unknown platform: refused
        full_launch(live_server, platform.key, platform.people[0].sub)
    answer = requests.get(_start_url(live_server, platform.key), timeout=20)
    assert answer.status_code == 200, answer.text[:600]
    assert "CPT Practice is registered" in answer.text
    assert "registration_close.js" in answer.text  # posts org.imsglobal.lti.close
    engine, sessions = _db(live_server)
    with transaction(sessions) as db:
        row = db.scalars(select(Platform).where(Platform.issuer == issuer)).one()
        assert row.client_id == platform.client_id and row.enabled
        assert row.auth_login_url.endswith(platform.auth_path)
        assert row.key_set_url.endswith(platform.jwks_path)
        assert [d.deployment_id for d in db.scalars(select(Deployment).where(
            Deployment.platform_id == row.id))] == [platform.deployment_id]
    engine.dispose()
    launched = full_launch(live_server, platform.key, platform.people[0].sub)
    assert launched.status_code == 200, launched.text[:600]


def test_registration_waits_for_approval_when_required(live_server, monkeypatch):
    issuer = MOODLE.issuer(live_server.settings)
    _forget(live_server, issuer)
    import dataclasses

    rt = live_server.app.extensions["cpt_lti"]
    monkeypatch.setattr(rt, "settings", dataclasses.replace(
        rt.settings, registration_require_approval=True))
    answer = requests.get(_start_url(live_server, "moodle"), timeout=20)
    assert answer.status_code == 200 and "must approve" in answer.text
    engine, sessions = _db(live_server)
    with transaction(sessions) as db:
        assert db.scalars(select(Platform).where(Platform.issuer == issuer)).one().enabled \
            is False
    engine.dispose()
    with pytest.raises(requests.HTTPError, match="403"):  # disabled until approved
        full_launch(live_server, "moodle", MOODLE.people[0].sub)


def test_bad_openid_configuration_is_refused_with_a_page(live_server):
    # JSON, but a key set, not an OpenID configuration.
    url = f"{live_server.url}/lti/register?openid_configuration=" \
          f"{live_server.lms_url}/sandbox/moodle/jwks&registration_token=x"
    answer = requests.get(url, timeout=20)
    assert answer.status_code == 400
    assert "no valid issuer" in answer.text and "Traceback" not in answer.text


def test_issuer_not_on_the_configurations_origin_is_refused(live_server):
    start = _start_url(live_server, "moodle")
    # The same sandbox reached through another host name: its issuer no longer matches.
    moved = start.replace("openid_configuration=http%3A%2F%2F127.0.0.1",
                          "openid_configuration=http%3A%2F%2Flocalhost")
    assert moved != start
    answer = requests.get(moved, timeout=20)
    assert answer.status_code == 400 and "does not match" in answer.text


def test_a_registration_endpoint_error_is_reported(live_server):
    start = re.sub(r"registration_token=[^&]+", "registration_token=forged", _start_url(
        live_server, "moodle"))
    answer = requests.get(start, timeout=20)
    assert answer.status_code == 400
    assert "refused the registration (HTTP 401)" in answer.text


def test_registration_without_parameters_explains_itself(client):
    answer = client.get("/lti/register")
    assert answer.status_code == 400 and b"openid_configuration" in answer.data


def test_issuer_origin_rule():
    assert issuer_matches("https://moodle.college.edu", "https://moodle.college.edu/mod/lti/"
                          "openid-configuration.php")
    assert not issuer_matches("https://moodle.college.edu", "https://evil.test/config")
    assert issuer_matches("https://canvas.instructure.com",
                          "https://sso.canvaslms.com/api/lti/security/openid-configuration")
    assert not issuer_matches("https://canvas.instructure.com", "http://sso.canvaslms.com/x")
    assert not issuer_matches("https://canvas.instructure.com", "https://evil.test/x")


def test_canvas_json_has_what_a_developer_key_needs(client, settings):
    config = client.get("/lti/canvas.json").get_json()
    for key in ("title", "description", "oidc_initiation_url", "target_link_uri",
                "public_jwk_url", "scopes", "extensions"):
        assert config[key], key
    assert config["oidc_initiation_url"] == settings.url("/lti/login")
    assert config["target_link_uri"] == settings.url("/lti/launch")
    assert config["public_jwk_url"] == settings.url("/lti/jwks")
    assert set(config["scopes"]) == set(SCOPES)
    [extension] = config["extensions"]
    assert extension["platform"] == "canvas.instructure.com"
    placements = {p["placement"]: p for p in extension["settings"]["placements"]}
    assert set(placements) == {"course_navigation", "link_selection",
                               "assignment_selection", "editor_button"}
    assert placements["course_navigation"]["message_type"] == "LtiResourceLinkRequest"
    for name in ("link_selection", "assignment_selection", "editor_button"):
        assert placements[name]["message_type"] == "LtiDeepLinkingRequest"
        assert placements[name]["target_link_uri"] == settings.url("/lti/launch")


class _Recorder(requests.Session):
    """Records every request the registration would send (none should leave)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        self.sent.append(url)
        raise requests.ConnectionError("the test allows no traffic")


@pytest.mark.parametrize("address", [
    "https://127.0.0.1/.well-known/openid-configuration",
    "https://localhost:8443/config",
    "https://10.0.0.5/config",
    "https://192.168.1.10/config",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/config",
    "https://[fd00::1]/config",
    "https://0.0.0.0/config",
])
def test_registration_will_not_fetch_internal_addresses(database_url, address):
    """Anyone can open /lti/register: outside the sandbox it must not be a way to make the
    tool fetch addresses in its own network (cloud metadata, admin ports)."""
    from support import make_settings

    from lti_tool.lti.registration import RegistrationError, register

    settings = make_settings(database_url, sandbox=False)
    http = _Recorder()
    engine = make_engine(database_url)
    try:
        with transaction(make_session_factory(engine)) as db, \
                pytest.raises(RegistrationError, match="private or local network"):
            register(db, settings, http, address, "token", require_approval=False)
    finally:
        engine.dispose()
    assert http.sent == []


def test_internal_addresses_are_allowed_when_the_admin_says_so(database_url):
    """A college whose Moodle lives on its private network with the tool opts in; then the
    request is made (and here fails, as nothing listens)."""
    from support import make_settings

    from lti_tool.lti.registration import RegistrationError, register

    settings = make_settings(database_url, sandbox=False, registration_allow_private_hosts=True)
    http = _Recorder()
    engine = make_engine(database_url)
    try:
        with transaction(make_session_factory(engine)) as db, \
                pytest.raises(RegistrationError, match="could not be fetched"):
            register(db, settings, http, "https://10.0.0.5/config", None,
                     require_approval=False)
    finally:
        engine.dispose()
    assert http.sent == ["https://10.0.0.5/config"]


def test_public_addresses_pass_the_check():
    from lti_tool.lti.registration import check_public_host

    check_public_host("https://93.184.216.34/config", "openid_configuration")
