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

from lti_tool import cli as cli_module
from lti_tool.cli import cli

CANVAS = "https://canvas.instructure.com"
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
                 "--username", "key", "--password", secret, "--name", "district")
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
                         "--password", "p", *args)
    assert result.exit_code == 2
    assert message in _one_error_line(result)


def test_lrs_add_for_an_unknown_or_ambiguous_platform_exits_2(initialised) -> None:
    args = ("lrs", "add", "--platform", CANVAS, "--endpoint", "https://lrs.test/",
            "--username", "k", "--password", "p")
    assert "no platform is registered" in _one_error_line(initialised(*args))
    assert _add(initialised, "1000", "d-1").exit_code == 0
    assert _add(initialised, "2000", "d-2").exit_code == 0
    result = initialised(*args)
    assert result.exit_code == 2 and "--client-id" in _one_error_line(result)
    assert initialised(*args, "--client-id", "2000").exit_code == 0


def test_serve_local_lrs_starts_ralph_and_points_the_worker_at_it(
        initialised, monkeypatch, tmp_path) -> None:
    """What `make run` does: a real Ralph on loopback, statements routed to it."""
    import requests

    from lti_tool.sandbox.ralph_lrs import free_port

    seen: dict[str, Any] = {}
    stops: list[Any] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CPT_LTI_LOCAL_LRS_PORT", str(free_port()))
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
    credentials = tmp_path / "var" / "ralph" / "credentials.json"
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"
    assert initialised("serve", "--local-lrs", "--workers", "2").exit_code == 2


def test_admin_create_and_platform_enable_disable(initialised) -> None:
    run = initialised
    created = run("admin", "create", "it-admin", env={"CPT_LTI_ADMIN_PASSWORD": "long enough pw"})
    assert created.exit_code == 0 and "created admin it-admin" in created.stdout
    assert "long enough pw" not in created.output
    short = run("admin", "create", "it-admin", "--password", "short")
    assert short.exit_code == 2 and "at least 12" in _one_error_line(short)
    again = run("admin", "create", "it-admin", "--password", "another long password")
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
