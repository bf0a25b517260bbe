"""Editor's tool: give every lesson with ``checks: []`` three items of its key activity.

``python -m lti_tool.curriculum.link_checks`` rewrites only the ``checks: []`` lines of the
lesson files, so the hand-written Markdown and YAML layout stay as they are. It picks the
easiest items first (a check for understanding, not a test), one per topic where possible.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from lti_tool.curriculum.checks import DATA_DIR, load_bank


def pick_checks(candidates: list, count: int = 3) -> list[str]:
    ordered = sorted(candidates, key=lambda i: (i.industry40 is not None, i.difficulty, i.id))
    chosen, topics = [], set()
    for item in ordered:  # first pass: a different topic each
        if item.topic not in topics:
            chosen.append(item)
            topics.add(item.topic)
        if len(chosen) == count:
            break
    for item in ordered:
        if len(chosen) == count:
            break
        if item not in chosen:
            chosen.append(item)
    return [i.id for i in chosen]


def link(root: Path = DATA_DIR) -> int:
    bank = load_bank(root)
    items = [item for _, item in bank.items.values()]
    changed = 0
    for path in sorted((root / "lessons").glob("*/*.yaml")):
        text = path.read_text(encoding="utf-8")
        lessons = yaml.safe_load(text)["lessons"]
        pieces = re.split(r"(?m)^([ \t]*)checks: \[\][ \t]*$", text)
        # re.split with one group: [before, indent, after, indent, after, ...]
        empty = [lesson for lesson in lessons if not lesson.get("checks")]
        if len(pieces) == 1:
            continue
        if (len(pieces) - 1) // 2 != len(empty):
            raise SystemExit(f"{path}: cannot match 'checks: []' lines to lessons")
        out = [pieces[0]]
        for index, lesson in enumerate(empty):
            ids = pick_checks([i for i in items if i.key_activity == lesson["key_activity"]])
            out.append(f"{pieces[1 + 2 * index]}checks: [{', '.join(ids)}]")
            out.append(pieces[2 + 2 * index])
            changed += 1
        path.write_text("".join(out), encoding="utf-8")
    return changed


if __name__ == "__main__":
    print(f"linked {link(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA_DIR)} lessons")
