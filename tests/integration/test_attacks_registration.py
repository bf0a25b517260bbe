"""Dynamic Registration turned against the tool (issue 15, point 3).

/lti/register is public - the LMS opens it without any sign-in - and it fetches and
posts to the addresses it is given. What the issue reproduced, each an attack here:

- the private-address guard parsed one host while the HTTP client connected to another:
  ``https://127.0.0.1:PORT\\@1.1.1.1/`` passed as 1.1.1.1 and reached 127.0.0.1:PORT;
- the LMS's refusal was echoed on the page (a way to read internal services' answers);
- the guard was off altogether whenever the sandbox was on;
- a registration with an existing issuer + client ID overwrote that platform's key-set,
  login and token URLs, and re-enabled it if it was disabled;
- new registrations were enabled without approval, and their origin joined every page's
  ``frame-ancestors``.

The "internal service" is a TCP listener on loopback that counts connections; the fake
LMS is a small HTTP server on loopback (the test settings allow loopback by name, as the
sandbox needs; the guard tests remove that allowance).
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from outbound_support import FakeLms, TcpRecorder
from sqlalchemy import select
from support import make_settings, prepare

from lti_tool import create_app
from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.models import Platform

CLIENT_ID = "fake-client-1"


@pytest.fixture
def tool(database_url):
    """Builds the tool (Flask app and test client) with the settings a test names."""
    made = []

    def build(**overrides):
        settings = make_settings(database_url, **overrides)
        prepare(settings)
        app = create_app(settings)
        app.config["TESTING"] = True
        made.append(app)
        return app, app.test_client()

    yield build
    for app in made:
        app.extensions["cpt_lti"].engine.dispose()


def _register(client, config_url: str, token: str = "one-time"):
    return client.get("/lti/register?" + urlencode(
        {"openid_configuration": config_url, "registration_token": token}))


def _platforms(app, issuer: str) -> list[Platform]:
    engine = make_engine(app.extensions["cpt_lti"].settings.database_url)
    try:
        with transaction(make_session_factory(engine)) as db:
            rows = list(db.scalars(select(Platform).where(Platform.issuer == issuer)))
            db.expunge_all()
            return rows
    finally:
        engine.dispose()


def _frame_ancestors(app, client) -> str:
    app.extensions["cpt_lti_frame_ancestors"].clear()
    policy = client.get("/lti/jwks").headers["Content-Security-Policy"]
    return re.search(r"frame-ancestors ([^;]*)", policy).group(1)


def _lms_that_registers(lms: FakeLms, client_id: str = CLIENT_ID, *,
                        deployment_id: str = "dep-1") -> str:
    """The fake LMS answers a registration with this client id; returns its config URL."""
    config = lms.openid_configuration()
    lms.json("POST", "/registration", {
        "client_id": client_id,
        "https://purl.imsglobal.org/spec/lti-tool-configuration": {
            "deployment_id": deployment_id}}, status=201)
    return config


def test_backslash_userinfo_trick_reaches_nothing(tool):
    """ATTACK (issue 15.3): ``https://127.0.0.1:PORT\\@1.1.1.1/`` is 1.1.1.1 to urlsplit
    (the old guard) and 127.0.0.1:PORT to requests (the old client). Refused before any
    connection, naming the rule; the internal port sees nothing."""
    app, client = tool(sandbox=False, outbound_allow_networks="")
    with TcpRecorder() as internal:
        url = f"https://127.0.0.1:{internal.port}\\@1.1.1.1/.well-known/openid-configuration"
        answer = _register(client, url)
        assert answer.status_code == 400
        assert "backslash" in answer.get_data(as_text=True)
        assert internal.connections == 0


@pytest.mark.parametrize("shape", [
    "https://1.1.1.1@127.0.0.1:{port}/config",
    "https://127.0.0.1:{port}%5C@1.1.1.1/config",
    "https://127.0.0.1:{port}/config",
    "https://[::ffff:127.0.0.1]:{port}/config",
    "https://2130706433:{port}/config",
])
def test_other_spellings_of_an_internal_address_reach_nothing(tool, shape):
    """User info, an encoded backslash, an IPv4-mapped IPv6 address, a decimal IPv4: each
    either refused as written or resolved and refused as the loopback address it is."""
    app, client = tool(sandbox=False, outbound_allow_networks="")
    with TcpRecorder() as internal:
        answer = _register(client, shape.format(port=internal.port))
        assert answer.status_code == 400, answer.get_data(as_text=True)[:500]
        assert "Traceback" not in answer.get_data(as_text=True)
        assert internal.connections == 0


def test_the_guard_is_on_with_the_sandbox_on(tool):
    """ATTACK (issue 15.3): with the sandbox on the old guard was off: /lti/register
    connected to any loopback or private port. Now the one outbound policy applies
    whatever the sandbox; loopback is reachable only when outbound_allow_networks names it
    (the tests and `make run` do), and the refusal names that rule."""
    app, client = tool(sandbox=True, outbound_allow_networks="")
    with TcpRecorder() as internal:
        answer = _register(client, f"http://127.0.0.1:{internal.port}/config")
        page = answer.get_data(as_text=True)
        assert answer.status_code == 400
        assert "loopback address" in page and "outbound_allow_networks" in page
        assert internal.connections == 0


def test_the_lms_refusal_is_not_echoed(tool):
    """ATTACK (issue 15.3): the registration endpoint's error body was shown on the public
    page - a way to read what an internal service answers. Only the status is shown."""
    app, client = tool()
    with FakeLms() as lms:
        config = lms.openid_configuration()
        secret = "internal-admin-token-7f3a9"
        lms.routes[("POST", "/registration")] = lambda _r: (
            401, {}, f'{{"error": "{secret}", "html": "<b>internal</b>"}}'.encode())
        answer = _register(client, config)
        page = answer.get_data(as_text=True)
        assert answer.status_code == 400
        assert "refused the registration (HTTP 401)" in page
        assert secret not in page and "internal</b>" not in page


@pytest.mark.parametrize("enabled", [False, True], ids=["disabled", "enabled"])
def test_reregistration_never_overwrites_a_platform(tool, enabled):
    """ATTACK (issue 15.3): a registration naming an existing issuer + client ID replaced
    its key-set, login and token URLs and re-enabled it. Now - even with approval turned
    off - the platform keeps its URLs and its state; the new URLs wait for an admin."""
    app, client = tool(registration_require_approval=False)
    with FakeLms() as lms:
        issuer = lms.origin
        engine = make_engine(app.extensions["cpt_lti"].settings.database_url)
        with transaction(make_session_factory(engine)) as db:
            db.add(Platform(issuer=issuer, client_id=CLIENT_ID, name="Real LMS",
                            auth_login_url=issuer + "/real/auth",
                            auth_token_url=issuer + "/real/token",
                            key_set_url=issuer + "/real/jwks", enabled=enabled))
        engine.dispose()
        answer = _register(client, _lms_that_registers(lms))
        page = answer.get_data(as_text=True)
        assert answer.status_code == 200, page[:800]
        assert "must approve" in page
        [row] = _platforms(app, issuer)
        assert (row.auth_login_url, row.auth_token_url, row.key_set_url) == (
            issuer + "/real/auth", issuer + "/real/token", issuer + "/real/jwks")
        assert row.enabled is enabled
        if not enabled:
            assert issuer not in _frame_ancestors(app, client)


def test_new_registrations_wait_for_approval_and_do_not_frame(tool):
    """ATTACK (issue 15.3): a stranger's registration was enabled at once and its origin
    joined every page's frame-ancestors. By default it now waits for approval: no
    platform is created (no launch), and its origin frames nothing."""
    app, client = tool()  # the shipped default: approval required
    with FakeLms() as lms:
        answer = _register(client, _lms_that_registers(lms))
        page = answer.get_data(as_text=True)
        assert answer.status_code == 200 and "must approve" in page, page[:800]
        assert _platforms(app, lms.origin) == []
        assert lms.origin not in _frame_ancestors(app, client)
