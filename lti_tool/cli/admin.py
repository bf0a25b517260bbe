"""``cpt-lti admin``: accounts for the web console at /admin."""

from __future__ import annotations

import click

from lti_tool.cli.common import (
    EXIT_USAGE,
    CliError,
    _database,
    _password_options,
    _read_password,
    _settings,
)
from lti_tool.web.runtime import system_clock


@click.group(short_help="Tool administrators for the web console at /admin.")
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
