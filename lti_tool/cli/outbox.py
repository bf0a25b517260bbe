"""``cpt-lti outbox``: see and retry the deliveries waiting in the outbox."""

from __future__ import annotations

import click

from lti_tool.cli.common import _database, _echo_json, _settings
from lti_tool.web.runtime import system_clock


@click.group()
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
