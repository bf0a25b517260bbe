"""The `cpt-lti` command against a real SQLite file: exit codes, one-line errors, JSON shapes.

Operators script this command, so the exit codes and the ``--json`` output are the contract.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from lti_tool.cli import cli
from lti_tool.cli import common as cli_common
from lti_tool.cli import serve as cli_module

CANVAS = "https://canvas.instructure.com"
SEALING_KEY = "xUrUnumtwmZWWpwlVmOoSdll_9WDtoQ41fB-RfzeHaU="  # Fernet.generate_key()
NEW_SEALING_KEY = "ADAjInbqolDwtaC2XBgi8KhENVTW4NmeqI9TBgYyxZs="
URLS = [
    "--auth-login-url", "https://sso.canvaslms.com/api/lti/authorize_redirect",
    "--auth-token-url", "https://sso.canvaslms.com/login/oauth2/token",
    "--key-set-url", "https://sso.canvaslms.com/api/lti/security/jwks",
]


def _runner() -> CliRunner:
    """Separate stderr from stdout on every supported click version."""
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click < 8.2
    except TypeError:
        return CliRunner()


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Invoke the CLI on a fresh SQLite file with only the settings the test chooses."""
    for name in list(os.environ):
        if name.startswith("CPT_LTI_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CPT_LTI_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CPT_LTI_SANDBOX", "false")
    monkeypatch.setenv("CPT_LTI_ENVIRONMENT", "test")
    monkeypatch.setenv("CPT_LTI_SEALING_KEY", SEALING_KEY)
    # `serve --workers N` hands gunicorn the URLs that followed --port through the
    # environment: recorded here as unset, so a test's value is removed afterwards.
    for name in ("CPT_LTI_BASE_URL", "CPT_LTI_SANDBOX_BASE_URL", "CPT_LTI_PORT"):
        monkeypatch.delenv(name, raising=False)
    runner = _runner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def initialised(run):
    result = run("init")
    assert result.exit_code == 0, result.stderr
    return run


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _one_error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0]


def _add(run, client_id: str, *deployments: str, extra: tuple[str, ...] = ()) -> Result:
    args = ["platform", "add", "--issuer", CANVAS, "--client-id", client_id, *URLS]
    for deployment in deployments:
        args += ["--deployment-id", deployment]
    return run(*args, *extra)


def test_init_creates_one_key_and_is_idempotent(run) -> None:
    first = run("init")
    assert first.exit_code == 0, first.stderr
    keys = _json(run("keys", "list", "--json"))
    assert len(keys) == 1 and keys[0]["status"] == "signing"
    assert keys[0]["kid"] in first.stdout

    second = run("init")
    assert second.exit_code == 0, second.stderr
    assert _json(run("keys", "list", "--json")) == keys


def test_commands_refuse_a_database_that_was_not_initialised(run) -> None:
    result = run("platform", "list")
    assert result.exit_code == 1
    assert "cpt-lti init" in _one_error_line(result)


def test_platform_add_and_list_round_trip_with_two_client_ids(initialised) -> None:
    run = initialised
    result = _add(run, "1000", "d-riverside", extra=("--name", "Riverside"))
    assert result.exit_code == 0, result.stderr
    result = _add(run, "2000", "d-lakeside", extra=("--deployment-policy", "auto-register"))
    assert result.exit_code == 0, result.stderr

    rows = _json(run("platform", "list", "--json"))
    assert [(r["issuer"], r["client_id"]) for r in rows] == [(CANVAS, "1000"), (CANVAS, "2000")]
    first, second = rows
    assert first == {
        "id": first["id"],
        "name": "Riverside",
        "issuer": CANVAS,
        "client_id": "1000",
        "auth_login_url": URLS[1],
        "auth_token_url": URLS[3],
        "key_set_url": URLS[5],
        "auth_audience": None,
        "frame_origins": [],
        "deployment_policy": "strict",
        "lms_family": "canvas",
        "staff_roles": [],
        "enabled": True,
        "deployments": ["d-riverside"],
        "last_launch_at": None,
    }
    assert second["deployment_policy"] == "auto-register"
    assert second["deployments"] == ["d-lakeside"]
    assert first["id"] != second["id"]

    text = run("platform", "list")
    assert text.exit_code == 0
    assert text.stdout.count(CANVAS) == 2


def test_a_self_hosted_canvas_is_canvas_when_the_admin_says_so(initialised) -> None:
    """Issue 19: a Canvas on a college domain gets Canvas's behaviour by --lms canvas, and
    the family is a visible property of the platform."""
    run = initialised
    hosted = ["platform", "add", "--issuer", "https://canvas.college.edu", "--client-id", "7",
              "--auth-login-url", "https://canvas.college.edu/api/lti/authorize_redirect",
              "--auth-token-url", "https://canvas.college.edu/login/oauth2/token",
              "--key-set-url", "https://canvas.college.edu/api/lti/security/jwks"]
    assert run(*hosted).exit_code == 0
    assert _json(run("platform", "list", "--json"))[0]["lms_family"] == "other"
    assert run(*hosted, "--lms", "canvas").exit_code == 0
    assert _json(run("platform", "list", "--json"))[0]["lms_family"] == "canvas"
    assert "lms=canvas" in run("platform", "list").stdout


def test_platform_staff_roles_are_checked_and_replaced_as_a_list(initialised) -> None:
    run = initialised
    assert _add(run, "1000", "d-1").exit_code == 0
    assert _json(run("platform", "list", "--json"))[0]["staff_roles"] == []
    result = _add(run, "1000", extra=(
        "--staff-role", "Instructor#TeachingAssistant", "--staff-role",
        "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#Grader"))
    assert result.exit_code == 0, result.stderr
    assert _json(run("platform", "list", "--json"))[0]["staff_roles"] == [
        "Instructor#TeachingAssistant", "Instructor#Grader"]
    assert "staff_roles=Instructor#TeachingAssistant Instructor#Grader" in run(
        "platform", "list").stdout
    refused = _add(run, "1000", extra=("--staff-role", "Learner#Anything"))
    assert refused.exit_code == 2
    assert "sub-role like Instructor#TeachingAssistant" in _one_error_line(refused)
    assert _add(run, "1000").exit_code == 0  # not given: left as it is
    assert len(_json(run("platform", "list", "--json"))[0]["staff_roles"]) == 2
    assert _add(run, "1000", extra=("--staff-role", "")).exit_code == 0  # cleared
    assert _json(run("platform", "list", "--json"))[0]["staff_roles"] == []


def test_platform_frame_origins_are_validated_and_replaced_as_a_list(initialised) -> None:
    run = initialised
    result = _add(run, "1000", "d-1", extra=("--frame-origin", "https://Canvas.College.edu/",
                                             "--frame-origin", "https://*.college.edu"))
    assert result.exit_code == 0, result.stderr
    rows = _json(run("platform", "list", "--json"))
    assert rows[0]["frame_origins"] == ["https://canvas.college.edu", "https://*.college.edu"]

    result = _add(run, "1000", "d-1", extra=("--frame-origin", "https://x.edu; script-src *"))
    assert result.exit_code == 2
    assert "frame origin must look like" in result.stderr
    assert _json(run("platform", "list", "--json"))[0]["frame_origins"] == [
        "https://canvas.college.edu", "https://*.college.edu"]

    assert _add(run, "1000", "d-1").exit_code == 0  # not given: left as it is
    assert _json(run("platform", "list", "--json"))[0]["frame_origins"] == [
        "https://canvas.college.edu", "https://*.college.edu"]
    assert _add(run, "1000", "d-1", extra=("--frame-origin", "https://lms.edu")).exit_code == 0
    assert _json(run("platform", "list", "--json"))[0]["frame_origins"] == ["https://lms.edu"]




def test_new_platforms_take_the_configured_default_policy(initialised) -> None:
    result = initialised("platform", "add", "--issuer", CANVAS, "--client-id", "1000", *URLS,
                         env={"CPT_LTI_DEPLOYMENT_POLICY": "auto-register"})
    assert result.exit_code == 0, result.stderr
    [row] = _json(initialised("platform", "list", "--json"))
    assert row["deployment_policy"] == "auto-register"


def test_adding_an_existing_platform_adds_its_new_deployments(initialised) -> None:
    run = initialised
    assert _add(run, "1000", "d1").exit_code == 0
    [before] = _json(run("platform", "list", "--json"))

    result = _add(run, "1000", "d1", "d2", "d2")
    assert result.exit_code == 0, result.stderr
    assert "d2" in result.stdout

    [after] = _json(run("platform", "list", "--json"))
    assert after["id"] == before["id"]
    assert after["deployments"] == ["d1", "d2"]


def test_remove_deletes_the_platform_and_a_second_remove_fails(initialised) -> None:
    run = initialised
    assert _add(run, "1000", "d1").exit_code == 0
    assert _add(run, "2000", "d2").exit_code == 0

    result = run("platform", "remove", "--issuer", CANVAS, "--client-id", "1000")
    assert result.exit_code == 0, result.stderr
    assert [r["client_id"] for r in _json(run("platform", "list", "--json"))] == ["2000"]

    again = run("platform", "remove", "--issuer", CANVAS, "--client-id", "1000")
    assert again.exit_code == 1
    assert "no platform" in _one_error_line(again)


@pytest.mark.parametrize("option", ["--auth-login-url", "--auth-token-url", "--key-set-url"])
@pytest.mark.parametrize("bad", ["ftp://lms.example.edu/jwks", "lms.example.edu/jwks", "https://"])
def test_a_non_http_url_exits_2_with_one_line(initialised, option: str, bad: str) -> None:
    urls = list(URLS)
    urls[urls.index(option) + 1] = bad
    result = initialised("platform", "add", "--issuer", CANVAS, "--client-id", "1000", *urls)
    assert result.exit_code == 2
    assert bad in _one_error_line(result)
    assert _json(initialised("platform", "list", "--json")) == []


def test_unknown_option_and_unknown_policy_exit_2(initialised) -> None:
    assert initialised("platform", "list", "--colour").exit_code == 2
    assert initialised("keys", "rotate", "--overlap-hours", "-1").exit_code == 2
    assert initialised("keys", "rotate", "--soon").exit_code == 2
    result = _add(initialised, "1000", extra=("--deployment-policy", "lenient"))
    assert result.exit_code == 2


def test_invalid_settings_exit_2_with_one_line(run) -> None:
    result = run("keys", "list", env={"CPT_LTI_ENVIRONMENT": "staging"})
    assert result.exit_code == 2
    assert "environment" in _one_error_line(result)


def test_rotate_keeps_old_key_published_and_retire_rules(initialised) -> None:
    run = initialised
    [original] = _json(run("keys", "list", "--json"))

    # Staged (the default): published now, signs after the overlap window.
    staged = run("keys", "rotate", "--overlap-hours", "2")
    assert staged.exit_code == 0, staged.stderr
    next_kid = staged.stdout.strip()
    keys = {k["kid"]: k["status"] for k in _json(run("keys", "list", "--json"))}
    assert keys == {original["kid"]: "signing", next_kid: "next"}
    refused = run("keys", "retire", original["kid"])  # still the signer
    assert refused.exit_code == 1
    assert "the next key signs from" in _one_error_line(refused)

    rotated = run("keys", "rotate", "--now")  # after an exposure: signs at once
    assert rotated.exit_code == 0, rotated.stderr
    new_kid = rotated.stdout.strip()
    assert new_kid and new_kid not in (original["kid"], next_kid)
    keys = {k["kid"]: k["status"] for k in _json(run("keys", "list", "--json"))}
    assert keys[new_kid] == "signing" and keys[original["kid"]] == "published"

    refused = run("keys", "retire", new_kid)
    assert refused.exit_code == 1
    assert "signing key" in _one_error_line(refused)

    unknown = run("keys", "retire", "no-such-kid")
    assert unknown.exit_code == 1
    _one_error_line(unknown)

    retired = run("keys", "retire", original["kid"])
    assert retired.exit_code == 0, retired.stderr
    assert original["kid"] not in [k["kid"] for k in _json(run("keys", "list", "--json"))]


def test_serve_with_one_worker_runs_the_threaded_dev_server(initialised, monkeypatch) -> None:
    calls: list[tuple[Any, ...]] = []

    def fake_run_simple(host: str, port: int, app: Any, **kwargs: Any) -> None:
        calls.append((host, port, app.name, kwargs))

    monkeypatch.setattr("werkzeug.serving.run_simple", fake_run_simple)
    result = initialised("serve", "--port", "5099")
    assert result.exit_code == 0, result.stderr
    [(host, port, _name, kwargs)] = calls
    assert (host, port) == ("127.0.0.1", 5099)
    assert kwargs["threaded"] is True


def _serve_settings(run, monkeypatch, *args: str, env: dict[str, str] | None = None):
    """The settings the app of `cpt-lti serve ARGS` was built with (no server started)."""
    seen: list[Any] = []

    def fake_run_simple(host: str, port: int, app: Any, **kwargs: Any) -> None:
        seen.append((port, app.extensions["cpt_lti"].settings))

    monkeypatch.setattr("werkzeug.serving.run_simple", fake_run_simple)
    result = run("serve", *args, env=env)
    assert result.exit_code == 0, result.stderr
    [(port, settings)] = seen
    return port, settings


def test_the_default_base_url_follows_the_port_and_an_operators_does_not(
        initialised, monkeypatch) -> None:
    """`make run PORT=5001`: the URLs the tool gives the LMS name the port it listens on."""
    port, settings = _serve_settings(initialised, monkeypatch, "--port", "5099")
    assert (port, settings.base_url) == (5099, "http://127.0.0.1:5099")
    port, settings = _serve_settings(initialised, monkeypatch, env={"CPT_LTI_PORT": "5098"})
    assert (port, settings.base_url) == (5098, "http://127.0.0.1:5098")
    port, settings = _serve_settings(initialised, monkeypatch, env={"CPT_LTI_PORT": "5000"})
    assert (port, settings.base_url) == (5000, "http://127.0.0.1:5000")
    # A base URL the operator chose (a proxy, a public name) is what the LMS reaches.
    port, settings = _serve_settings(
        initialised, monkeypatch, "--port", "8000",
        env={"CPT_LTI_BASE_URL": "https://cpt.example.edu",
             "CPT_LTI_SANDBOX_BASE_URL": "http://localhost:5000"})
    assert (port, settings.base_url) == (8000, "https://cpt.example.edu")
    assert settings.sandbox_base_url == "http://localhost:8000"  # loopback: it follows
    assert initialised("serve", "--port", "0").exit_code == 2
    assert initialised("serve", env={"CPT_LTI_PORT": "port"}).exit_code == 2


def _sandbox_rows(run) -> list[dict[str, Any]]:
    return _json(run("platform", "list", "--json", env={"CPT_LTI_SANDBOX": "true"}))


def test_init_on_another_port_moves_the_sandbox_platforms_instead_of_adding_rows(
        run, monkeypatch) -> None:
    """Issue 17: init on port A, then on port B -> the same platform rows, URLs on B."""
    first = run("init", env={"CPT_LTI_SANDBOX": "true", "CPT_LTI_PORT": "5001"})
    assert first.exit_code == 0, first.stderr
    assert "tool at http://127.0.0.1:5001" in first.stdout
    before = _sandbox_rows(run)
    assert len(before) == 2
    moodle = next(r for r in before if "/sandbox/moodle" in r["issuer"])
    assert moodle["issuer"] == "http://127.0.0.1:5001/sandbox/moodle"
    for row in before:
        assert ":5001/sandbox/" in row["auth_login_url"] + row["key_set_url"]

    again = run("init", "--port", "5002", env={"CPT_LTI_SANDBOX": "true"})
    assert again.exit_code == 0, again.stderr
    after = _sandbox_rows(run)
    assert [r["id"] for r in after] == [r["id"] for r in before]  # moved, not added
    for row in after:
        urls = (row["issuer"], row["auth_login_url"], row["auth_token_url"],
                row["key_set_url"])
        assert not any(":5001" in u for u in urls), row
        assert all(":5002/sandbox/" in u for u in urls[1:]), row
        assert row["deployments"] and len(row["deployments"]) == 1
    assert next(r for r in after if r["id"] == moodle["id"])["issuer"] == (
        "http://127.0.0.1:5002/sandbox/moodle")

    # `serve` on yet another port, without a new init, moves them too.
    port, settings = _serve_settings(run, monkeypatch, "--port", "5003",
                                     env={"CPT_LTI_SANDBOX": "true"})
    assert settings.base_url == "http://127.0.0.1:5003"
    served = _sandbox_rows(run)
    assert len(served) == 2
    assert all(":5003/sandbox/" in r["key_set_url"] for r in served)


def test_serve_with_workers_needs_gunicorn(initialised, monkeypatch) -> None:
    monkeypatch.setattr(cli_module, "_gunicorn_available", lambda: False)
    result = initialised("serve", "--workers", "3")
    assert result.exit_code == 2
    assert "gunicorn" in _one_error_line(result)


def test_serve_with_workers_execs_gunicorn(initialised, monkeypatch) -> None:
    seen: list[list[str]] = []

    def fake_execv(path: str, argv: list[str]) -> None:
        seen.append(argv)
        raise SystemExit(0)

    monkeypatch.setattr(cli_module, "_gunicorn_available", lambda: True)
    monkeypatch.setattr(cli_module.os, "execv", fake_execv)
    result = initialised("serve", "--host", "::1", "--port", "8000", "--workers", "3")
    assert result.exit_code == 0
    [argv] = seen
    assert argv[1:3] == ["-m", "gunicorn"]
    assert argv[argv.index("--bind") + 1] == "[::1]:8000"
    assert argv[argv.index("--workers") + 1] == "3"
    assert argv[-1] == "lti_tool:create_app()"
    # Its workers read their settings from the environment: the base URL followed --port.
    assert os.environ["CPT_LTI_BASE_URL"] == "http://127.0.0.1:8000"


def test_serve_refuses_an_uninitialised_database(run) -> None:
    result = run("serve")
    assert result.exit_code == 1
    _one_error_line(result)


def test_commands_refuse_a_schema_from_a_newer_tool(initialised, tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_from_the_future'"))
    engine.dispose()
    result = initialised("keys", "list")
    assert result.exit_code == 1
    assert "newer" in _one_error_line(result)


def test_outbox_status_retry_and_worker_once(initialised, tmp_path) -> None:
    from datetime import UTC, datetime

    from lti_tool.db import make_engine, make_session_factory, transaction
    from lti_tool.models import Outbox, OutboxKind, OutboxStatus

    status = _json(initialised("outbox", "status", "--json"))
    assert status["counts"] == {} and status["failed"] == []
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    now = datetime.now(UTC)
    with transaction(make_session_factory(engine)) as db:
        db.add(Outbox(kind=OutboxKind.AGS, dedupe_key="score:x", payload={
            "attempt_id": "gone", "resource_link_id": 999, "timestamp": now.isoformat()},
            status=OutboxStatus.FAILED, attempts=3, last_error="AGS refused: 404",
            next_attempt_at=now, created_at=now))
    engine.dispose()
    status = _json(initialised("outbox", "status", "--json"))
    assert status["counts"] == {"ags": {"failed": 1}}
    assert status["failed"][0]["last_error"] == "AGS refused: 404"
    text = initialised("outbox", "status")
    assert "failed #1" in text.stdout
    assert "1 deliveries queued again" in initialised("outbox", "retry").stdout
    # The row's attempt no longer exists: the worker tries once and parks it again.
    result = initialised("worker", "--once")
    assert result.exit_code == 1
    assert "failed 1" in result.stdout
    assert _json(initialised("outbox", "status", "--json"))["counts"] == {
        "ags": {"failed": 1}}


def test_lrs_add_list_remove_and_the_password_never_shows(initialised, tmp_path) -> None:
    run = initialised
    assert _add(run, "1000", "d-1").exit_code == 0
    secret = "lrs-secret-do-not-print"
    result = run("lrs", "add", "--platform", CANVAS, "--endpoint", "https://lrs.college.edu/xapi",
                 "--username", "key", "--password-env", "DISTRICT_LRS", "--name", "district",
                 env={"DISTRICT_LRS": secret})
    assert result.exit_code == 0, result.stderr
    assert "added LRS 1 (lrs:1)" in result.stdout and secret not in result.output
    # The password comes from the environment too, keeping it out of shell history.
    again = run("lrs", "add", "--platform", CANVAS, "--endpoint", "https://lrs2.college.edu/",
                "--username", "key2", "--name", "state", "--actor-identity", "mbox_sha1sum",
                env={"CPT_LTI_LRS_PASSWORD": secret})
    assert again.exit_code == 0, again.stderr
    listing = _json(run("lrs", "list", "--json"))
    assert listing["default"] is None
    assert [(r["name"], r["endpoint"], r["actor_identity"]) for r in listing["platforms"]] == [
        ("district", "https://lrs.college.edu/xapi/", "account"),
        ("state", "https://lrs2.college.edu/", "mbox_sha1sum")]
    assert secret not in run("lrs", "list", "--json").stdout
    assert secret not in run("lrs", "list").stdout
    # Sealed at rest: the database file does not hold the password.
    assert secret.encode() not in (tmp_path / "cli.db").read_bytes()
    assert "disabled LRS 1" in run("lrs", "remove", "1").stdout
    assert [r["enabled"] for r in _json(run("lrs", "list", "--json"))["platforms"]] == [
        False, True]


@pytest.mark.parametrize("args, message", [
    (("--endpoint", "ftp://lrs.test/"), "http:// or https://"),
    (("--endpoint", "https://user:pw@lrs.test/"), "not in the URL"),
])
def test_lrs_add_refuses_bad_input_with_exit_2(initialised, args, message) -> None:
    assert _add(initialised, "1000", "d-1").exit_code == 0
    result = initialised("lrs", "add", "--platform", CANVAS, "--username", "k",
                         "--password-env", "LRS_PW", *args, env={"LRS_PW": "p"})
    assert result.exit_code == 2
    assert message in _one_error_line(result)


def test_lrs_add_for_an_unknown_or_ambiguous_platform_exits_2(initialised) -> None:
    args = ("lrs", "add", "--platform", CANVAS, "--endpoint", "https://lrs.test/",
            "--username", "k", "--password-env", "LRS_PW")
    env = {"LRS_PW": "p"}
    assert "no platform is registered" in _one_error_line(initialised(*args, env=env))
    assert _add(initialised, "1000", "d-1").exit_code == 0
    assert _add(initialised, "2000", "d-2").exit_code == 0
    result = initialised(*args, env=env)
    assert result.exit_code == 2 and "--client-id" in _one_error_line(result)
    assert initialised(*args, "--client-id", "2000", env=env).exit_code == 0


def test_serve_local_lrs_starts_ralph_and_points_the_worker_at_it(
        initialised, monkeypatch, tmp_path) -> None:
    """What `make run` does: a real Ralph on loopback, statements routed to it."""
    import requests

    from lti_tool.sandbox.ralph_lrs import free_port

    seen: dict[str, Any] = {}
    stops: list[Any] = []
    monkeypatch.chdir(tmp_path)
    wanted = free_port()
    monkeypatch.setenv("CPT_LTI_LOCAL_LRS_PORT", str(wanted))
    monkeypatch.setattr("atexit.register", stops.append)

    def fake_run_simple(host: str, port: int, app: Any, **kwargs: Any) -> None:
        settings = app.extensions["cpt_lti"].settings
        seen["endpoint"] = settings.xapi_endpoint
        seen["answer"] = requests.get(settings.xapi_endpoint + "statements",
                                      auth=(settings.xapi_username, settings.xapi_password),
                                      headers={"X-Experience-API-Version": "1.0.3"},
                                      timeout=5).status_code

    monkeypatch.setattr("werkzeug.serving.run_simple", fake_run_simple)
    try:
        result = initialised("serve", "--local-lrs")
    finally:
        for stop in stops:
            stop()
    assert result.exit_code == 0, result.stderr
    assert seen["endpoint"].startswith("http://127.0.0.1:") and seen["answer"] == 200
    assert "local Ralph LRS" in result.stdout and "password" not in result.stdout
    assert f"on port {wanted} at http://127.0.0.1:{wanted}/xAPI/" in result.stdout
    credentials = tmp_path / "var" / "ralph" / "credentials.json"
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"
    assert initialised("serve", "--local-lrs", "--workers", "2").exit_code == 2


def test_admin_create_and_platform_enable_disable(initialised) -> None:
    run = initialised
    created = run("admin", "create", "it-admin", env={"CPT_LTI_ADMIN_PASSWORD": "long enough pw"})
    assert created.exit_code == 0 and "created admin it-admin" in created.stdout
    assert "long enough pw" not in created.output
    short = run("admin", "create", "it-admin", "--password-env", "PW", env={"PW": "short"})
    assert short.exit_code == 2 and "at least 12" in _one_error_line(short)
    again = run("admin", "create", "it-admin", "--password-env", "PW",
                env={"PW": "another long password"})
    assert again.exit_code == 0 and "updated admin" in again.stdout

    assert _add(run, "1000", "d-1").exit_code == 0
    keys = ("--issuer", CANVAS, "--client-id", "1000")
    assert "disabled platform" in run("platform", "disable", *keys).stdout
    assert _json(run("platform", "list", "--json"))[0]["enabled"] is False
    assert "enabled platform" in run("platform", "enable", *keys).stdout
    assert "disabled deployment d-1" in run("platform", "disable", *keys,
                                            "--deployment-id", "d-1").stdout
    missing = run("platform", "enable", *keys, "--deployment-id", "nope")
    assert missing.exit_code == 1 and "no deployment" in _one_error_line(missing)


def test_user_erase_reports_and_refuses_unknown_learners(initialised, tmp_path) -> None:
    from lti_tool.db import make_engine, make_session_factory, transaction
    from lti_tool.models import Platform, User

    assert _add(initialised, "1000", "d-1").exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with transaction(make_session_factory(engine)) as db:
        platform = db.query(Platform).one()
        db.add(User(platform_id=platform.id, sub="learner-7", email="l7@college.edu"))
    engine.dispose()
    result = initialised("user", "erase", "--platform", CANVAS, "--sub", "learner-7")
    assert result.exit_code == 0, result.stderr
    assert "erased: 0 attempts kept anonymously" in result.stdout
    again = initialised("user", "erase", "--platform", CANVAS, "--sub", "learner-7")
    assert again.exit_code == 1 and "no learner" in _one_error_line(again)
    assert initialised("user", "erase", "--platform", CANVAS).exit_code == 2


def test_user_erase_writes_a_json_report_and_refuses_what_no_lrs_offers(initialised,
                                                                        tmp_path) -> None:
    from lti_tool.db import make_engine, make_session_factory, transaction
    from lti_tool.models import Platform, User

    assert _add(initialised, "1000", "d-1").exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with transaction(make_session_factory(engine)) as db:
        platform = db.query(Platform).one()
        db.add(User(platform_id=platform.id, sub="learner-8", email="l8@college.edu"))
    engine.dispose()
    # No LRS lets a tool delete by agent: a clear refusal, and nothing is erased.
    refused = initialised("user", "erase", "--platform", CANVAS, "--sub", "learner-8",
                          "--delete-in-lrs")
    assert refused.exit_code == 2 and "Ralph has no such API" in _one_error_line(refused)
    report = tmp_path / "erasure.json"
    done = initialised("user", "erase", "--platform", CANVAS, "--sub", "learner-8",
                       "--format", "json", "--report", str(report))
    assert done.exit_code == 0, done.stderr
    data = json.loads(report.read_text())
    assert data["platform"] == CANVAS and data["lrs"] == [] and data["complete"]
    assert "learner-8" not in report.read_text() and "l8@college.edu" not in report.read_text()
    again = initialised("user", "erasure", str(data["erasure"]), "--format", "json")
    assert again.exit_code == 0 and json.loads(again.stdout) == data
    missing = initialised("user", "erasure", "999")
    assert missing.exit_code == 2 and "no erasure 999" in _one_error_line(missing)


# --- issue 15.5: safe defaults, a sealing key, passwords never in argv -------------------------

def _bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh install: no CPT_LTI_* variable at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPT_LTI_")}
    return {**env, **extra}


def _cpt_lti() -> str:
    import shutil
    import sys

    script = Path(sys.executable).parent / "cpt-lti"
    return str(script) if script.exists() else shutil.which("cpt-lti") or "cpt-lti"


@pytest.mark.parametrize("command", [["serve", "--port", "5099"], ["init"]])
def test_a_fresh_install_refuses_to_start_in_production(tmp_path: Path, command) -> None:
    """ATTACK (issue 15.5): with nothing configured, `cpt-lti serve` ran with the public
    development secret, the sandbox LMS open at /sandbox/ and LRS passwords sealed with a
    key derived from that secret. A real process now stops at once: exit 2, one line that
    names what production needs, no traceback, no database made."""
    import subprocess

    done = subprocess.run([_cpt_lti(), *command], env=_bare_env(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, (done.stdout, done.stderr)
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and "production" in line
    assert "CPT_LTI_SECRET_KEY" in line and "CPT_LTI_SEALING_KEY" in line
    assert "CPT_LTI_ENVIRONMENT=development" in line  # how to get the demo instead
    assert not (tmp_path / "var").exists()


def test_production_refuses_the_dev_secret_and_the_sandbox(run) -> None:
    production = {"CPT_LTI_ENVIRONMENT": "production", "CPT_LTI_SANDBOX": "false"}
    result = run("serve", env={**production, "CPT_LTI_SECRET_KEY": "dev-only-not-secret"})
    assert result.exit_code == 2 and "CPT_LTI_SECRET_KEY" in _one_error_line(result)
    result = run("serve", env={**production, "CPT_LTI_SECRET_KEY": "k" * 40,
                               "CPT_LTI_SANDBOX": "true"})
    assert result.exit_code == 2 and "sandbox" in _one_error_line(result)


def test_development_is_said_on_start(run, monkeypatch, tmp_path: Path) -> None:
    """`make run` asks for development; serve says so in one line, sandbox included."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("werkzeug.serving.run_simple", lambda *a, **k: None)
    env = {"CPT_LTI_ENVIRONMENT": "development", "CPT_LTI_EMBEDDED_WORKER": "false"}
    monkeypatch.delenv("CPT_LTI_SANDBOX")  # the sandbox follows the environment
    assert run("init", env=env).exit_code == 0
    result = run("serve", env=env)
    assert result.exit_code == 0, result.stderr
    [line] = [x for x in result.stdout.splitlines() if "development mode" in x]
    assert "sandbox LMS" in line and "/sandbox/" in line and "not for production" in line


def test_make_run_asks_for_development_explicitly() -> None:
    import subprocess

    root = Path(cli_module.__file__).resolve().parents[2]
    done = subprocess.run(["make", "-n", "-W", "pyproject.toml", "run"], cwd=root,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    commands = [c for c in done.stdout.splitlines() if "cpt-lti " in c]
    assert any(" init" in c for c in commands) and any(" serve" in c for c in commands)
    assert all("CPT_LTI_ENVIRONMENT=development" in c for c in commands), commands


@pytest.mark.parametrize("command", [
    ("lrs", "add", "--platform", CANVAS, "--endpoint", "https://lrs.test/", "--username", "k"),
    ("admin", "create", "it-admin"),
])
@pytest.mark.parametrize("form", ["separate", "joined"])
def test_a_password_argument_is_refused(initialised, command, form) -> None:
    """ATTACK (issue 15.5): `--password SECRET` put the secret in the process list and the
    shell history. It is refused with exit 2 and one line that says what to do instead;
    nothing is stored."""
    secret = "visible-in-ps-aux-123"
    assert _add(initialised, "1000", "d-1").exit_code == 0
    args = ["--password", secret] if form == "separate" else [f"--password={secret}"]
    result = initialised(*command, *args)
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert "--password-file" in line and "--password-env" in line
    assert secret not in result.output
    assert _json(initialised("lrs", "list", "--json"))["platforms"] == []


def test_passwords_come_from_a_file_the_environment_or_a_prompt(
        initialised, tmp_path: Path, monkeypatch) -> None:
    assert _add(initialised, "1000", "d-1").exit_code == 0
    lrs = ("lrs", "add", "--platform", CANVAS, "--endpoint", "https://lrs.test/",
           "--username", "k")
    secret_file = tmp_path / "lrs.pw"
    secret_file.write_text("from-a-file\n")
    assert initialised(*lrs, "--name", "a", "--password-file", str(secret_file)).exit_code == 0
    assert initialised(*lrs, "--name", "b", "--password-env", "MY_PW",
                       env={"MY_PW": "from-env"}).exit_code == 0
    missing = initialised(*lrs, "--name", "c", "--password-env", "NOT_SET_ANYWHERE")
    assert missing.exit_code == 2 and "NOT_SET_ANYWHERE" in _one_error_line(missing)
    unreadable = initialised(*lrs, "--name", "c", "--password-file", str(tmp_path / "nope"))
    assert unreadable.exit_code == 2 and "password file" in _one_error_line(unreadable)
    no_tty = initialised(*lrs, "--name", "c")  # no terminal, no file, no variable
    assert no_tty.exit_code == 2 and "--password-file" in _one_error_line(no_tty)
    monkeypatch.setattr(cli_common, "_stdin_is_tty", lambda: True)
    typed = _runner().invoke(cli, [*lrs, "--name", "c"], input="typed-pw\n",
                             catch_exceptions=False)
    assert typed.exit_code == 0, typed.stderr
    admin = _runner().invoke(cli, ["admin", "create", "it-admin"],
                             input="a long typed password\na long typed password\n",
                             catch_exceptions=False)
    assert admin.exit_code == 0 and "created admin" in admin.stdout

    from lti_tool.db import make_engine, make_session_factory, transaction
    from lti_tool.delivery.destinations import destinations_for
    from lti_tool.models import Platform
    from lti_tool.settings import load_settings

    settings = load_settings()
    engine = make_engine(settings.database_url)
    with transaction(make_session_factory(engine)) as db:
        platform = db.query(Platform).one()
        passwords = {d.name: d.password for d in destinations_for(db, settings, platform.id)}
    engine.dispose()
    assert passwords == {"a": "from-a-file", "b": "from-env", "c": "typed-pw"}


def test_sealing_new_key_needs_no_configuration(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    result = _runner().invoke(cli, ["sealing", "new-key"], env=dict.fromkeys(
        [k for k in os.environ if k.startswith("CPT_LTI_")]), catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    key = result.stdout.strip()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"
    again = _runner().invoke(cli, ["sealing", "new-key"]).stdout.strip()
    assert again != key


def _sealed_rows(tmp_path: Path) -> dict[str, str]:
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.connect() as conn:
        rows = {f"key:{kid}": value for kid, value in conn.execute(
            text("SELECT kid, private_key_sealed FROM tool_key"))}
        rows.update({f"lrs:{i}": value for i, value in conn.execute(
            text("SELECT id, password_sealed FROM lrs_endpoint"))})
    engine.dispose()
    return rows


def _opens(key: str, value: str) -> bool:
    from cryptography.fernet import Fernet, InvalidToken

    try:
        Fernet(key.encode()).decrypt(value.encode())
        return True
    except InvalidToken:
        return False


def test_sealing_rotate_reseals_everything_and_the_old_key_can_be_dropped(
        initialised, tmp_path: Path) -> None:
    run = initialised
    assert _add(run, "1000", "d-1").exit_code == 0
    assert run("lrs", "add", "--platform", CANVAS, "--endpoint", "https://lrs.test/",
               "--username", "k", "--password-env", "PW", env={"PW": "lrs-pw"}).exit_code == 0
    before = _sealed_rows(tmp_path)
    assert len(before) == 2 and all(_opens(SEALING_KEY, v) for v in before.values())
    assert not any("PRIVATE KEY" in v or "lrs-pw" in v for v in before.values())

    # The new key alone, before rotating: nothing opens, and rotate refuses to touch it.
    alone = {"CPT_LTI_SEALING_KEY": NEW_SEALING_KEY}
    status = _json(run("sealing", "status", "--json", env=alone))
    assert status["unreadable"] == sorted(before) and status["current"] == 0
    refused = run("sealing", "rotate", env=alone)
    assert refused.exit_code == 1 and "cannot be opened" in _one_error_line(refused)
    assert _sealed_rows(tmp_path) == before

    both = {"CPT_LTI_SEALING_KEY": f"{NEW_SEALING_KEY},{SEALING_KEY}"}
    assert _json(run("sealing", "status", "--json", env=both))["older"] == 2
    rotated = run("sealing", "rotate", "--json", env=both)
    assert _json(rotated) == {"resealed": 2, "tool_keys": 1, "lrs_passwords": 1}
    after = _sealed_rows(tmp_path)
    assert all(_opens(NEW_SEALING_KEY, v) and not _opens(SEALING_KEY, v)
               for v in after.values())

    # The old key dropped: everything still works with the new one alone.
    status = _json(run("sealing", "status", "--json", env=alone))
    assert status == {"current": 2, "older": 0, "unreadable": [], "to_migrate": 0}
    assert run("keys", "rotate", "--now", env=alone).exit_code == 0
    assert "re-sealed 3 values" in run("sealing", "rotate", env=alone).stdout


def _legacy_seal(secret_key: str, plain: str) -> str:
    """What the tool did before issue 15: Fernet with a key derived from the cookie secret."""
    import base64

    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"cpt-lti sealed credentials v1").derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key)).encrypt(plain.encode()).decode()


def test_init_migrates_plain_private_keys_and_secret_sealed_passwords(
        initialised, tmp_path: Path) -> None:
    """Rows written before the sealing key existed: a plain PEM private key and an LRS
    password sealed with the secret-derived key. `cpt-lti init` (run on every deploy)
    seals both with the sealing key, so no admin must add the LRS again."""
    from cryptography.fernet import Fernet

    from lti_tool.lti.keys import generate_rsa_pem

    run = initialised
    secret = "an-old-secret-key-of-more-than-32-characters"
    assert _add(run, "1000", "d-1").exit_code == 0
    assert run("lrs", "add", "--platform", CANVAS, "--endpoint", "https://lrs.test/",
               "--username", "k", "--password-env", "PW", env={"PW": "x"}).exit_code == 0
    assert run("lrs", "add", "--platform", CANVAS, "--endpoint", "https://lrs2.test/",
               "--username", "k", "--name", "lost", "--password-env", "PW",
               env={"PW": "x"}).exit_code == 0
    pem = generate_rsa_pem()
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE tool_key SET private_key_sealed = :pem"), {"pem": pem})
        conn.execute(text("UPDATE lrs_endpoint SET password_sealed = :v WHERE name = 'lrs'"),
                     {"v": _legacy_seal(secret, "old-lrs-password")})
        conn.execute(text("UPDATE lrs_endpoint SET password_sealed = :v WHERE name = 'lost'"),
                     {"v": _legacy_seal("some other secret entirely", "gone")})
    engine.dispose()

    result = run("init", env={"CPT_LTI_SECRET_KEY": secret})
    assert result.exit_code == 0, result.stderr
    assert "sealed values: 2 migrated" in result.stdout
    assert "LRS 2" in result.stderr and "lrs add" in result.stderr  # cannot be opened
    rows = _sealed_rows(tmp_path)
    [sealed_pem] = [v for k, v in rows.items() if k.startswith("key:")]
    assert "PRIVATE KEY" not in sealed_pem
    fernet = Fernet(SEALING_KEY.encode())
    assert fernet.decrypt(sealed_pem.encode()).decode() == pem
    assert fernet.decrypt(rows["lrs:1"].encode()).decode() == "old-lrs-password"
    again = run("init", env={"CPT_LTI_SECRET_KEY": secret})
    assert again.exit_code == 0 and "migrated" not in again.stdout


def test_init_stops_when_the_signing_key_cannot_be_opened(initialised) -> None:
    """A sealing key replaced without its predecessor would leave the tool unable to sign:
    the deploy stops with one line saying how to recover."""
    result = initialised("init", env={"CPT_LTI_SEALING_KEY": NEW_SEALING_KEY})
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert "tool key" in line and "sealing rotate" in line


def test_serve_local_lrs_says_which_port_it_took_when_its_own_is_taken(
        initialised, monkeypatch, tmp_path) -> None:
    """A second `make run` (or anything on 8100): Ralph moves, and the line says where."""
    import socket

    monkeypatch.chdir(tmp_path)
    stops: list[Any] = []
    monkeypatch.setattr("atexit.register", stops.append)
    monkeypatch.setattr("werkzeug.serving.run_simple", lambda *a, **k: None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        wanted = taken.getsockname()[1]
        monkeypatch.setenv("CPT_LTI_LOCAL_LRS_PORT", str(wanted))
        try:
            result = initialised("serve", "--local-lrs")
        finally:
            for stop in stops:
                stop()
    assert result.exit_code == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if "local Ralph LRS" in x)
    assert f"port {wanted} was taken" in line
    took = int(line.split("on port ")[1].split()[0])
    assert took != wanted and f"http://127.0.0.1:{took}/xAPI/" in line
