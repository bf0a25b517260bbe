"""``cpt-lti worker``: the process that delivers the outbox (grades and xAPI statements)."""

from __future__ import annotations

import click

from lti_tool.cli.common import EXIT_FAILED, _require_schema, _settings
from lti_tool.db import make_engine, make_session_factory
from lti_tool.delivery.sealed import sealer_for
from lti_tool.web.runtime import system_clock


@click.command()
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000),
              help="Rows claimed per pass.")
def worker(once: bool, limit: int) -> None:
    """Deliver the outbox: grades to the LMS (AGS), statements to the LRSs (xAPI). Run any
    number of these processes."""
    from lti_tool.delivery.worker import OutboxWorker, WorkerReport, run

    settings = _settings()
    _require_schema(settings)
    engine = make_engine(settings.database_url)
    runner = OutboxWorker(make_session_factory(engine, sealer_for(settings)), system_clock,
                          settings.http_timeout_seconds, settings=settings)

    def echo(report: WorkerReport) -> None:
        click.echo(f"sent {report.sent}, retry later {report.retried}, failed {report.failed}")

    try:
        report = run(runner, settings.worker_interval_seconds, limit=limit, once=once,
                     on_pass=echo)
    finally:
        engine.dispose()
    if report is not None and report.failed:
        raise SystemExit(EXIT_FAILED)
