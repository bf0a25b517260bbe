"""``cpt-lti sealing``: the sealing key of stored secrets (make one, status, rotate)."""

from __future__ import annotations

import click

from lti_tool.cli.common import CliError, _database, _echo_json, _settings
from lti_tool.delivery.sealed import SealedValues, UnsealError, new_key, sealer_for


@click.group(short_help="The sealing key of stored secrets: make one, rotate it.")
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
