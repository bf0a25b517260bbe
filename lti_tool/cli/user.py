"""``cpt-lti user``: privacy, erasing a learner's personal data."""

from __future__ import annotations

import click

from lti_tool.cli.common import CliError, _database, _settings


@click.group(short_help="Privacy: erase a learner's personal data.")
def user() -> None:
    """Learners as the tool stores them."""


@user.command("erase")
@click.option("--platform", "issuer", required=True, metavar="ISSUER",
              help="Issuer of the learner's platform.")
@click.option("--sub", required=True, help="The learner's LTI sub (user id in the LMS).")
@click.option("--client-id", default=None, help="When several platforms share the issuer.")
def user_erase(issuer: str, sub: str, client_id: str | None) -> None:
    """Remove a learner's personal data (name, e-mail, sub, enrolments, mastery, queued
    statements and grades); their attempts stay as anonymous class statistics."""
    from lti_tool.ops.privacy import EraseError, erase_user

    with _database(_settings()) as session:
        try:
            done = erase_user(session, issuer, sub, client_id)
        except EraseError as exc:
            raise CliError(str(exc.args[0])) from exc
    click.echo(f"erased: {done.attempts_kept_anonymously} attempts kept anonymously, "
               f"{done.outbox_rows_removed} outbox rows and {done.roster_rows_removed} "
               "roster rows removed")
