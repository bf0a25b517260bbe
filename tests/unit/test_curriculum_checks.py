"""Each rule of `content validate`, shown failing on a deliberately broken copy."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from lti_tool.cli import cli
from lti_tool.curriculum.checks import load_bank

# 768 words at about grade 7, using the words the check items rest on ("guard", "choice")
WORDS = ("A fixed machine guard is usually the best choice, because it keeps hands and loose "
         "sleeves away from the point of operation. Operators check every guard before "
         "starting the press each shift. " * 24).strip()


# A lesson figure that passes every check; each broken copy below breaks one rule.
FIGURE = {
    "kind": "svg", "after": "A fixed machine guard", "caption": "A fixed guard over a press.",
    "alt": "A press with a fixed guard in front of the point of operation, so hands cannot "
           "reach the dies.",
    "content": '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 60" width="240">'
               '<rect x="10" y="10" width="100" height="40" fill="#ffffff" stroke="#1b1f24"/>'
               '</svg>'}


def _item(n: int, ka: str = "mod.work", answer: int | None = None) -> dict:
    answer = n % 4 if answer is None else answer
    return {
        "id": f"TST-{n:03d}", "key_activity": ka, "topic": "Guards", "difficulty": 1 + n % 3,
        "cognitive": "apply", "kind": "knowledge", "industry40": None,
        "stem": f"Question number {n}: what keeps hands out of the point of operation?",
        "figure": None, "reference": "OSHA 29 CFR 1910.212",
        # one-letter words keep options apart without adding words a lesson must teach
        "options": [{"text": f"Guard choice {'wxyz'[c]} {chr(ord('a') + n % 26)}",
                     "correct": c == answer,
                     "rationale": f"Because choice {'wxyz'[c]} is "
                                  f"{'right' if c == answer else 'wrong'}."}
                    for c in range(4)],
    }


def _dataset() -> dict:
    blueprint = {
        "version": 1, "credential": "Test",
        "modules": [{"id": "mod", "title": "Module", "required": True, "summary": "s",
                     "exam": {"items": 10, "minutes": 20, "source": "test",
                              "pass_percent": 70},
                     "key_activities": [{"id": "mod.work", "title": "Work",
                                         "knowledge": ["guards"]}]}],
        "industry40": [{"id": "i4.ai", "title": "AI", "modules": ["mod"]}],
    }
    items = {"module": "mod", "items": [_item(n) for n in range(1, 9)]}
    lessons = {"module": "mod", "lessons": [{
        "id": "LES-mod-work", "key_activity": "mod.work", "title": "Work",
        "objectives": ["List guards", "Explain guards"], "body": WORDS, "example": "An example.",
        "key_terms": [{"term": t, "definition": "d"} for t in ("a", "b", "c")],
        "checks": ["TST-001", "TST-002", "TST-003"], "figures": [dict(FIGURE)]}]}
    return {"blueprint": blueprint, "items": items, "lessons": lessons}


def _by_activity(entries: list[dict], home: str | None = None) -> dict[str, list[dict]]:
    files: dict[str, list[dict]] = {}
    for entry in entries:
        files.setdefault(home or entry["key_activity"].replace(".", "/", 1), []).append(entry)
    return files


def _write(root: Path, data: dict, home: str | None = None) -> Path:
    """One file per key activity, as shipped: items/mod/work.yaml, lessons/mod/work.yaml
    (or every item in ``home``)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "blueprint.yaml").write_text(yaml.safe_dump(data["blueprint"]))
    for kind in ("items", "lessons"):
        for name, entries in _by_activity(data[kind][kind],
                                          home if kind == "items" else None).items():
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
    "one option far longer than the rest": (lambda d: d["items"]["items"][0]["options"][1]
                                            .update(text="Guard choice x, which is the one "
                                                    "that is explained at great length"),
                                            "option lengths differ wildly"),
    "topic label as reference": (lambda d: d["items"]["items"][1].update(
        reference="Lean: takt time"), "names no source"),
    "stem too hard to read": (lambda d: d["items"]["items"][2].update(
        stem="Considering institutional occupational responsibilities, which organizational "
             "characteristic substantially determines administrative accountability?"),
                              "split sentences"),
    "lesson in baby talk": (lambda d: d["lessons"]["lessons"][0].update(
        body=("Check the guard. It is the best choice. Do it now. " * 45).strip()),
                            "lessons need 6-10"),
    "lesson that does not teach its checks": (lambda d: d["lessons"]["lessons"][0].update(
        body=WORDS.replace("guard", "cover").replace("choice", "option")),
                                              "does not teach what check TST-001 tests"),
    "the same question twice": (lambda d: d["items"]["items"][3].update(
        stem=d["items"]["items"][0]["stem"].replace("number 1", "number 4"),
        options=d["items"]["items"][0]["options"]), "TST-004: asks the same question as TST-001"),
    "the same calculation in other words": (lambda d: [
        [o.update(text=f"{n} cards") for o, n in zip(d["items"]["items"][0]["options"],
                                                      (20, 21, 22, 23), strict=True)],
        d["items"]["items"][0].update(stem="A cell uses 400 parts a day, and one container "
                                           "holds 20 parts. How many cards does it need?"),
        d["items"]["items"][3].update(stem="Each bin carries 20 housings while assembly "
                                           "consumes 400 housings daily. Which kanban count "
                                           "fits?", options=d["items"]["items"][0]["options"])],
        "TST-004: repeats the calculation of TST-001"),
    "module without a pass mark": (lambda d: d["blueprint"]["modules"][0]["exam"].pop(
        "pass_percent"), "has no pass mark"),
    "published weights over 100%": (lambda d: d["blueprint"]["modules"][0]["key_activities"]
                                    .extend([{"id": "mod.more", "title": "More",
                                              "knowledge": ["x"], "weight": 60},
                                             {"id": "mod.most", "title": "Most",
                                              "knowledge": ["x"], "weight": 50}]),
                                    "published weights add up to 110%"),
    "module below the bank target": (lambda d: d["blueprint"].update(
        bank={"items_per_required_module": 50}), "holds 8 items; needs at least 50"),
    "key activity below its weighted need": (lambda d: d["blueprint"].update(
        bank={"items_per_key_activity": 5, "parallel_forms": 2}),
                                             "its 100.0% of the exam needs 20"),
    "technology below the bank target": (lambda d: d["blueprint"].update(
        bank={"items_per_technology": 1}), "i4.ai: holds 0 items"),
    # lesson figures
    "unsafe lesson figure": (lambda d: _figure(d).update(
        content='<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 9 9">'
                '<script>x()</script></svg>'), "figure 1: element <script> is not allowed"),
    "lesson figure that is not SVG": (lambda d: _figure(d).update(content="a drawing"),
                                      "figure 1: not well-formed SVG"),
    "lesson figure without a viewBox": (lambda d: _figure(d).update(
        content=FIGURE["content"].replace(' viewBox="0 0 120 60"', "")),
                                        "figure 1: the <svg> needs a viewBox"),
    "lesson figure wider than a phone": (lambda d: _figure(d).update(
        content=FIGURE["content"].replace('width="240"', 'width="800px"')),
                                         "figure 1: width 800px is wider than 360 px"),
    "lesson figure sized in percent": (lambda d: _figure(d).update(
        content=FIGURE["content"].replace('width="240"', 'width="100%"')),
                                       "figure 1: width '100%' must be a number of pixels"),
    "lesson figure too big": (lambda d: _figure(d).update(
        content=FIGURE["content"].replace("</svg>", "<g/>" * 1600 + "</svg>")),
                              "figure 1: the SVG has"),
    "lesson figure with a one-word alt": (lambda d: _figure(d).update(alt="A press."),
                                          "figure 1: alt text has 8 characters"),
    "lesson figure without a caption": (lambda d: _figure(d).pop("caption"),
                                        "figure 1: needs a caption"),
    "lesson figure with an essay for a caption": (lambda d: _figure(d).update(
        caption="A fixed guard. " * 12), "figure 1: caption has"),
    "lesson figure with pale text": (lambda d: _figure(d).update(
        content=FIGURE["content"].replace("</svg>", '<g fill="#999999"><text x="5" y="9">'
                                                    "UCL</text></g></svg>")),
                                     "figure 1: text colour #999999 has contrast 2.8:1"),
    "lesson figure with faint lines": (lambda d: _figure(d).update(
        content=FIGURE["content"].replace("#1b1f24", "#cccccc")),
                                       "figure 1: line colour #cccccc on <rect> has contrast"),
    "lesson figure with an uncheckable colour": (lambda d: _figure(d).update(
        content=FIGURE["content"].replace("#1b1f24", "teal")),
                                                 "figure 1: line colour 'teal': use #rrggbb"),
    "lesson figure anchored nowhere": (lambda d: _figure(d).update(after="A light curtain"),
                                       "figure 1: after 'A light curtain' is not a heading"),
    "lesson figure anchored in two places": (lambda d: _figure(d).update(after="A"),
                                             "figure 1: after 'A' matches 2 places"),
}


def _figure(data: dict) -> dict:
    return data["lessons"]["lessons"][0]["figures"][0]


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


def test_an_item_lives_in_its_key_activity_file(tmp_path):
    bank = load_bank(_write(tmp_path, _dataset(), home="mod/elsewhere"))
    assert {p.message for p in bank.problems} == {
        "belongs in items/mod/work.yaml (one file per key activity)"}
    assert {p.file for p in bank.problems} == {"items/mod/elsewhere.yaml"}


ADULT_STEM = ("An operator on the second shift notices that the interlocked guard on the "
              "stamping press rattles loosely. Which protection keeps hands away from the "
              "point of operation?")


def _bigger(answer_longest: bool, stem: str = ADULT_STEM) -> dict:
    """24 items: enough for the module-wide shares (cue rate, median reading grade)."""
    data = _dataset()
    data["items"]["items"] = [_item(n) for n in range(1, 25)]
    for index, item in enumerate(data["items"]["items"]):
        key = item["options"][[o["correct"] for o in item["options"]].index(True)]
        if answer_longest or index % 4 == 0:  # a quarter by chance, or every time
            key["text"] += " now"
        item["stem"] = f"{stem} ({index})"
    return data


def test_the_key_may_not_be_picked_by_its_length(tmp_path):
    assert load_bank(_write(tmp_path / "fair", _bigger(False))).problems == []
    problems = [str(p) for p in load_bank(_write(tmp_path / "cued", _bigger(True))).problems]
    assert problems == ["items: mod: the key is the strictly longest option in 100% of items "
                        "(allowed 15%-35%)"]


def test_a_module_of_baby_talk_stems_is_refused(tmp_path):
    problems = [str(p) for p in load_bank(_write(tmp_path, _bigger(False, "Is it on?")))
                .problems]
    assert len(problems) == 1 and "stems read at a median grade of" in problems[0]
