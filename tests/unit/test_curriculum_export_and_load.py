"""GIFT and QTI exports parse back to the bank; loading into the DB is idempotent and keeps
item ids (and so students' history) across content updates."""

from __future__ import annotations

import re
import zipfile
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select
from test_curriculum_checks import _dataset, _item, _write

from lti_tool.cli import cli
from lti_tool.curriculum.checks import load_bank
from lti_tool.curriculum.export import to_gift, to_qti_zip
from lti_tool.curriculum.loader import ContentInvalidError, sync_curriculum
from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.models import ContentRelease, CurriculumItem, CurriculumLesson
from lti_tool.ops.migrate import upgrade_to_head

QTI = "{http://www.imsglobal.org/xsd/imsqti_v2p1}"
CLOCK = lambda: datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # noqa: E731


@pytest.fixture
def small_bank(tmp_path):
    data = _dataset()
    data["items"]["items"][0]["stem"] = "What does {a} = b # c : d ~ e mean?"
    data["items"]["items"][1].update(kind="table", figure={
        "kind": "table", "alt": "A table of two readings",
        "content": "| Reading | Value |\n|---|---|\n| 1 | 0.362 in |"})
    data["items"]["items"][2].update(kind="figure", figure={
        "kind": "svg", "alt": "A red circle sign",
        "content": '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
                   '<circle cx="5" cy="5" r="4" fill="red"/></svg>'})
    return _write(tmp_path / "data", data)


def _gift_questions(text: str) -> list[str]:
    return [block for block in text.split("\n\n") if block.startswith("::")]


def test_gift_has_categories_escapes_and_feedback(small_bank):
    bank = load_bank(small_bank)
    gift = to_gift(bank)
    assert "$CATEGORY: $course$/top/CPT 4.0 Practice/Module\n" in gift
    assert "$CATEGORY: $course$/top/CPT 4.0 Practice/Module/Work\n" in gift
    questions = _gift_questions(gift)
    assert len(questions) == len(bank.items)
    for block in questions:
        body = block[block.index("{\n") + 2:block.rindex("}")]
        answers = [line.strip() for line in body.splitlines() if line.strip()]
        assert len(answers) == 4
        assert sum(a.startswith("=") for a in answers) == 1
        assert all(re.search(r"(?<!\\)#", a) for a in answers)  # unescaped feedback mark
        assert "\n\n" not in block
    first = next(q for q in questions if q.startswith("::TST-001"))
    assert r"\{a\} \= b \# c \: d \~ e" in first
    assert "<table>" in next(q for q in questions if q.startswith("::TST-002"))


def test_qti_package_is_well_formed_with_one_correct_choice(small_bank):
    bank = load_bank(small_bank)
    archive = zipfile.ZipFile(__import__("io").BytesIO(to_qti_zip(bank)))
    manifest = ET.fromstring(archive.read("imsmanifest.xml"))
    resources = manifest.findall(".//{http://www.imsglobal.org/xsd/imscp_v1p1}resource")
    assert len(resources) == len(bank.items)
    for resource in resources:
        assert resource.get("type") == "imsqti_item_xmlv2p1"
        root = ET.fromstring(archive.read(resource.get("href")))
        item = bank.items[root.get("identifier")][1]
        correct = root.find(f"{QTI}responseDeclaration/{QTI}correctResponse/{QTI}value").text
        assert "ABCD".index(correct) == item.answer_index
        choices = root.findall(f".//{QTI}simpleChoice")
        assert [c.text for c in choices] == [o.text for o in item.options]
        assert len(root.findall(f"{QTI}modalFeedback")) == 4
        for f in resource.findall("{http://www.imsglobal.org/xsd/imscp_v1p1}file"):
            assert f.get("href") in archive.namelist()
    assert "figures/TST-003.svg" in archive.namelist()


def test_cli_export_gift_to_stdout_and_qti_needs_output(small_bank, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["content", "export", "--data-dir", str(small_bank),
                                 "--format", "gift"])
    assert result.exit_code == 0 and "$CATEGORY:" in result.stdout
    result = runner.invoke(cli, ["content", "export", "--data-dir", str(small_bank),
                                 "--format", "qti"])
    assert result.exit_code == 2 and "--output" in result.output
    out = tmp_path / "bank.zip"
    result = runner.invoke(cli, ["content", "export", "--data-dir", str(small_bank),
                                 "--format", "qti", "--output", str(out)])
    assert result.exit_code == 0 and zipfile.is_zipfile(out)
    result = runner.invoke(cli, ["content", "export", "--data-dir", str(small_bank),
                                 "--format", "pdf"])
    assert result.exit_code == 2


def test_load_is_idempotent_and_upgrades_in_place(small_bank, tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    upgrade_to_head(url)
    sessions = make_session_factory(make_engine(url))
    with transaction(sessions) as db:
        first = sync_curriculum(db, load_bank(small_bank), CLOCK)
    assert (first.added, first.updated, first.retired, first.unchanged) == (9, 0, 0, False)
    with transaction(sessions) as db:
        assert sync_curriculum(db, load_bank(small_bank), CLOCK).unchanged
        assert len(list(db.scalars(select(ContentRelease)))) == 1
    # An editor rewords one item, drops another and adds a new one.
    items_file = small_bank / "items" / "mod" / "work.yaml"
    data = yaml.safe_load(items_file.read_text())
    data["items"][4]["stem"] = "A reworded question about guards and hands?"
    dropped = data["items"].pop(7)["id"]
    data["items"].append(_item(9, answer=0))
    items_file.write_text(yaml.safe_dump(data))
    with transaction(sessions) as db:
        report = sync_curriculum(db, load_bank(small_bank), CLOCK)
        assert (report.added, report.updated, report.retired) == (1, 1, 1)
        rows = {r.id: r for r in db.scalars(select(CurriculumItem))}
        assert rows["TST-005"].revision == 2 and "reworded" in rows["TST-005"].stem
        assert rows[dropped].retired and rows["TST-009"].revision == 1
        assert len(rows) == 9  # nothing deleted
        assert db.get(CurriculumLesson, "LES-mod-work").checks == ["TST-001", "TST-002",
                                                                  "TST-003"]


def test_invalid_bank_is_not_loaded(small_bank, tmp_path):
    items_file = small_bank / "items" / "mod" / "work.yaml"
    data = yaml.safe_load(items_file.read_text())
    data["items"][0]["options"].pop()
    items_file.write_text(yaml.safe_dump(data))
    url = f"sqlite:///{tmp_path / 'c.db'}"
    upgrade_to_head(url)
    with transaction(make_session_factory(make_engine(url))) as db, \
            pytest.raises(ContentInvalidError):
        sync_curriculum(db, load_bank(small_bank), CLOCK)


def test_shipped_bank_gift_reads_back_with_an_independent_parser(tmp_path):
    """pygiftparser (not ours) reads every exported item as a valid single-answer choice
    question with four answers, one at 100%, each with feedback."""
    from pygiftparser import parser

    from lti_tool.curriculum.checks import load_bank as load_shipped

    bank = load_shipped()
    out = tmp_path / "bank.gift"
    out.write_text(to_gift(bank), encoding="utf-8")
    with out.open(encoding="utf-8") as handle:
        questions = parser.parseFile(handle)
    assert len(questions) == len(bank.items)
    titles = set()
    for q in questions:
        assert q.valid, q.source[:200]
        answers = q.answers.answers
        assert len(answers) == 4
        assert [a.fraction for a in answers].count(100) == 1
        assert all(a.feedback for a in answers)
        titles.add(q.title.split()[0])
    assert titles == set(bank.items)
