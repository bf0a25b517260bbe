"""``cpt-lti lrs``: the Learning Record Stores a platform's xAPI statements go to."""

from __future__ import annotations

import click

from lti_tool.cli.common import (
    EXIT_USAGE,
    CliError,
    _database,
    _echo_json,
    _password_options,
    _read_password,
    _settings,
)


@click.group(short_help="Register and list the LRSs a platform's xAPI statements go to.")
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
