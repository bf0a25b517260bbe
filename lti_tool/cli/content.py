"""``cpt-lti content``: check, count and export the CPT 4.0 curriculum."""

from __future__ import annotations

from pathlib import Path

import click

from lti_tool.cli.common import EXIT_FAILED, EXIT_USAGE, CliError, _echo_json
from lti_tool.curriculum.checks import DATA_DIR, Bank, load_bank
from lti_tool.curriculum.export import to_gift, to_qti_zip
from lti_tool.curriculum.stats import bank_stats, stats_text
from lti_tool.curriculum.weights import activity_weights
from lti_tool.practice.forms import simulate_forms
from lti_tool.practice.selection import ItemRef


@click.group(short_help="Check, count and export the CPT 4.0 curriculum.")
def content() -> None:
    """The curriculum data shipped in lti_tool/curriculum/data (blueprint, items, lessons)."""


_DATA_DIR_OPTION = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Curriculum directory to use instead of the shipped one (for editors' copies).")


def _bank(data_dir: Path | None) -> Bank:
    if data_dir is not None and not (data_dir / "blueprint.yaml").is_file():
        raise CliError(f"{data_dir} has no blueprint.yaml", EXIT_USAGE)
    return load_bank(data_dir or DATA_DIR)


@content.command("validate")
@_DATA_DIR_OPTION
def content_validate(data_dir: Path | None) -> None:
    """Run every check; print one line per problem (file: id: message); exit 1 on any."""
    bank = _bank(data_dir)
    for problem in bank.problems:
        click.echo(str(problem))
    summary = (f"{len(bank.items)} items, {len(bank.lessons)} lessons, "
               f"{len(bank.problems)} problems")
    click.echo(summary, err=True)
    if bank.problems:
        raise SystemExit(EXIT_FAILED)


@content.command("stats")
@_DATA_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def content_stats(data_dir: Path | None, as_json: bool) -> None:
    """Items per module and key activity (with exam weights), answer cues, reading levels
    and the overlap of a student's consecutive mock exams."""
    bank = _bank(data_dir)
    stats = bank_stats(bank)
    assert bank.blueprint is not None
    for module in bank.blueprint.modules:
        refs = [ItemRef(item.id, item.key_activity, item.difficulty)
                for _, item in sorted(bank.items.values(), key=lambda pair: pair[1].id)
                if item.module == module.id]
        report = simulate_forms(refs, [ka.id for ka in module.key_activities],
                                activity_weights(module), module.exam.items)
        stats["modules"][module.id]["mock_forms"] = {
            "size": module.exam.items, "overlaps": report.overlaps,
            "fresh_forms": report.fresh_forms}
    if as_json:
        _echo_json(stats)
    else:
        click.echo(stats_text(stats))


@content.command("export")
@_DATA_DIR_OPTION
@click.option("--format", "fmt", type=click.Choice(["qti", "gift"]), required=True,
              help="qti: IMS QTI 2.1 package (zip); gift: Moodle GIFT text.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write; GIFT goes to standard output without it.")
def content_export(data_dir: Path | None, fmt: str, output: Path | None) -> None:
    """Export the item bank for an LMS's own quiz engine."""
    bank = _bank(data_dir)
    if bank.problems:
        raise CliError(f"the curriculum has {len(bank.problems)} problems; "
                       f"run `cpt-lti content validate`")
    if fmt == "qti":
        if output is None:
            raise CliError("--output is required for the QTI zip", EXIT_USAGE)
        output.write_bytes(to_qti_zip(bank))
        click.echo(f"wrote {output} ({len(bank.items)} items)", err=True)
        return
    text = to_gift(bank)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output} ({len(bank.items)} items)", err=True)
