"""``cpt-lti grades``: why a grade in the LMS gradebook is what it is."""

from __future__ import annotations

import click

from lti_tool.cli.common import EXIT_USAGE, CliError, _database, _echo_json, _settings


@click.group(short_help="Why a grade in the LMS is what it is.")
def grades() -> None:
    """Grades the tool sent to LMS gradebooks."""


@grades.command("explain")
@click.option("--platform", "issuer", required=True, metavar="ISSUER",
              help="Issuer of the learner's platform.")
@click.option("--sub", required=True, help="The learner's LTI sub (user id in the LMS).")
@click.option("--link", "link_id", required=True, metavar="ID",
              help="The LTI resource link id, as the LMS names it.")
@click.option("--client-id", default=None, help="When several platforms share the issuer.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def grades_explain(issuer: str, sub: str, link_id: str, client_id: str | None,
                   as_json: bool) -> None:
    """Every grade sent for one learner on one link: the policy, the attempts that
    counted and their scores, when it was queued, and every try with the LMS's answer."""
    from lti_tool.delivery import provenance

    with _database(_settings()) as session:
        try:
            lms, stories = provenance.explain(session, issuer, sub, link_id, client_id)
        except provenance.ExplainError as exc:
            raise CliError(str(exc.args[0]), EXIT_USAGE) from exc
        if as_json:
            _echo_json({"lms": lms, "grades": [provenance.as_json(s, lms) for s in stories]})
            return
        if not stories:
            click.echo("No grade has been sent for this learner on this link.")
        for number, story in enumerate(stories, 1):
            record = story.record
            click.echo(f"Grade {number} (queued {record.queued_at:%Y-%m-%d %H:%M} UTC): "
                       + provenance.headline(story, lms))
            click.echo(f"  {record.score_given:g} of {record.score_maximum:g} under the "
                       f"'{record.policy}' policy, from these attempts (oldest first):")
            for line in provenance.attempts_made(record):
                click.echo("    " + line)
            if not story.tries:
                click.echo("  no try yet")
            for n, attempt_try in enumerate(story.tries, 1):
                click.echo("  " + provenance.try_line(n, attempt_try))
            click.echo("")
