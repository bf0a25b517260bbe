"""Dynamic Registration end to end against the sandbox LMS over HTTP, and the Canvas
developer-key JSON."""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import urlsplit

import pytest
import requests
from lti_helpers import full_launch
from sqlalchemy import delete, select

from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.lti.registration import SCOPES, issuer_matches
from lti_tool.models import Deployment, Platform, PlatformRegistration
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


def _without_approval(server, monkeypatch) -> None:
    """An operator who turned approval off (registration_require_approval = false)."""
    import dataclasses

    rt = server.app.extensions["cpt_lti"]
    monkeypatch.setattr(rt, "settings", dataclasses.replace(
        rt.settings, registration_require_approval=False))


@pytest.mark.parametrize("platform", [MOODLE, CANVAS], ids=["moodle", "canvas"])
def test_without_approval_a_new_platform_launches_at_once(live_server, platform,
                                                           monkeypatch):
    issuer = platform.issuer(live_server.settings)
    _forget(live_server, issuer)
    _without_approval(live_server, monkeypatch)
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


def _cli(server, *args: str):
    from click.testing import CliRunner
    from support import TEST_SEALING_KEY

    from lti_tool.cli import cli

    env = {"CPT_LTI_DATABASE_URL": server.settings.database_url,
           "CPT_LTI_ENVIRONMENT": "test", "CPT_LTI_SANDBOX": "true", "CPT_LTI_CONFIG": "",
           "CPT_LTI_BASE_URL": server.url, "CPT_LTI_SEALING_KEY": TEST_SEALING_KEY}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_by_default_a_registration_waits_for_an_admin(live_server):
    """The shipped default: the platform is not created (no launch, no framing) until a
    tool admin approves it with `cpt-lti platform approve`; then launches work."""
    issuer = MOODLE.issuer(live_server.settings)
    _forget(live_server, issuer)
    answer = requests.get(_start_url(live_server, "moodle"), timeout=20)
    assert answer.status_code == 200 and "must approve" in answer.text
    engine, sessions = _db(live_server)
    with transaction(sessions) as db:
        assert db.scalars(select(Platform).where(Platform.issuer == issuer)).first() is None
        [waiting] = db.scalars(select(PlatformRegistration)).all()
        assert (waiting.issuer, waiting.client_id) == (issuer, MOODLE.client_id)
    engine.dispose()
    with pytest.raises(requests.HTTPError, match="403"):  # unknown until approved
        full_launch(live_server, "moodle", MOODLE.people[0].sub)
    listed = _cli(live_server, "platform", "list")
    assert listed.exit_code == 0
    assert f"waiting for approval: registration {waiting.id}" in listed.output
    as_json = json.loads(_cli(live_server, "platform", "list", "--json").output)
    assert [r["pending_registration"] for r in as_json if "pending_registration" in r] \
        == [waiting.id]
    approved = _cli(live_server, "platform", "approve", str(waiting.id))
    assert approved.exit_code == 0 and "registered platform" in approved.output
    launched = full_launch(live_server, "moodle", MOODLE.people[0].sub)
    assert launched.status_code == 200, launched.text[:600]
    frames = live_server.app.extensions["cpt_lti_frame_ancestors"]
    frames.clear()
    policy = requests.get(f"{live_server.url}/lti/jwks", timeout=10).headers[
        "Content-Security-Policy"]
    assert urlsplit(issuer).netloc in policy
    missing = _cli(live_server, "platform", "approve", str(waiting.id))
    assert missing.exit_code == 1 and "no registration" in missing.output


def test_a_reregistration_waits_and_approval_replaces_the_urls(live_server):
    """An LMS already registered registers again with other URLs (its admin re-ran the
    registration): nothing changes until approved; approval replaces the URLs and keeps
    the platform's enabled state."""
    issuer = MOODLE.issuer(live_server.settings)
    engine, sessions = _db(live_server)
    with transaction(sessions) as db:
        row = db.scalars(select(Platform).where(Platform.issuer == issuer)).one()
        row.key_set_url = issuer + "/old-jwks"
    answer = requests.get(_start_url(live_server, "moodle"), timeout=20)
    assert answer.status_code == 200 and "must approve" in answer.text
    assert "keep using the registration approved before" in " ".join(answer.text.split())
    with transaction(sessions) as db:
        row = db.scalars(select(Platform).where(Platform.issuer == issuer)).one()
        assert row.key_set_url == issuer + "/old-jwks" and row.enabled
        [waiting] = db.scalars(select(PlatformRegistration)).all()
    rejected = _cli(live_server, "platform", "reject", str(waiting.id))
    assert rejected.exit_code == 0
    requests.get(_start_url(live_server, "moodle"), timeout=20)
    with transaction(sessions) as db:
        [waiting] = db.scalars(select(PlatformRegistration)).all()
    approved = _cli(live_server, "platform", "approve", str(waiting.id))
    assert approved.exit_code == 0 and "changed: key_set_url" in approved.output
    with transaction(sessions) as db:
        row = db.scalars(select(Platform).where(Platform.issuer == issuer)).one()
        assert row.key_set_url.endswith(MOODLE.jwks_path) and row.enabled
        assert db.scalars(select(PlatformRegistration)).all() == []
    engine.dispose()
    # Registering again with the same settings changes nothing and waits for nobody.
    again = requests.get(_start_url(live_server, "moodle"), timeout=20)
    assert "already registered with these settings" in " ".join(again.text.split())


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


@pytest.mark.parametrize("address", [
    "https://127.0.0.1/.well-known/openid-configuration",
    "https://localhost:8443/config",
    "https://10.0.0.5/config",
    "https://192.168.1.10/config",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/config",
    "https://[fd00::1]/config",
    "https://0.0.0.0/config",
    "https://100.64.0.1/config",
    "https://[::ffff:10.0.0.1]/config",
])
def test_registration_will_not_fetch_internal_addresses(database_url, address):
    """Anyone can open /lti/register: it must not be a way to make the tool fetch
    addresses in its own network (cloud metadata, admin ports) - whatever the sandbox."""
    from support import make_settings

    from lti_tool.lti.http import lms_session
    from lti_tool.lti.registration import RegistrationError, register

    settings = make_settings(database_url, outbound_allow_networks="")
    engine = make_engine(database_url)
    try:
        with transaction(make_session_factory(engine)) as db, \
                pytest.raises(RegistrationError, match="which outbound_allow_networks "
                                                      "does not allow"):
            register(db, settings, lms_session(settings), address, "token",
                     require_approval=False)
    finally:
        engine.dispose()


def test_internal_addresses_are_allowed_when_the_admin_says_so(database_url):
    """A college whose Moodle lives on its own network with the tool names that network
    (outbound_allow_networks); then the request is made (here to a listener that only
    counts connections, so it fails after connecting)."""
    from outbound_support import TcpRecorder
    from support import make_settings

    from lti_tool.lti.http import lms_session
    from lti_tool.lti.registration import RegistrationError, register

    settings = make_settings(database_url, outbound_allow_networks="127.0.0.0/8",
                             http_timeout_seconds=2.0)
    engine = make_engine(database_url)
    try:
        with TcpRecorder() as internal, transaction(make_session_factory(engine)) as db:
            with pytest.raises(RegistrationError, match="could not be fetched"):
                register(db, settings, lms_session(settings),
                         f"https://127.0.0.1:{internal.port}/config", None,
                         require_approval=False)
            assert internal.connections == 1
    finally:
        engine.dispose()


def test_public_addresses_pass_the_check():
    from lti_tool.delivery.outbound import OutboundPolicy

    OutboundPolicy().check("https://93.184.216.34/config")


def test_an_admin_approves_or_rejects_from_the_console(live_server):
    """The console lists waiting registrations with what they would set, and approves or
    rejects each (with its CSRF token, like every console form)."""
    from test_attacks_common import admin_actor

    issuer = MOODLE.issuer(live_server.settings)
    _forget(live_server, issuer)
    requests.get(_start_url(live_server, "moodle"), timeout=20)
    admin = admin_actor(live_server)
    console = admin.http.get(f"{live_server.url}/admin/", timeout=20).text
    assert "Registrations waiting for approval" in console and issuer in console
    engine, sessions = _db(live_server)
    with transaction(sessions) as db:
        [waiting] = db.scalars(select(PlatformRegistration)).all()
    refused = admin.http.post(f"{live_server.url}/admin/registrations/{waiting.id}/approve",
                              data={"csrf_token": "forged"}, timeout=20)
    assert refused.status_code == 403
    done = admin.http.post(f"{live_server.url}/admin/registrations/{waiting.id}/approve",
                           data={"csrf_token": admin.csrf}, timeout=20)
    assert done.status_code == 200 and "registration approved" in done.text
    with transaction(sessions) as db:
        assert db.scalars(select(Platform).where(Platform.issuer == issuer)).one().enabled
    engine.dispose()
    assert full_launch(live_server, "moodle", MOODLE.people[0].sub).status_code == 200
    gone = admin.http.post(f"{live_server.url}/admin/registrations/{waiting.id}/reject",
                           data={"csrf_token": admin.csrf}, timeout=20)
    assert gone.status_code == 404


# -- issue 19: a Canvas is a Canvas wherever it is hosted, and is spoken to as one ----------

def test_a_self_hosted_canvas_registers_as_canvas_and_gets_the_submission_extension(
        live_server):
    """Defect 6: a Canvas on a college's own domain (no instructure.com in its issuer)
    names its product in its OpenID configuration; the registration - waiting for approval,
    then approved - makes it a Canvas platform, so its scores carry Canvas's submission
    extension."""
    from lti_helpers import place
    from test_grade_passback import _take_practice, _worker

    from lti_tool.sandbox.models import SandboxScore
    from lti_tool.sandbox.platforms import CANVAS_HOSTED

    issuer = CANVAS_HOSTED.issuer(live_server.settings)
    assert "instructure.com" not in issuer
    answer = requests.get(_start_url(live_server, CANVAS_HOSTED.key), timeout=20)
    assert answer.status_code == 200 and "must approve" in answer.text
    [waiting] = [r for r in json.loads(_cli(live_server, "platform", "list", "--json").output)
                 if "pending_registration" in r]
    assert (waiting["issuer"], waiting["lms_family"]) == (issuer, "canvas")
    assert _cli(live_server, "platform", "approve",
                str(waiting["pending_registration"])).exit_code == 0
    [row] = [r for r in json.loads(_cli(live_server, "platform", "list", "--json").output)
             if r.get("issuer") == issuer]
    assert row["lms_family"] == "canvas"

    placed = place(live_server, CANVAS_HOSTED)
    _take_practice(live_server, CANVAS_HOSTED, CANVAS_HOSTED.people[0], placed, right=15)
    engine, worker = _worker(live_server)
    assert worker.run_once().sent == 1
    with transaction(make_session_factory(engine)) as db:
        body = db.scalars(select(SandboxScore)).one().body
    engine.dispose()
    extension = body["https://canvas.instructure.com/lti/submission"]
    assert extension["new_submission"] is True and extension["submitted_at"]


def _registration_exchange(server, key: str) -> tuple[dict, requests.Response]:
    """The tool's registration request to a sandbox platform, and the platform's answer."""
    from urllib.parse import parse_qs

    from lti_tool.delivery.outbound import OutboundPolicy
    from lti_tool.lti.registration import fetch_platform_configuration, tool_registration

    query = parse_qs(urlsplit(_start_url(server, key)).query)
    lms = urlsplit(server.lms_url)
    config = fetch_platform_configuration(
        requests.Session(), query["openid_configuration"][0],
        policy=OutboundPolicy.from_settings(server.settings),
        sandbox_origin=f"{lms.scheme}://{lms.netloc}")
    body = tool_registration(server.settings, config)
    answer = requests.post(config.registration_endpoint, json=body, timeout=20, headers={
        "Authorization": f"Bearer {query['registration_token'][0]}"})
    return body, answer


@pytest.mark.parametrize("key", ["canvas", "canvas-hosted"])
def test_a_canvas_registration_asks_for_canvas_placements_and_a_privacy_level(live_server,
                                                                                key):
    """Defect 7: Canvas files a registration's messages by Canvas's placement names; the
    tool asks for course navigation (a launch) and link selection, assignment selection and
    the editor button (Deep Linking), and says its privacy level. The sandbox Canvas reads
    the request as Canvas does and answers what it made of it."""
    body, answer = _registration_exchange(live_server, key)
    assert answer.status_code == 201, answer.text
    config = body["https://purl.imsglobal.org/spec/lti-tool-configuration"]
    assert config["https://canvas.instructure.com/lti/privacy_level"] == "public"
    made = answer.json()["tool_configuration"]
    assert made["privacy_level"] == "public"
    placements = {p["placement"]: p["message_type"]
                  for p in made["extensions"][0]["settings"]["placements"]}
    assert placements == {"course_navigation": "LtiResourceLinkRequest",
                          "link_selection": "LtiDeepLinkingRequest",
                          "assignment_selection": "LtiDeepLinkingRequest",
                          "editor_button": "LtiDeepLinkingRequest"}


def test_a_moodle_registration_has_no_canvas_words(live_server):
    body, answer = _registration_exchange(live_server, "moodle")
    assert answer.status_code == 201, answer.text
    assert "canvas.instructure.com" not in json.dumps(body)
    messages = body["https://purl.imsglobal.org/spec/lti-tool-configuration"]["messages"]
    assert [m.get("placements") for m in messages] == [None, ["ContentArea"]]


def test_the_sandbox_canvas_refuses_what_canvas_refuses(live_server):
    """The sandbox's Canvas reading: unknown placements, a placement that does not take
    the message type, an unknown privacy level."""
    from lti_tool.sandbox.registration import _canvas_reading

    config = {"claims": ["sub"], "messages": [
        {"type": "LtiResourceLinkRequest", "placements": ["course_navigation", "nowhere"]},
        {"type": "LtiDeepLinkingRequest",
         "placements": ["https://canvas.instructure.com/lti/course_navigation"]}],
        "https://canvas.instructure.com/lti/privacy_level": "everything"}
    problems, _ = _canvas_reading(config)
    assert problems == ["privacy_level 'everything' is not one of ('public', 'name_only', "
                        "'email_only', 'anonymous')",
                        "placement 'nowhere' is not a Canvas placement",
                        "placement course_navigation does not take LtiDeepLinkingRequest"]
    # Without placements Canvas files a message under link selection; without a privacy
    # level it guesses one from the claims.
    problems, made = _canvas_reading({"claims": ["sub", "name"], "messages": [
        {"type": "LtiResourceLinkRequest"}]})
    assert not problems and made["privacy_level"] == "name_only"
    assert [p["placement"] for p in made["extensions"][0]["settings"]["placements"]] == [
        "link_selection"]
