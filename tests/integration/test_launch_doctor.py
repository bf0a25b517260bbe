"""The launch doctor (`cpt-lti platform check`, the admin console's "Check this platform")
against the sandbox LMS: every check passes against it, and each way a real LMS
registration goes wrong - switched on in the sandbox (sandbox/switches.py) or in the
platform row - gives its own failing line, exit 1 and what to fix."""

from __future__ import annotations

import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests
from click.testing import CliRunner
from factories import db_sessions, tool_env
from lti_helpers import full_launch
from sqlalchemy import select

from lti_tool.cli import cli
from lti_tool.db import transaction
from lti_tool.models import Platform, PlatformCheck
from lti_tool.ops.admin import AdminService
from lti_tool.ops.doctor import last_check
from lti_tool.sandbox import switches
from lti_tool.sandbox.models import SandboxKey
from lti_tool.sandbox.platforms import AGS_SCOPES, CANVAS, MOODLE
from lti_tool.web.runtime import system_clock

CHECKS = ("platform key set (JWKS)", "tool key set (JWKS)", "token for grades (AGS)",
          "token for roster (NRPS)", "grade service (AGS line items)",
          "roster service (NRPS)", "login and launch URLs", "framing and cookies",
          "clock skew")
PASSWORD = "correct horse battery"


def _cli(server, *args: str):
    env = tool_env(server.settings.database_url, server.url) | {"CPT_LTI_CONFIG": ""}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _lines(output: str) -> dict[str, str]:
    """The report: check name -> its line's status word."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"(OK|FAILED|SKIPPED)\s+(.+?): ", line)
        if match:
            found[match.group(2)] = match.group(1)
    return found


def _moodle_id(server) -> int:
    engine, sessions = db_sessions(server)
    with transaction(sessions) as db:
        platform_id = db.scalars(select(Platform.id).where(
            Platform.issuer == MOODLE.issuer(server.settings))).one()
    engine.dispose()
    return platform_id


def _switch(server, name: str, value: str | None, key: str = "moodle") -> None:
    engine, sessions = db_sessions(server)
    with transaction(sessions) as db:
        switches.set_switch(db, key, name, value)
    engine.dispose()


def _update_platform(server, **values) -> None:
    engine, sessions = db_sessions(server)
    with transaction(sessions) as db:
        row = db.get(Platform, _moodle_id(server))
        for name, value in values.items():
            setattr(row, name, value)
    engine.dispose()


@pytest.fixture
def launched(live_server):
    """The sandbox Moodle after one learner's launch: a kid, a course, its services."""
    answer = full_launch(live_server, "moodle", MOODLE.people[0].sub)
    assert answer.status_code == 200, answer.text[:500]
    return live_server


def test_every_check_passes_against_the_sandbox(launched):
    server = launched
    result = _cli(server, "platform", "check", MOODLE.issuer(server.settings))
    assert result.exit_code == 0, result.output
    lines = _lines(result.output)
    assert list(lines) == list(CHECKS) and set(lines.values()) == {"OK"}, result.output
    assert len(result.output.strip().splitlines()) == len(CHECKS)
    assert "granted lineitem, lineitem.readonly, result.readonly, score" in result.output
    engine, sessions = db_sessions(server)
    with transaction(sessions) as db:
        platform = db.get(Platform, _moodle_id(server))
        key = db.scalars(select(SandboxKey).where(SandboxKey.platform_key == "moodle")).one()
        # The launch recorded the kid the platform signed with; the doctor found it.
        assert platform.last_launch_kid == key.kid
        stored = last_check(db, platform.id)
    engine.dispose()
    assert stored is not None and stored["ok"] and stored["ran_by"] == "cpt-lti platform check"
    assert [r["name"] for r in stored["results"]] == list(CHECKS)


def test_before_any_launch_nothing_fails_and_the_course_checks_say_why(live_server):
    result = _cli(live_server, "platform", "check", MOODLE.issuer(live_server.settings))
    assert result.exit_code == 0, result.output
    lines = _lines(result.output)
    assert lines["grade service (AGS line items)"] == "SKIPPED"
    assert lines["roster service (NRPS)"] == "SKIPPED"
    assert "no launch yet" in result.output


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("breakage, failing, said", [
    ("wrong client id", {"token for grades (AGS)", "token for roster (NRPS)"},
     "error invalid_client"),
    ("jwks 500", {"platform key set (JWKS)"}, "HTTP 500"),
    ("jwks unreachable", {"platform key set (JWKS)"}, "unreachable"),
    ("key not in jwks", {"platform key set (JWKS)"}, "that signed the last launch"),
    ("scope not granted", {"token for grades (AGS)"}, "not granted: score"),
    ("clock ahead", {"clock skew"}, "s ahead of this server's"),
    ("clock behind", {"clock skew"}, "s behind this server's"),
    ("private jwks address", {"platform key set (JWKS)"}, "outbound policy"),
])
def test_each_breakage_fails_its_own_line(launched, breakage, failing, said):
    server = launched
    if breakage == "wrong client id":
        _switch(server, switches.CLIENT_ID, "someone-else")
    elif breakage == "jwks 500":
        _switch(server, switches.JWKS_STATUS, "500")
    elif breakage == "jwks unreachable":
        _update_platform(server, key_set_url=f"http://127.0.0.1:{_closed_port()}/certs.php")
    elif breakage == "key not in jwks":
        _update_platform(server, last_launch_kid="a-key-the-lms-rotated-away")
    elif breakage == "scope not granted":
        _switch(server, switches.WITHHOLD_SCOPE, AGS_SCOPES[3])
    elif breakage == "clock ahead":
        _switch(server, switches.CLOCK_SKEW, "300")
    elif breakage == "clock behind":
        _switch(server, switches.CLOCK_SKEW, "-400")
    elif breakage == "private jwks address":  # a rogue LMS naming the tool's own network
        _update_platform(server, key_set_url="http://10.1.2.3/jwks")
    result = _cli(server, "platform", "check", MOODLE.issuer(server.settings))
    assert result.exit_code == 1, result.output
    lines = _lines(result.output)
    assert {name for name, status in lines.items() if status == "FAILED"} == failing
    failed = [line for line in result.output.splitlines() if line.startswith("FAILED")]
    assert any(said in line for line in failed), result.output
    assert all(" - fix: " in line for line in failed)
    assert result.output.strip().splitlines()[-1].startswith("error: ")
    # Switched off again, the platform is healthy again (the switches are the only cause).
    if breakage in ("wrong client id", "jwks 500", "scope not granted", "clock ahead"):
        for name in switches.NAMES:
            _switch(server, name, None)
        assert _cli(server, "platform", "check", MOODLE.issuer(server.settings)
                    ).exit_code == 0


def test_wrong_client_id_says_what_to_check(launched):
    _switch(launched, switches.CLIENT_ID, "someone-else")
    result = _cli(launched, "platform", "check", MOODLE.issuer(launched.settings), "--json")
    assert result.exit_code == 1
    import json

    report = json.loads(result.output[:result.output.rindex("}") + 1])
    token = next(c for c in report["checks"] if c["name"] == "token for grades (AGS)")
    assert token["status"] == "failed" and "invalid_client" in token["detail"]
    assert "client ID" in token["fix"]
    # Without a token the read-only calls are skipped, not failed: one cause, one line.
    services = [c for c in report["checks"] if c["name"].endswith("(AGS line items)")]
    assert services[0]["status"] == "skipped"


def test_unknown_or_ambiguous_issuer_exits_2_with_one_line(live_server):
    result = _cli(live_server, "platform", "check", "https://nowhere.example.test")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "no platform" in result.output
    engine, sessions = db_sessions(live_server)
    with transaction(sessions) as db:  # a second school on Canvas Cloud's shared issuer
        canvas = db.scalars(select(Platform).where(Platform.client_id == CANVAS.client_id)).one()
        db.add(Platform(issuer=canvas.issuer, client_id="10000000000099", name="Other school",
                        auth_login_url=canvas.auth_login_url,
                        auth_token_url=canvas.auth_token_url, key_set_url=canvas.key_set_url))
    engine.dispose()
    result = _cli(live_server, "platform", "check", CANVAS.issuer(live_server.settings))
    assert result.exit_code == 2 and "--client-id" in result.output
    assert result.output.strip().count("\n") == 0
    result = _cli(live_server, "platform", "check", CANVAS.issuer(live_server.settings),
                  "--client-id", CANVAS.client_id)
    assert result.exit_code == 0, result.output
    assert _cli(live_server, "platform", "check", "bad\x01issuer").exit_code == 2


# -- the admin console --------------------------------------------------------------------

def _admin(server) -> tuple[requests.Session, str]:
    engine, sessions = db_sessions(server)
    with transaction(sessions) as db:
        AdminService(db, system_clock).create("it-admin", PASSWORD)
    engine.dispose()
    browser = requests.Session()
    answer = browser.post(f"{server.url}/admin/login", allow_redirects=False,
                          data={"username": "it-admin", "password": PASSWORD})
    assert answer.status_code == 302
    page = browser.get(f"{server.url}/admin/").text
    return browser, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _stored(server) -> PlatformCheck | None:
    engine, sessions = db_sessions(server)
    with transaction(sessions) as db:
        row = db.scalars(select(PlatformCheck)).first()
        if row is not None:
            db.expunge(row)
    engine.dispose()
    return row


def test_the_admin_button_runs_the_doctor_and_the_console_shows_its_last_result(launched):
    server = launched
    platform_id = _moodle_id(server)
    url = f"{server.url}/admin/platforms/{platform_id}/check"
    # Signed out: the sign-in page, and nothing runs.
    answer = requests.post(url, allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/admin/login")
    browser, token = _admin(server)
    page = browser.get(f"{server.url}/admin/").text
    assert "Not checked yet" in page and "Check this platform" in page
    for forged in (None, "forged"):
        data = {} if forged is None else {"csrf_token": forged}
        assert browser.post(url, data=data, allow_redirects=False).status_code == 403
    assert _stored(server) is None
    answer = browser.post(url, data={"csrf_token": token}, allow_redirects=False)
    assert answer.status_code == 302 and "every+check+passed" in answer.headers["Location"]
    page = browser.get(server.url + answer.headers["Location"]).text
    assert "Launch doctor result for" in page and "some checks failed" not in page
    assert page.count(">passed</td>") == len(CHECKS)
    stored = _stored(server)
    assert stored is not None and stored.ok and stored.ran_by == "admin it-admin"
    # Broken, checked again: the console shows the new last result and what to fix.
    _switch(server, switches.WITHHOLD_SCOPE, AGS_SCOPES[3])
    answer = browser.post(url, data={"csrf_token": token}, allow_redirects=False)
    assert "1+check+failed" in answer.headers["Location"]
    page = browser.get(f"{server.url}/admin/").text
    assert "some checks failed" in page and ">FAILED</td>" in page
    assert "not granted: score" in page and "Assignment and Grade Services" in page
    assert requests.post(f"{server.url}/admin/platforms/999999/check",
                         cookies=browser.cookies, data={"csrf_token": token},
                         allow_redirects=False).status_code == 404


class _Hostile(BaseHTTPRequestHandler):
    """An LMS key set URL that answers 500 with markup and a long body."""

    def do_GET(self):  # noqa: N802 - http.server's name
        body = ("<script>alert('lms')</script>" + "x" * 5000).encode()
        self.send_response(500)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_what_the_lms_answered_is_trimmed_and_escaped(launched):
    server = launched
    hostile = HTTPServer(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=hostile.serve_forever, daemon=True)
    thread.start()
    try:
        _update_platform(server, key_set_url=f"http://127.0.0.1:{hostile.server_port}/jwks")
        browser, token = _admin(server)
        url = f"{server.url}/admin/platforms/{_moodle_id(server)}/check"
        assert browser.post(url, data={"csrf_token": token},
                            allow_redirects=False).status_code == 302
        page = browser.get(f"{server.url}/admin/").text
    finally:
        hostile.shutdown()
        hostile.server_close()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(" in page
    assert "x" * 200 not in page  # trimmed: an LMS error page is not pasted whole
    stored = _stored(server)
    assert stored is not None and not stored.ok
    assert all(len(r["detail"]) <= 600 for r in stored.results)


def test_past_its_time_budget_the_doctor_stops_and_says_so(launched):
    """The console's run has a budget (a page must answer before the worker timeout):
    checks not started within it fail with why, rather than holding the page."""
    from lti_tool.ops.doctor import run_checks
    from lti_tool.web.framing import platform_origins

    engine, sessions = db_sessions(launched)
    report = run_checks(sessions, launched.settings, system_clock, _moodle_id(launched),
                        platform_origins, budget_seconds=0)
    engine.dispose()
    assert not report.ok and [r.name for r in report.failed] == list(CHECKS)
    assert all("not run" in r.detail for r in report.results)


def test_a_waiting_dynamic_registration_with_other_urls_is_named(launched):
    from lti_tool.models import PlatformRegistration

    server = launched
    engine, sessions = db_sessions(server)
    with transaction(sessions) as db:
        row = db.get(Platform, _moodle_id(server))
        db.add(PlatformRegistration(
            issuer=row.issuer, client_id=row.client_id, name="moved",
            auth_login_url=row.auth_login_url + "?moved=1",
            auth_token_url=row.auth_token_url, key_set_url=row.key_set_url,
            openid_configuration=row.issuer + "/.well-known/openid-configuration"))
    engine.dispose()
    result = _cli(server, "platform", "check", MOODLE.issuer(server.settings))
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "login and launch URLs" in x)
    assert "waiting for approval proposes login " in line and "?moved=1" in line
    assert "proposes token" not in line


def test_a_tool_key_the_sealing_key_cannot_open_fails_the_token_lines_with_what_to_do(
        launched):
    from cryptography.fernet import Fernet

    env = tool_env(launched.settings.database_url, launched.url,
                   sealing_key=Fernet.generate_key().decode()) | {"CPT_LTI_CONFIG": ""}
    result = CliRunner().invoke(cli, ["platform", "check", MOODLE.issuer(launched.settings)],
                                env=env, catch_exceptions=False)
    assert result.exit_code == 1, result.output
    lines = _lines(result.output)
    assert lines["token for grades (AGS)"] == "FAILED"
    assert lines["tool key set (JWKS)"] == "OK"  # publishing needs no private key
    assert "CPT_LTI_SEALING_KEY" in result.output and "Traceback" not in result.output


def test_the_platform_page_shows_the_doctor_and_its_button_comes_back_to_it(launched):
    """The per-platform admin page shows the platform's last result (not "Not checked
    yet" once it ran) and its button returns to that page, not the console."""
    server = launched
    platform_id = _moodle_id(server)
    browser, token = _admin(server)
    page_url = f"{server.url}/admin/platforms/{platform_id}"
    page = browser.get(page_url).text
    assert "Not checked yet" in page and 'name="back" value="platform"' in page
    answer = browser.post(f"{page_url}/check", allow_redirects=False,
                          data={"csrf_token": token, "back": "platform"})
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.split("?")[0].endswith(f"/admin/platforms/{platform_id}")
    page = browser.get(server.url + location if location.startswith("/") else location).text
    assert "Launch doctor result for" in page and "Not checked yet" not in page
    assert page.count(">passed</td>") == len(CHECKS)
