"""``cpt-lti user``: privacy, erasing a learner's personal data - in the tool and, by
voiding what was sent, in every LRS - and the erasure's report."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lti_tool.cli.common import EXIT_USAGE, CliError, _database, _settings


@click.group(short_help="Privacy: erase a learner's personal data.")
def user() -> None:
    """Learners as the tool stores them."""


def _emit(data: dict, fmt: str, report_file: Path | None) -> None:
    from lti_tool.ops.erasure import report_text

    text = (json.dumps(data, indent=2, sort_keys=True) if fmt == "json"
            else report_text(data))
    if report_file is not None:
        report_file.write_text(text + "\n", encoding="utf-8")
        click.echo(f"report written to {report_file}")
    else:
        click.echo(text)


@user.command("erase")
@click.option("--platform", "issuer", required=True, metavar="ISSUER",
              help="Issuer of the learner's platform.")
@click.option("--sub", required=True, help="The learner's LTI sub (user id in the LMS).")
@click.option("--client-id", default=None, help="When several platforms share the issuer.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="The erasure report's format.")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the erasure report to this file (else printed).")
@click.option("--delete-in-lrs", is_flag=True,
              help="Also delete the statements in LRSs whose API allows it (none shipped "
                   "today; the statements are voided instead).")
def user_erase(issuer: str, sub: str, client_id: str | None, fmt: str,
               report_file: Path | None, delete_in_lrs: bool) -> None:
    """Remove a learner's personal data (name, e-mail, sub, enrolments, mastery, queued
    statements and grades; their attempts stay as anonymous class statistics) and void
    every statement sent about them, in every LRS that got one, through the outbox."""
    from lti_tool.ops.erasure import DELETES_BY_AGENT, report
    from lti_tool.ops.privacy import EraseError, erase_user

    if delete_in_lrs and not DELETES_BY_AGENT:
        raise CliError("--delete-in-lrs: no supported LRS lets a tool delete statements by "
                       "agent (Ralph has no such API); run without it - the statements are "
                       "voided - and ask the LRS's admin to delete them in its storage",
                       EXIT_USAGE)
    settings = _settings()
    with _database(settings) as session:
        try:
            done = erase_user(session, issuer, sub, client_id, tool_home=settings.base_url)
        except EraseError as exc:
            raise CliError(str(exc.args[0])) from exc
        data = report(session, done.erasure_id)
    assert data is not None
    if fmt == "text" or report_file is not None:  # JSON on stdout stays pure JSON
        click.echo(f"erased: {done.attempts_kept_anonymously} attempts kept anonymously, "
                   f"{done.outbox_rows_removed} outbox rows and {done.roster_rows_removed} "
                   f"roster rows removed; {done.voids_queued} voiding statements queued "
                   f"(erasure {done.erasure_id})")
    _emit(data, fmt, report_file)


@user.command("erasure")
@click.argument("erasure_id", type=click.IntRange(min=1))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the report to this file (else printed).")
def user_erasure(erasure_id: int, fmt: str, report_file: Path | None) -> None:
    """An erasure's report again: per LRS, the voidings delivered and still waiting."""
    from lti_tool.ops.erasure import report

    with _database(_settings()) as session:
        data = report(session, erasure_id)
    if data is None:
        raise CliError(f"no erasure {erasure_id}", EXIT_USAGE)
    _emit(data, fmt, report_file)
