"""``cpt-lti worker``: the process that delivers the outbox (grades and xAPI statements)."""

from __future__ import annotations

import logging

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
