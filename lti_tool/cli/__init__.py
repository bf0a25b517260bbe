"""The ``cpt-lti`` command: thin wrappers over the services, with operator-friendly failures.

Every command exits 0 when it did its job, 1 when a check failed (a key that cannot be
retired, a platform that is not there, a database that is not initialised) and 2 on bad
usage (a malformed URL, an invalid setting). A failure is one ``error: ...`` line on stderr,
never a traceback: operators run this from scripts and read it in CI logs.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from lti_tool.curriculum.checks import DATA_DIR, Bank, load_bank
from lti_tool.curriculum.export import to_gift, to_qti_zip
from lti_tool.curriculum.loader import sync_curriculum
from lti_tool.curriculum.stats import bank_stats, stats_text
from lti_tool.curriculum.weights import activity_weights
from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.delivery.sealed import (
    SealedValues,
    SealingKeyError,
    UnsealError,
    new_key,
    sealer_for,
)
from lti_tool.lti.keys import KeyService, ToolKeyError
from lti_tool.lti.platforms import (
    PlatformError,
    PlatformNotFoundError,
    PlatformService,
    PlatformSpec,
    platform_as_dict,
)
from lti_tool.models import DeploymentPolicy, ToolKey
from lti_tool.ops.migrate import (
    current_revision,
    head_revision,
    is_known_revision,
    upgrade_to_head,
)
from lti_tool.practice.forms import simulate_forms
from lti_tool.practice.selection import ItemRef
from lti_tool.settings import DEV_SECRET, PROJECT_ROOT, Settings, SettingsError, load_settings
from lti_tool.web.runtime import system_clock

EXIT_FAILED = 1
EXIT_USAGE = 2


class CliError(click.ClickException):
    """A failure reported as exactly one ``error: ...`` line with a chosen exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        # Exception texts (database drivers especially) span lines; an operator's log wants one.
        super().__init__(" ".join(message.split()))
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


def _describe(exc: BaseException) -> str:
    """The useful part of an exception: the driver's message, not SQLAlchemy's SQL dump."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        text = str(exc.orig)
    else:
        text = str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first


class _Group(click.Group):
    """The top-level group: turns any escaping exception into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except (SettingsError, SealingKeyError) as exc:
            raise CliError(str(exc), EXIT_USAGE) from exc
        except SQLAlchemyError as exc:
            raise CliError(f"database: {_describe(exc)}") from exc
        except Exception as exc:  # the promise is "never a traceback"
            raise CliError(f"{type(exc).__name__}: {_describe(exc)}") from exc


def _settings() -> Settings:
    """Settings are loaded per command, so ``--help`` works even with a broken config."""
    try:
        return load_settings()
    except SettingsError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc


def _safe_url(database_url: str) -> str:
    return make_url(database_url).render_as_string(hide_password=True)


def _require_schema(settings: Settings) -> None:
    """Refuse to work on a database ``cpt-lti init`` has not brought to this code's schema."""
    url = make_url(settings.database_url)
    where = _safe_url(settings.database_url)
    if (url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
            and not Path(str(url.database)).exists()):
        raise CliError(f"database {where} does not exist: run `cpt-lti init`")
    try:
        current = current_revision(settings.database_url)
    except SQLAlchemyError as exc:
        raise CliError(f"cannot open database {where}: {_describe(exc)}") from exc
    head = head_revision()
    if current is None:
        raise CliError(f"database {where} is not initialised: run `cpt-lti init`")
    if not is_known_revision(current):
        raise CliError(f"database {where} is at schema revision {current}, written by a newer "
                       f"version of the tool (this one knows up to {head}): upgrade the tool")
    if current != head:
        raise CliError(f"database {where} is at schema revision {current}, this version "
                       f"needs {head}: run `cpt-lti init`")


@contextmanager
def _database(settings: Settings) -> Iterator[Session]:
    """One transaction on a migrated database; the engine does not outlive the command."""
    _require_schema(settings)
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_session_factory(engine, sealer_for(settings))) as session:
            yield session
    finally:
        engine.dispose()


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


@click.group(name="cpt-lti", cls=_Group,
             context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """CPT Practice LTI 1.3 tool: set up, serve and administer.

    Configuration comes from config/default.toml, the file named by CPT_LTI_CONFIG and
    CPT_LTI_* environment variables (e.g. CPT_LTI_DATABASE_URL).
    """


# --- init / serve -----------------------------------------------------------------------------

DEFAULT_PORT = 5000
PORT_ENV = "CPT_LTI_PORT"
# The shipped base URL (config/default.toml) names the default port on loopback. Only such a
# URL follows --port / CPT_LTI_PORT: an operator's own base URL is what the LMS reaches (a
# proxy, another host) and is never rewritten.
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def _port_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--port", default=DEFAULT_PORT, show_default=True, envvar=PORT_ENV,
                        show_envvar=True, type=click.IntRange(1, 65535), help=help_text)


def _follow_port(url: str, port: int) -> str:
    """``http://127.0.0.1:5000`` (or localhost, [::1]) with the port moved; any other URL
    as it is."""
    for host in _LOOPBACK_HOSTS:
        if url.rstrip("/") == f"http://{host}:{DEFAULT_PORT}":
            return f"http://{host}:{port}"
    return url


def _settings_for_port(settings: Settings, port: int) -> Settings:
    """Settings whose local base URLs (the tool's, the sandbox LMS's) name ``port``.

    `make run PORT=5001` then moves the tool, the URLs it gives the LMS and the sandbox
    platforms' URLs together; without this the sandbox LMS would launch to port 5000."""
    import dataclasses

    base = _follow_port(settings.base_url, port)
    sandbox = _follow_port(settings.sandbox_base_url, port) if settings.sandbox_base_url else ""
    if (base, sandbox) == (settings.base_url, settings.sandbox_base_url):
        return settings
    return dataclasses.replace(settings, base_url=base, sandbox_base_url=sandbox)


@cli.command(short_help="Migrate the database, create a signing key, set up the sandbox.")
@_port_option("Port the tool will listen on: with the default base URL "
              "(http://127.0.0.1:5000) the base URL and the sandbox platforms follow it.")
def init(port: int) -> None:
    """Migrate the database to the newest schema and make sure a signing key exists.

    Safe to run on every deploy: an up-to-date database and an existing key are left alone.
    Secrets stored before the sealing key existed (plain private keys, LRS passwords sealed
    with the secret-derived key) are sealed with CPT_LTI_SEALING_KEY.
    With sandbox = true it also registers the sandbox LMS platforms, or moves their URLs
    to the current base URL (run it again with another --port: no second copy is made).
    """
    settings = _settings_for_port(_settings(), port)
    sealer = sealer_for(settings)
    upgrade_to_head(settings.database_url)
    click.echo(f"database: {_safe_url(settings.database_url)} at schema {head_revision()}")
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_session_factory(engine, sealer)) as session:
            _migrate_sealed(SealedValues(session, sealer, settings.secret_key))
            key = KeyService(session).ensure_key()
            click.echo(f"signing key: {key.kid}")
            if settings.sandbox:
                # Imported here: the sandbox is optional and never loaded in production.
                from lti_tool.sandbox.setup import ensure_sandbox_platforms

                platforms = ensure_sandbox_platforms(session, settings)
                names = ", ".join(p.name or p.issuer for p in platforms)
                click.echo(f"sandbox platforms: {names} (tool at {settings.base_url})")
            bank = load_bank()
            if bank.problems:
                raise CliError(f"the curriculum has {len(bank.problems)} problems; "
                               f"run `cpt-lti content validate`")
            report = sync_curriculum(session, bank, system_clock)
            if report.unchanged:
                click.echo(f"curriculum: up to date ({len(bank.items)} items, "
                           f"{len(bank.lessons)} lessons)")
            else:
                click.echo(f"curriculum: {report.added} added, {report.updated} updated, "
                           f"{report.retired} retired ({len(bank.items)} items, "
                           f"{len(bank.lessons)} lessons)")
    finally:
        engine.dispose()


def _migrate_sealed(values: SealedValues) -> None:
    """The init step of the sealing key: seal what older versions stored, report the rest.

    A tool key nobody can open stops the deploy (the tool could not sign a launch); an LRS
    password nobody can open only warns, since its statements wait with the same advice.
    """
    report = values.migrate()
    if report.to_migrate:
        parts = ", ".join(f"{n} {how}" for how, n in sorted(report.migrated.items()))
        click.echo(f"sealed values: {report.to_migrate} migrated to the sealing key ({parts})")
    keys = [label for label in report.unreadable if label.startswith("key:")]
    if keys:
        raise CliError(f"tool key {', '.join(k[4:] for k in keys)} cannot be opened with "
                       "CPT_LTI_SEALING_KEY: if the sealing key was replaced, list the "
                       "previous one after the new one and run `cpt-lti sealing rotate`")
    for label in report.unreadable:
        click.echo(f"warning: LRS {label[4:]} password cannot be opened with the sealing key "
                   "or the secret key: add it again (cpt-lti lrs add)", err=True)


def _mode_line(settings: Settings) -> str:
    """The one line a non-production start prints, so nobody mistakes it for production."""
    sandbox = (f"sandbox LMS on at {settings.url('/sandbox/')}" if settings.sandbox
               else "sandbox LMS off")
    secret = ", development secret key" if settings.secret_key == DEV_SECRET else ""
    return (f"{settings.environment} mode: {sandbox}{secret} - not for production "
            "(CPT_LTI_ENVIRONMENT=production)")


def _gunicorn_bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on; use 0.0.0.0 only behind a reverse proxy.")
@_port_option("TCP port to listen on; with the default base URL (http://127.0.0.1:5000) "
              "the base URL follows it.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="1 runs the built-in threaded server; more runs gunicorn with N processes.")
@click.option("--local-lrs", is_flag=True,
              help="Development: also start a local Ralph LRS (data in var/ralph) and send "
                   "statements to it when no default LRS is configured. With --workers 1.")
def serve(host: str, port: int, workers: int, local_lrs: bool) -> None:
    """Serve the tool over HTTP (run `cpt-lti init` first)."""
    settings = _settings_for_port(_settings(), port)
    _require_schema(settings)
    if settings.sandbox:
        _refresh_sandbox(settings)
    if local_lrs and workers != 1:
        raise CliError("--local-lrs runs with --workers 1 (it is for development)", EXIT_USAGE)
    if settings.environment != "production":
        click.echo(_mode_line(settings))
    if workers == 1:
        from werkzeug.serving import run_simple

        from lti_tool import create_app

        # SIGTERM (a service manager, `kill`, a container stop) ends the server the way
        # Ctrl+C does, so what follows and the atexit hooks run: without this the process
        # died at once, losing the launch counts it held and leaving the local Ralph
        # running with no parent. Set before Ralph starts: a stop during start-up too.
        signal.signal(signal.SIGTERM, _interrupt)
        if local_lrs:
            settings = _start_local_lrs(settings)
        app = create_app(settings)
        if settings.embedded_worker:
            from lti_tool.delivery.outbox import start_background_worker

            rt = app.extensions["cpt_lti"]
            start_background_worker(rt.sessions, rt.clock, settings)
            click.echo("outbox: delivering grades and xAPI statements from an in-process "
                       "worker thread")
        run_simple(host, port, app, threaded=True, use_reloader=False,
                   request_handler=_quiet_request_handler())
        rt = app.extensions["cpt_lti"]
        rt.tally.write(rt.sessions)  # counts not yet written (see lti_tool.ops.metrics.Tally)
        return
    # gunicorn's workers rebuild their settings from the environment: hand them the URLs
    # that followed the port.
    os.environ["CPT_LTI_BASE_URL"] = settings.base_url
    if settings.sandbox_base_url:
        os.environ["CPT_LTI_SANDBOX_BASE_URL"] = settings.sandbox_base_url
    _exec_gunicorn(host, port, workers)


def _refresh_sandbox(settings: Settings) -> None:
    """Point the sandbox platforms at this server's URLs before serving: `serve --port`
    without a new `init` would otherwise leave the sandbox LMS launching to the old port."""
    from lti_tool.sandbox.setup import ensure_sandbox_platforms

    engine = make_engine(settings.database_url)
    try:
        with transaction(make_session_factory(engine, sealer_for(settings))) as session:
            ensure_sandbox_platforms(session, settings)
    finally:
        engine.dispose()


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt  # werkzeug's server loop stops on it and returns


def _quiet_request_handler() -> type:
    """werkzeug's request handler, its ``Server`` header without versions (it sent
    ``Werkzeug/3.x Python/3.y``, what a scanner reads to pick its exploits). gunicorn
    (``--workers N``) already sends ``Server: gunicorn`` with no version."""
    from werkzeug.serving import WSGIRequestHandler

    class QuietRequestHandler(WSGIRequestHandler):
        def version_string(self) -> str:
            return "Werkzeug"

    return QuietRequestHandler


def _start_local_lrs(settings: Settings) -> Settings:
    """Start Ralph for `make run`; it stops when this process exits."""
    import atexit
    import dataclasses
    import secrets

    from lti_tool.sandbox.ralph_lrs import RalphServer, free_port

    if settings.xapi_endpoint:
        click.echo(f"xAPI: a default LRS is configured ({settings.xapi_endpoint}); "
                   "not starting a local one")
        return settings
    data = Path("var/ralph").resolve()
    wanted = port = int(os.environ.get("CPT_LTI_LOCAL_LRS_PORT", "8100"))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            port = free_port()  # the wanted port is taken (another Ralph, another tool)
    except OSError:
        pass
    ralph = RalphServer(data, username="cpt-lti", password=secrets.token_urlsafe(18),
                        port=port).start()
    atexit.register(ralph.stop)
    credentials = data / "credentials.json"
    credentials.write_text(json.dumps({"endpoint": ralph.endpoint_url,
                                       "username": ralph.username,
                                       "password": ralph.password}, indent=2))
    credentials.chmod(0o600)
    moved = "" if port == wanted else f"; port {wanted} was taken"
    click.echo(f"xAPI: local Ralph LRS on port {port} at {ralph.endpoint_url}{moved} "
               f"(credentials in {credentials})")
    return dataclasses.replace(settings, xapi_endpoint=ralph.endpoint_url,
                               xapi_username=ralph.username, xapi_password=ralph.password)


def _gunicorn_available() -> bool:
    return importlib.util.find_spec("gunicorn") is not None


def _exec_gunicorn(host: str, port: int, workers: int) -> NoReturn:
    """Replace this process with gunicorn; it rebuilds settings from the same environment."""
    if not _gunicorn_available():
        raise CliError("--workers > 1 needs gunicorn (pip install gunicorn); "
                       "or use --workers 1", EXIT_USAGE)
    argv = [sys.executable, "-m", "gunicorn", "--bind", _gunicorn_bind(host, port),
            "--workers", str(workers)]
    conf = PROJECT_ROOT / "config" / "gunicorn.conf.py"
    if conf.exists():
        argv += ["--config", str(conf)]  # command-line --bind/--workers still win
    argv.append("lti_tool:create_app()")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


# --- passwords: a prompt, a file or the environment, never argv --------------------------------

_NO_ARGV = ("--password is refused: a command line shows in the process list and the shell "
            "history; use --password-file PATH, --password-env NAME, or type it at the prompt")


def _password_options(what: str, default_env: str) -> Callable[[Callable[..., Any]],
                                                                Callable[..., Any]]:
    """--password-file and --password-env for a command that takes a secret, and a hidden
    --password that is there only to refuse (exit 2) with what to do instead."""
    options = [
        click.option("--password-file", type=str, default=None, metavar="PATH",
                     help=f"Read the {what} from the first line of this file ('-': standard "
                          "input)."),
        click.option("--password-env", default=None, metavar="NAME",
                     help=f"Read the {what} from environment variable NAME (default: "
                          f"{default_env}, when set). With neither option it is asked for "
                          "at a terminal. Never on the command line."),
        click.option("--password", "argv_password", default=None, hidden=True,
                     is_flag=False, flag_value=""),
    ]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _stdin_is_tty() -> bool:
    return sys.stdin.isatty()


def _read_password(password_file: str | None, password_env: str | None,
                   argv_password: str | None, default_env: str, prompt: str,
                   confirm: bool) -> str:
    if argv_password is not None:
        raise CliError(_NO_ARGV, EXIT_USAGE)
    if password_file is not None and password_env is not None:
        raise CliError("give --password-file or --password-env, not both", EXIT_USAGE)
    if password_file is not None:
        try:
            text = (sys.stdin.readline() if password_file == "-"
                    else Path(password_file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read password file {password_file}: "
                           f"{getattr(exc, 'strerror', None) or exc}", EXIT_USAGE) from exc
        password = text.split("\n", 1)[0].rstrip("\r")
        if not password:
            raise CliError(f"password file {password_file} is empty", EXIT_USAGE)
        return password
    if password_env is not None:
        password = os.environ.get(password_env, "")
        if not password:
            raise CliError(f"environment variable {password_env} is not set or empty",
                           EXIT_USAGE)
        return password
    if os.environ.get(default_env):
        return os.environ[default_env]
    if not _stdin_is_tty():
        raise CliError("no password given and no terminal to ask at: use --password-file "
                       "PATH or --password-env NAME", EXIT_USAGE)
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True))


# --- platform ---------------------------------------------------------------------------------

@cli.group(short_help="Register, list and remove LMS platforms.")
def platform() -> None:
    """Register the LMSs (issuer + client id) allowed to launch the tool."""


@platform.command("add")
@click.option("--issuer", required=True, help="The platform's issuer (iss), e.g. "
              "https://canvas.instructure.com.")
@click.option("--client-id", required=True,
              help="Client id the platform assigned to this tool (the aud of its tokens).")
@click.option("--auth-login-url", required=True,
              help="Platform OIDC authorization endpoint the login redirects to.")
@click.option("--auth-token-url", required=True,
              help="Platform OAuth2 token endpoint, used for grades and rosters.")
@click.option("--key-set-url", required=True,
              help="Platform JWKS URL whose keys sign its id_tokens.")
@click.option("--deployment-id", "deployment_ids", multiple=True, metavar="ID",
              help="A deployment id to accept; repeat for several.")
@click.option("--name", default=None, help="A label for people, e.g. 'Canvas (Riverside CC)'.")
@click.option("--auth-audience", default=None,
              help="aud for client assertions when the token endpoint wants another value.")
@click.option("--deployment-policy", default=None,
              type=click.Choice([p.value for p in DeploymentPolicy]),
              help="What to do with unknown deployment ids: refuse them (strict) or record "
                   "them (auto-register). Default for a new platform: the lti.deployment_policy "
                   "setting.")
@click.option("--frame-origin", "frame_origins", multiple=True, metavar="ORIGIN",
              help="An origin the LMS shows the tool from when its issuer and login URL do "
                   "not name it (e.g. a vanity Canvas domain https://canvas.college.edu); "
                   "repeat for several. Given at all, it replaces the platform's list.")
def platform_add(issuer: str, client_id: str, auth_login_url: str, auth_token_url: str,
                 key_set_url: str, deployment_ids: tuple[str, ...], name: str | None,
                 auth_audience: str | None, deployment_policy: str | None,
                 frame_origins: tuple[str, ...]) -> None:
    """Register a platform, or update one and add deployment ids to it."""
    settings = _settings()
    spec = PlatformSpec(issuer=issuer, client_id=client_id, auth_login_url=auth_login_url,
                        auth_token_url=auth_token_url, key_set_url=key_set_url,
                        deployment_ids=deployment_ids, name=name, auth_audience=auth_audience,
                        deployment_policy=deployment_policy,
                        frame_origins=frame_origins or None)
    with _database(settings) as session:
        try:
            result = PlatformService(session).add(spec, default_policy=settings.deployment_policy)
        except PlatformError as exc:
            raise CliError(str(exc), EXIT_USAGE) from exc
        row = result.platform
        verb = "registered" if result.created else "updated"
        click.echo(f"{verb} platform {row.id}: {row.issuer} client {row.client_id}")
        if result.changed_fields:
            click.echo(f"changed: {', '.join(result.changed_fields)}")
        if result.added_deployments:
            click.echo(f"deployments added: {', '.join(result.added_deployments)}")
        elif deployment_ids:
            click.echo("deployments: already registered")


@platform.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of text.")
def platform_list(as_json: bool) -> None:
    """List registered platforms and their deployment ids, then the Dynamic Registrations
    waiting for approval (`platform approve ID`)."""
    from lti_tool.lti.registration import pending_as_dict, pending_registrations

    with _database(_settings()) as session:
        rows = [platform_as_dict(p) for p in PlatformService(session).list()]
        pending = [pending_as_dict(session, r) for r in pending_registrations(session)]
    if as_json:
        _echo_json(rows + pending)  # waiting ones carry "pending_registration": their id
        return
    for item in pending:
        what = (f"new URLs for platform {item['replaces_platform']}"
                if item["replaces_platform"] else "a new platform")
        click.echo(f"waiting for approval: registration {item['pending_registration']}  "
                   f"{item['name'] or '-'}  {item['issuer']}  client={item['client_id']}  "
                   f"({what}: login={item['auth_login_url']}  "
                   f"token={item['auth_token_url']}  jwks={item['key_set_url']}"
                   + (f"  deployment={item['deployment_id']}" if item["deployment_id"]
                      else "")
                   + f")  approve: cpt-lti platform approve {item['pending_registration']}")
    if not rows:
        click.echo("no platforms registered")
    for row in rows:
        state = "enabled" if row["enabled"] else "disabled"
        deployments = ", ".join(row["deployments"]) or "-"
        click.echo(f"{row['id']}  {row['name'] or '-'}  {row['issuer']}  "
                   f"client={row['client_id']}  {state}  policy={row['deployment_policy']}  "
                   f"deployments={deployments}  last_launch={row['last_launch_at'] or '-'}"
                   + (f"  frame_origins={' '.join(row['frame_origins'])}"
                      if row["frame_origins"] else ""))


@platform.command("remove")
@click.option("--issuer", required=True, help="Issuer of the platform to remove.")
@click.option("--client-id", required=True, help="Client id of the platform to remove.")
def platform_remove(issuer: str, client_id: str) -> None:
    """Remove a platform with its deployments, users and courses."""
    with _database(_settings()) as session:
        try:
            row = PlatformService(session).remove(issuer, client_id)
        except PlatformNotFoundError as exc:
            raise CliError(str(exc.args[0])) from exc
        click.echo(f"removed platform {row.id}: {row.issuer} client {row.client_id}")


def _set_platform(issuer: str, client_id: str, deployment_id: str | None,
                  enabled: bool) -> None:
    from sqlalchemy import select

    from lti_tool.models import Deployment, Platform

    with _database(_settings()) as session:
        row = session.scalars(select(Platform).where(Platform.issuer == issuer,
                                                     Platform.client_id == client_id)).first()
        if row is None:
            raise CliError(f"no platform with issuer {issuer} and client id {client_id}")
        state = "enabled" if enabled else "disabled"
        if deployment_id is None:
            row.enabled = enabled
            click.echo(f"{state} platform {row.id}: {row.issuer} client {row.client_id}")
            return
        deployment = session.scalars(select(Deployment).where(
            Deployment.platform_id == row.id, Deployment.deployment_id == deployment_id)).first()
        if deployment is None:
            raise CliError(f"platform {row.id} has no deployment {deployment_id}")
        deployment.enabled = enabled
        click.echo(f"{state} deployment {deployment_id} of platform {row.id}")


_PLATFORM_KEYS = [
    click.option("--issuer", required=True, help="Issuer of the platform."),
    click.option("--client-id", required=True, help="Client id of the platform."),
    click.option("--deployment-id", default=None,
                 help="Only this deployment (otherwise the whole platform)."),
]


def _platform_keys(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_PLATFORM_KEYS):
        command = option(command)
    return command


@platform.command("enable")
@_platform_keys
def platform_enable(issuer: str, client_id: str, deployment_id: str | None) -> None:
    """Allow launches from a disabled platform or deployment (a Dynamic Registration
    waiting for approval is accepted with `platform approve`)."""
    _set_platform(issuer, client_id, deployment_id, True)


@platform.command("disable")
@_platform_keys
def platform_disable(issuer: str, client_id: str, deployment_id: str | None) -> None:
    """Refuse launches from a platform or one deployment (its data stays)."""
    _set_platform(issuer, client_id, deployment_id, False)


@platform.command("approve")
@click.argument("registration_id", type=click.IntRange(1, 2 ** 31 - 1))
def platform_approve(registration_id: int) -> None:
    """Accept a Dynamic Registration waiting for approval (its id is in `platform list`):
    a new platform is registered and enabled; for one already registered its login,
    token and key-set URLs are replaced (its enabled state is kept)."""
    from lti_tool.lti.registration import RegistrationError, approve_registration

    settings = _settings()
    with _database(settings) as session:
        try:
            done = approve_registration(session, settings, registration_id)
        except RegistrationError as exc:
            raise CliError(str(exc)) from exc
        row = done.platform
        if done.created:
            click.echo(f"registered platform {row.id}: {row.issuer} client {row.client_id}")
        else:
            click.echo(f"updated platform {row.id}: {row.issuer} client {row.client_id}"
                       + (f"; changed: {', '.join(done.changed)}" if done.changed else ""))
            if not row.enabled:
                click.echo("it is disabled: `cpt-lti platform enable` allows its launches")


@platform.command("reject")
@click.argument("registration_id", type=click.IntRange(1, 2 ** 31 - 1))
def platform_reject(registration_id: int) -> None:
    """Discard a Dynamic Registration waiting for approval (nothing else changes)."""
    from lti_tool.lti.registration import RegistrationError, reject_registration

    with _database(_settings()) as session:
        try:
            row = reject_registration(session, registration_id)
        except RegistrationError as exc:
            raise CliError(str(exc)) from exc
        click.echo(f"rejected registration {registration_id}: {row.issuer} client "
                   f"{row.client_id}")


# --- admin ------------------------------------------------------------------------------------

@cli.group(short_help="Tool administrators for the web console at /admin.")
def admin() -> None:
    """Accounts for the admin console (separate from LMS launches)."""


@admin.command("create")
@click.argument("username")
@_password_options("admin's password", "CPT_LTI_ADMIN_PASSWORD")
def admin_create(username: str, password_file: str | None, password_env: str | None,
                 argv_password: str | None) -> None:
    """Create an admin (or set a new password, which signs them out everywhere)."""
    from lti_tool.ops.admin import AdminError, AdminService

    settings = _settings()
    password = _read_password(password_file, password_env, argv_password,
                              "CPT_LTI_ADMIN_PASSWORD", "Password", confirm=True)
    with _database(settings) as session:
        try:
            row, created = AdminService(session, system_clock).create(username, password)
        except AdminError as exc:
            raise CliError(str(exc), EXIT_USAGE) from exc
        click.echo(f"{'created' if created else 'updated'} admin {row.username}")


# --- user -------------------------------------------------------------------------------------

@cli.group(short_help="Privacy: erase a learner's personal data.")
def user() -> None:
    """Learners as the tool stores them."""


@user.command("erase")
@click.option("--platform", "issuer", required=True, metavar="ISSUER",
              help="Issuer of the learner's platform.")
@click.option("--sub", required=True, help="The learner's LTI sub (user id in the LMS).")
@click.option("--client-id", default=None, help="When several platforms share the issuer.")
def user_erase(issuer: str, sub: str, client_id: str | None) -> None:
    """Remove a learner's personal data (name, e-mail, sub, enrolments, mastery, queued
    statements and grades); their attempts stay as anonymous class statistics."""
    from lti_tool.ops.privacy import EraseError, erase_user

    with _database(_settings()) as session:
        try:
            done = erase_user(session, issuer, sub, client_id)
        except EraseError as exc:
            raise CliError(str(exc.args[0])) from exc
    click.echo(f"erased: {done.attempts_kept_anonymously} attempts kept anonymously, "
               f"{done.outbox_rows_removed} outbox rows and {done.roster_rows_removed} "
               "roster rows removed")


# --- keys -------------------------------------------------------------------------------------

@cli.group()
def keys() -> None:
    """Manage the tool's signing keys (published at /lti/jwks)."""


def _key_as_dict(service: KeyService, key: ToolKey) -> dict[str, Any]:
    return {"kid": key.kid, "status": service.status(key),
            "created_at": key.created_at.isoformat(),
            "signs_from": (key.activates_at or key.created_at).isoformat()}


@keys.command("rotate")
@click.option("--overlap-hours", type=click.FloatRange(min=0), default=None,
              help="Publish the new key now, sign with it after this many hours "
                   "(default: the lti.key_overlap_hours setting).")
@click.option("--now", "immediately", is_flag=True,
              help="Sign with the new key at once (after a key was exposed).")
def keys_rotate(overlap_hours: float | None, immediately: bool) -> None:
    """Publish a new signing key; it signs after the overlap window, older keys stay
    published until retired."""
    from datetime import timedelta

    settings = _settings()
    hours = 0.0 if immediately else (settings.key_overlap_hours if overlap_hours is None
                                     else overlap_hours)
    with _database(settings) as session:
        service = KeyService(session)
        key = service.rotate(timedelta(hours=hours))
        click.echo(key.kid)
        click.echo(f"signs from {(key.activates_at or key.created_at).isoformat()}", err=True)


@keys.command("retire")
@click.argument("kid")
def keys_retire(kid: str) -> None:
    """Stop publishing key KID (never the signing key)."""
    with _database(_settings()) as session:
        try:
            KeyService(session).retire(kid)
        except ToolKeyError as exc:
            raise CliError(str(exc.args[0])) from exc
        click.echo(f"retired {kid}")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of text.")
def keys_list(as_json: bool) -> None:
    """List published keys, oldest first: signing, next (waiting for its overlap window)
    or published (older, retire when no longer needed)."""
    with _database(_settings()) as session:
        service = KeyService(session)
        rows = [_key_as_dict(service, k) for k in service.all()]
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("no keys: run `cpt-lti init`")
    for row in rows:
        click.echo(f"{row['kid']}  {row['status']}  created {row['created_at']}  "
                   f"signs from {row['signs_from']}")


# --- sealing key -------------------------------------------------------------------------------

@cli.group(short_help="The sealing key of stored secrets: make one, rotate it.")
def sealing() -> None:
    """The tool's private keys and the LRS passwords are stored sealed with
    CPT_LTI_SEALING_KEY: one or more keys, comma separated, newest first.

    To rotate: put a new key (`cpt-lti sealing new-key`) first in CPT_LTI_SEALING_KEY and
    keep the old one after it, restart, run `cpt-lti sealing rotate`, then remove the old key.
    """


@sealing.command("new-key")
def sealing_new_key() -> None:
    """Print a fresh random sealing key (needs no configuration)."""
    click.echo(new_key())


@sealing.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def sealing_status(as_json: bool) -> None:
    """How many stored secrets each key opens: current (the first key), older (a later key:
    rotate before removing it), to migrate (run `cpt-lti init`) and unreadable."""
    settings = _settings()
    with _database(settings) as session:
        report = SealedValues(session, sealer_for(settings), settings.secret_key).status()
    data = {"current": report.current, "older": report.older,
            "to_migrate": report.to_migrate, "unreadable": report.unreadable}
    if as_json:
        _echo_json(data)
        return
    click.echo(f"current {report.current}, older {report.older}, "
               f"to migrate {report.to_migrate}, unreadable {len(report.unreadable)}"
               + (f" ({', '.join(report.unreadable)})" if report.unreadable else ""))


@sealing.command("rotate")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def sealing_rotate(as_json: bool) -> None:
    """Re-seal every stored secret with the first key of CPT_LTI_SEALING_KEY; afterwards
    the keys after it can be removed. Changes nothing if any value cannot be opened."""
    settings = _settings()
    try:
        with _database(settings) as session:
            report = SealedValues(session, sealer_for(settings), settings.secret_key).rotate()
    except UnsealError as exc:
        raise CliError(str(exc)) from exc
    data = {"resealed": report.resealed,
            "tool_keys": report.by_column.get("tool_keys", 0),
            "lrs_passwords": report.by_column.get("lrs_passwords", 0)}
    if as_json:
        _echo_json(data)
        return
    click.echo(f"re-sealed {report.resealed} values with the first sealing key "
               f"({data['tool_keys']} tool keys, {data['lrs_passwords']} LRS passwords); "
               "keys after it in CPT_LTI_SEALING_KEY can now be removed")


# --- worker and outbox -------------------------------------------------------------------------

@cli.command()
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000),
              help="Rows claimed per pass.")
def worker(once: bool, limit: int) -> None:
    """Deliver the outbox: grades to the LMS (AGS), statements to the LRSs (xAPI). Run any
    number of these processes."""
    import time

    from lti_tool.delivery.outbox import OutboxWorker

    settings = _settings()
    _require_schema(settings)
    engine = make_engine(settings.database_url)
    runner = OutboxWorker(make_session_factory(engine, sealer_for(settings)), system_clock,
                          settings.http_timeout_seconds, settings=settings)
    log = logging.getLogger("lti_tool.worker")
    try:
        while True:
            try:
                report = runner.run_once(limit)
            except Exception as exc:  # noqa: BLE001 - a long-running worker outlives outages
                if once:
                    raise
                # The database (or anything else) failed this pass: nothing was recorded as
                # sent, so the rows stay queued. Exiting would need an operator to restart
                # the worker; waiting and trying again needs no one.
                log.warning("outbox pass failed, retrying in %s s: %s",
                            settings.worker_interval_seconds, str(exc).splitlines()[0][:300])
                time.sleep(settings.worker_interval_seconds)
                continue
            if report.handled:
                click.echo(f"sent {report.sent}, retry later {report.retried}, "
                           f"failed {report.failed}")
            if once:
                if report.failed:
                    raise SystemExit(EXIT_FAILED)
                return
            if report.handled < limit:
                time.sleep(settings.worker_interval_seconds)
    finally:
        engine.dispose()


@cli.group()
def outbox() -> None:
    """See and retry deliveries waiting in the outbox."""


@outbox.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def outbox_status_command(as_json: bool) -> None:
    """Counts by kind and status, the oldest waiting item, and failed items with reasons."""
    from lti_tool.delivery.outbox import outbox_status

    settings = _settings()
    with _database(settings) as session:
        status = outbox_status(session, system_clock())
    if as_json:
        _echo_json(status)
        return
    for kind, counts in sorted(status["counts"].items()):
        click.echo(f"{kind}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if status["oldest_pending_seconds"] is not None:
        click.echo(f"oldest waiting: {status['oldest_pending_seconds']} s")
    for dest in status["xapi_destinations"]:
        click.echo(f"xapi -> {dest['destination']}: {dest['pending']} waiting, oldest "
                   f"{dest['oldest_pending_seconds']} s"
                   + (f", last error: {dest['last_error']}" if dest["last_error"] else ""))
    for row in status["failed"]:
        where = f" -> {row['destination']}" if row["destination"] else ""
        click.echo(f"failed #{row['id']} ({row['kind']}{where}, {row['attempts']} tries): "
                   f"{row['last_error']}")


@outbox.command("retry")
@click.option("--id", "ids", multiple=True, type=int, help="Only these rows (repeatable).")
def outbox_retry(ids: tuple[int, ...]) -> None:
    """Put failed deliveries back in the queue (after fixing their cause)."""
    from lti_tool.delivery.outbox import retry_failed

    settings = _settings()
    with _database(settings) as session:
        count = retry_failed(session, system_clock(), list(ids) or None)
    click.echo(f"{count} deliveries queued again")


# --- LRS ---------------------------------------------------------------------------------------

@cli.group(short_help="Register and list the LRSs a platform's xAPI statements go to.")
def lrs() -> None:
    """Learning Record Stores per platform. A platform with none uses the default LRS from
    CPT_LTI_XAPI_ENDPOINT / _USERNAME / _PASSWORD, if set."""


@lrs.command("add")
@click.option("--platform", "issuer", required=True, metavar="ISSUER",
              help="Issuer of the platform whose statements go to this LRS.")
@click.option("--client-id", default=None,
              help="Client id, when several platforms share the issuer (Canvas cloud).")
@click.option("--endpoint", required=True,
              help="The LRS's xAPI base URL (statements are POSTed to <endpoint>statements).")
@click.option("--username", required=True, help="Basic-auth user name (LRS key).")
@click.option("--name", default="lrs", show_default=True,
              help="A name for this LRS, unique per platform; adding the same name updates it.")
@click.option("--actor-identity", default="account", show_default=True,
              type=click.Choice(["account", "mbox_sha1sum", "mbox"]),
              help="How learners are named: platform account (no personal data), hashed or "
                   "plain e-mail.")
@_password_options("LRS password (its secret)", "CPT_LTI_LRS_PASSWORD")
def lrs_add(issuer: str, client_id: str | None, endpoint: str, username: str,
            name: str, actor_identity: str, password_file: str | None,
            password_env: str | None, argv_password: str | None) -> None:
    """Send a platform's statements to an LRS (several per platform allowed)."""
    from lti_tool.delivery.destinations import (
        LrsConfigError,
        add_lrs,
        destination_key,
        find_platform,
    )

    settings = _settings()
    password = _read_password(password_file, password_env, argv_password,
                              "CPT_LTI_LRS_PASSWORD", "LRS password", confirm=False)
    with _database(settings) as session:
        try:
            platform_row = find_platform(session, issuer, client_id)
            row, created = add_lrs(session, settings, platform_row, name=name, url=endpoint,
                                   username=username, password=password,
                                   actor_identity=actor_identity)
        except LrsConfigError as exc:
            raise CliError(str(exc), EXIT_USAGE) from exc
        click.echo(f"{'added' if created else 'updated'} LRS {row.id} ({destination_key(row)}) "
                   f"{row.url} for {platform_row.issuer} client {platform_row.client_id}")


@lrs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of text.")
def lrs_list(as_json: bool) -> None:
    """List registered LRSs (passwords are never shown) and the default one."""
    from lti_tool.delivery.destinations import default_destination, list_lrs

    settings = _settings()
    with _database(settings) as session:
        rows = list_lrs(session)
    default = default_destination(settings)
    if as_json:
        _echo_json({"default": {"endpoint": default.url, "username": default.username,
                                "actor_identity": default.actor_identity.value}
                    if default else None, "platforms": rows})
        return
    click.echo(f"default: {default.url} (user {default.username})" if default
               else "default: none (CPT_LTI_XAPI_ENDPOINT is not set)")
    for row in rows:
        state = "enabled" if row["enabled"] else "disabled"
        click.echo(f"{row['id']}  {row['name']}  {row['platform_issuer']} "
                   f"client={row['platform_client_id']}  {row['endpoint']}  "
                   f"user={row['username']}  actor={row['actor_identity']}  {state}")


@lrs.command("remove")
@click.argument("lrs_id", type=int)
def lrs_remove(lrs_id: int) -> None:
    """Stop sending to an LRS (statements waiting for it stay in the outbox)."""
    from lti_tool.delivery.destinations import LrsConfigError, remove_lrs

    with _database(_settings()) as session:
        try:
            row = remove_lrs(session, lrs_id)
        except LrsConfigError as exc:
            raise CliError(str(exc)) from exc
        click.echo(f"disabled LRS {row.id} ({row.url})")


# --- content ----------------------------------------------------------------------------------

@cli.group(short_help="Check, count and export the CPT 4.0 curriculum.")
def content() -> None:
    """The curriculum data shipped in lti_tool/curriculum/data (blueprint, items, lessons)."""


_DATA_DIR_OPTION = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Curriculum directory to use instead of the shipped one (for editors' copies).")


def _bank(data_dir: Path | None) -> Bank:
    if data_dir is not None and not (data_dir / "blueprint.yaml").is_file():
        raise CliError(f"{data_dir} has no blueprint.yaml", EXIT_USAGE)
    return load_bank(data_dir or DATA_DIR)


@content.command("validate")
@_DATA_DIR_OPTION
def content_validate(data_dir: Path | None) -> None:
    """Run every check; print one line per problem (file: id: message); exit 1 on any."""
    bank = _bank(data_dir)
    for problem in bank.problems:
        click.echo(str(problem))
    summary = (f"{len(bank.items)} items, {len(bank.lessons)} lessons, "
               f"{len(bank.problems)} problems")
    click.echo(summary, err=True)
    if bank.problems:
        raise SystemExit(EXIT_FAILED)


@content.command("stats")
@_DATA_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def content_stats(data_dir: Path | None, as_json: bool) -> None:
    """Items per module and key activity (with exam weights), answer cues, reading levels
    and the overlap of a student's consecutive mock exams."""
    bank = _bank(data_dir)
    stats = bank_stats(bank)
    assert bank.blueprint is not None
    for module in bank.blueprint.modules:
        refs = [ItemRef(item.id, item.key_activity, item.difficulty)
                for _, item in sorted(bank.items.values(), key=lambda pair: pair[1].id)
                if item.module == module.id]
        report = simulate_forms(refs, [ka.id for ka in module.key_activities],
                                activity_weights(module), module.exam.items)
        stats["modules"][module.id]["mock_forms"] = {
            "size": module.exam.items, "overlaps": report.overlaps,
            "fresh_forms": report.fresh_forms}
    if as_json:
        _echo_json(stats)
    else:
        click.echo(stats_text(stats))


@content.command("export")
@_DATA_DIR_OPTION
@click.option("--format", "fmt", type=click.Choice(["qti", "gift"]), required=True,
              help="qti: IMS QTI 2.1 package (zip); gift: Moodle GIFT text.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write; GIFT goes to standard output without it.")
def content_export(data_dir: Path | None, fmt: str, output: Path | None) -> None:
    """Export the item bank for an LMS's own quiz engine."""
    bank = _bank(data_dir)
    if bank.problems:
        raise CliError(f"the curriculum has {len(bank.problems)} problems; "
                       f"run `cpt-lti content validate`")
    if fmt == "qti":
        if output is None:
            raise CliError("--output is required for the QTI zip", EXIT_USAGE)
        output.write_bytes(to_qti_zip(bank))
        click.echo(f"wrote {output} ({len(bank.items)} items)", err=True)
        return
    text = to_gift(bank)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output} ({len(bank.items)} items)", err=True)


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="cpt-lti")
