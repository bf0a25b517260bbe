"""``cpt-lti keys``: the tool's signing keys published at /lti/jwks (rotate, retire, list)."""

from __future__ import annotations

from typing import Any

import click

from lti_tool.cli.common import CliError, _database, _echo_json, _settings
from lti_tool.lti.keys import KeyService, ToolKeyError
from lti_tool.models import ToolKey


@click.group()
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


# A kid is an RFC 7638 thumbprint in base64url: one in 64 starts with "-", which click would
# read as an option (or as -h in a cluster: help, exit 0, nothing retired). Only --help is
# an option here; the argument takes any other kid as typed.
@keys.command("retire", context_settings={"ignore_unknown_options": True,
                                          "help_option_names": ["--help"]})
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
