"""``cpt-lti serve``: the built-in threaded server (with, for development, a local Ralph
LRS), or gunicorn with N processes that replaces this one."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from lti_tool.cli.common import (
    EXIT_USAGE,
    CliError,
    _port_option,
    _require_schema,
    _settings,
    _settings_for_port,
)
from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.delivery.sealed import sealer_for
from lti_tool.settings import DEV_SECRET, PROJECT_ROOT, Settings


def _mode_line(settings: Settings) -> str:
    """The one line a non-production start prints, so nobody mistakes it for production."""
    sandbox = (f"sandbox LMS on at {settings.url('/sandbox/')}" if settings.sandbox
               else "sandbox LMS off")
    secret = ", development secret key" if settings.secret_key == DEV_SECRET else ""
    return (f"{settings.environment} mode: {sandbox}{secret} - not for production "
            "(CPT_LTI_ENVIRONMENT=production)")


def _gunicorn_bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@click.command()
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
            from lti_tool.delivery.worker import start_background_worker

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
