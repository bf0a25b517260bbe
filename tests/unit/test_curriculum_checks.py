"""Each rule of `content validate`, shown failing on a deliberately broken copy."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from lti_tool.cli import cli
from lti_tool.curriculum.checks import load_bank

WORDS = ("Check the guard before you start the press. " * 60).strip()  # 480 words


def _item(n: int, ka: str = "mod.work", answer: int | None = None) -> dict:
    answer = n % 4 if answer is None else answer
    return {
        "id": f"TST-{n:03d}", "key_activity": ka, "topic": "Guards", "difficulty": 1 + n % 3,
        "cognitive": "apply", "kind": "knowledge", "industry40": None,
        "stem": f"Question number {n}: what keeps hands out of the point of operation?",
        "figure": None, "reference": "OSHA 29 CFR 1910.212",
        "options": [{"text": f"Choice {c} for {n}", "correct": c == answer,
                     "rationale": f"Because choice {c} is {'right' if c == answer else 'wrong'}."}
                    for c in range(4)],
    }


def _dataset() -> dict:
    blueprint = {
        "version": 1, "credential": "Test",
        "modules": [{"id": "mod", "title": "Module", "required": True, "summary": "s",
                     "exam": {"items": 10, "minutes": 20, "source": "test"},
                     "key_activities": [{"id": "mod.work", "title": "Work",
                                         "knowledge": ["guards"]}]}],
        "industry40": [{"id": "i4.ai", "title": "AI", "modules": ["mod"]}],
    }
    items = {"module": "mod", "items": [_item(n) for n in range(1, 9)]}
    lessons = {"module": "mod", "lessons": [{
        "id": "LES-mod-work", "key_activity": "mod.work", "title": "Work",
        "objectives": ["List guards", "Explain guards"], "body": WORDS, "example": "An example.",
        "key_terms": [{"term": t, "definition": "d"} for t in ("a", "b", "c")],
        "checks": ["TST-001", "TST-002", "TST-003"]}]}
    return {"blueprint": blueprint, "items": items, "lessons": lessons}


def _by_activity(entries: list[dict]) -> dict[str, list[dict]]:
    files: dict[str, list[dict]] = {}
    for entry in entries:
        files.setdefault(entry["key_activity"].replace(".", "/", 1), []).append(entry)
    return files


def _write(root: Path, data: dict) -> Path:
    """One file per key activity, as shipped: items/mod/work.yaml, lessons/mod/work.yaml."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "blueprint.yaml").write_text(yaml.safe_dump(data["blueprint"]))
    for kind in ("items", "lessons"):
        for name, entries in _by_activity(data[kind][kind]).items():
            path = root / kind / f"{name}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump({"module": data[kind]["module"], kind: entries}))
    return root


def test_valid_dataset_has_no_problems(tmp_path):
    bank = load_bank(_write(tmp_path, _dataset()))
    assert bank.problems == []
    assert len(bank.items) == 8 and len(bank.lessons) == 1


def _break(mutate):
    data = copy.deepcopy(_dataset())
    mutate(data)
    return data


CASES = {
    "duplicate id": (lambda d: d["items"]["items"][1].update(id="TST-001"), "duplicate id"),
    "missing rationale": (lambda d: d["items"]["items"][2]["options"][1].pop("rationale"),
                          "rationale"),
    "three options": (lambda d: d["items"]["items"][3]["options"].pop(), "exactly 4 options"),
    "two correct": (lambda d: [o.update(correct=True)
                               for o in d["items"]["items"][4]["options"][:2]],
                    "exactly one correct"),
    "no correct": (lambda d: [o.update(correct=False)
                              for o in d["items"]["items"][4]["options"]],
                   "exactly one correct"),
    "unknown key activity": (lambda d: d["items"]["items"][5].update(key_activity="mod.nope"),
                             "unknown key activity"),
    "duplicate stem": (lambda d: d["items"]["items"][6].update(
        stem=d["items"]["items"][0]["stem"].upper()), "duplicate stem"),
    "position bias": (lambda d: [i["options"][j].update(correct=(j == 0))
                                 for i in d["items"]["items"] for j in range(4)],
                      "answer position A holds"),
    "missing linked item": (lambda d: d["lessons"]["lessons"][0].update(
        checks=["TST-001", "TST-002", "TST-999"]), "TST-999 does not exist"),
    "raw html in lesson": (lambda d: d["lessons"]["lessons"][0].update(
        example="<script>alert(1)</script>"), "raw HTML"),
    "short lesson": (lambda d: d["lessons"]["lessons"][0].update(body="Too short."),
                     "words"),
    "unsafe svg": (lambda d: d["items"]["items"][7].update(kind="figure", figure={
        "kind": "svg", "alt": "a drawing of a guard",
        "content": '<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>'}),
                   "not allowed"),
    "too few items for a key activity": (lambda d: d["items"].update(
        items=d["items"]["items"][:3]), "every key activity needs 4"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_rule_reports_file_and_id(tmp_path, case):
    mutate, expected = CASES[case]
    root = _write(tmp_path, _break(mutate))
    result = CliRunner().invoke(cli, ["content", "validate", "--data-dir", str(root)])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stdout.splitlines() if expected in line]
    assert lines, result.output
    assert all(line.split(":", 1)[0] in {"items/mod/work.yaml", "items/mod/nope.yaml",
                                         "lessons/mod/work.yaml", "items", "lessons",
                                         "blueprint.yaml"} for line in lines)


def test_unknown_data_dir_is_bad_usage(tmp_path):
    result = CliRunner().invoke(cli, ["content", "validate", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "blueprint.yaml" in result.output
