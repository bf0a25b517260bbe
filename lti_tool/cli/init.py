"""``cpt-lti init``: the deploy step (schema, signing key, sealed secrets, sandbox platforms,
curriculum), safe to run on every deploy."""

from __future__ import annotations

import click

from lti_tool.cli.common import CliError, _port_option, _safe_url, _settings, _settings_for_port
from lti_tool.curriculum.checks import load_bank
from lti_tool.curriculum.loader import sync_curriculum
from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.delivery.sealed import SealedValues, sealer_for
from lti_tool.lti.keys import KeyService
from lti_tool.ops.migrate import head_revision, upgrade_to_head
from lti_tool.web.runtime import system_clock


@click.command(short_help="Migrate the database, create a signing key, set up the sandbox.")
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
