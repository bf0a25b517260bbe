"""What every ``cpt-lti`` command shares: the one-line failure and its exit codes, the
settings and the migrated database a command works on, JSON output, the port the tool
listens on (init and serve), and reading a password (never from the command line)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.delivery.sealed import SealingKeyError, sealer_for
from lti_tool.ops.migrate import current_revision, head_revision, is_known_revision
from lti_tool.settings import Settings, SettingsError, load_settings

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


# --- the port: init and serve ----------------------------------------------------------------

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
