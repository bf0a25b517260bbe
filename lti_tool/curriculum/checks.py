"""Whole-bank checks: every problem is one line naming the file and the item or lesson.

``python -m lti_tool.curriculum.checks [DATA_DIR]`` prints the problems and exits 1 if any;
``cpt-lti content validate`` runs the same checks.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from lti_tool.curriculum.figures import FigureError, sanitize_svg
from lti_tool.curriculum.schema import Blueprint, Item, ItemFile, Lesson, LessonFile

DATA_DIR = Path(__file__).resolve().parent / "data"
MAX_POSITION_SHARE = 0.35
LESSON_WORDS = (400, 900)
CHECKS_PER_LESSON = 3
MIN_ITEMS_PER_ACTIVITY = 4


@dataclass(frozen=True)
class Problem:
    file: str
    ref: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.ref}: {self.message}"


@dataclass
class Bank:
    blueprint: Blueprint | None
    items: dict[str, tuple[str, Item]]
    lessons: dict[str, tuple[str, Lesson]]
    problems: list[Problem]


def _words(text: str) -> int:
    return len(re.findall(r"[A-Za-z0-9][A-Za-z0-9'’.-]*", text))


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def _load_yaml(path: Path, problems: list[Problem], root: Path) -> object | None:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        problems.append(Problem(str(path.relative_to(root)), "-", f"unreadable YAML: {exc}"))
        return None


def _schema_problems(file: str, data: object, exc: ValidationError) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = err["loc"]
        ref = "-"
        if len(loc) >= 2 and isinstance(loc[1], int) and isinstance(data, dict):
            entries = data.get(loc[0]) or []
            if loc[1] < len(entries) and isinstance(entries[loc[1]], dict):
                ref = str(entries[loc[1]].get("id", f"#{loc[1] + 1}"))
        where = ".".join(str(p) for p in loc[2:]) or ".".join(str(p) for p in loc)
        out.append(Problem(file, ref, f"{where}: {err['msg']}"))
    return out


def load_bank(root: Path = DATA_DIR) -> Bank:
    problems: list[Problem] = []
    blueprint = None
    raw = _load_yaml(root / "blueprint.yaml", problems, root)
    if raw is not None:
        try:
            blueprint = Blueprint.model_validate(raw)
        except ValidationError as exc:
            problems += _schema_problems("blueprint.yaml", raw, exc)
    items: dict[str, tuple[str, Item]] = {}
    for path in sorted((root / "items").glob("*/*.yaml")):
        file = str(path.relative_to(root))
        data = _load_yaml(path, problems, root)
        if data is None:
            continue
        try:
            parsed = ItemFile.model_validate(data)
        except ValidationError as exc:
            problems += _schema_problems(file, data, exc)
            # keep the valid items of a partly broken file so other checks still run
            parsed = ItemFile(module=str(data.get("module", "?")) if isinstance(data, dict)
                              else "?", items=[])
            for entry in (data.get("items") or []) if isinstance(data, dict) else []:
                try:
                    parsed.items.append(Item.model_validate(entry))
                except ValidationError:
                    pass
        for item in parsed.items:
            if item.id in items:
                problems.append(Problem(file, item.id,
                                        f"duplicate id (also in {items[item.id][0]})"))
                continue
            items[item.id] = (file, item)
    lessons: dict[str, tuple[str, Lesson]] = {}
    for path in sorted((root / "lessons").glob("*/*.yaml")):
        file = str(path.relative_to(root))
        data = _load_yaml(path, problems, root)
        if data is None:
            continue
        try:
            lesson_file = LessonFile.model_validate(data)
        except ValidationError as exc:
            problems += _schema_problems(file, data, exc)
            continue
        for lesson in lesson_file.lessons:
            if lesson.id in lessons:
                problems.append(Problem(file, lesson.id, "duplicate lesson id"))
                continue
            lessons[lesson.id] = (file, lesson)
    bank = Bank(blueprint, items, lessons, problems)
    bank.problems += check_bank(bank)
    return bank


def check_bank(bank: Bank) -> list[Problem]:
    problems: list[Problem] = []
    if bank.blueprint is None:
        return problems
    activities = {ka.id for m in bank.blueprint.modules for ka in m.key_activities}
    technologies = {t.id for t in bank.blueprint.industry40}
    modules = {m.id for m in bank.blueprint.modules}
    for tech in bank.blueprint.industry40:
        for module in tech.modules:
            if module not in modules:
                problems.append(Problem("blueprint.yaml", tech.id, f"unknown module {module}"))
    stems: dict[str, str] = {}
    positions: dict[str, Counter[int]] = defaultdict(Counter)
    for item_id, (file, item) in bank.items.items():
        if item.key_activity not in activities:
            problems.append(Problem(file, item_id,
                                    f"unknown key activity {item.key_activity!r}"))
        if item.industry40 is not None and item.industry40 not in technologies:
            problems.append(Problem(file, item_id,
                                    f"unknown Industry 4.0 technology {item.industry40!r}"))
        key = _norm(item.stem)
        if key in stems:
            problems.append(Problem(file, item_id, f"duplicate stem (same as {stems[key]})"))
        else:
            stems[key] = item_id
        positions[item.module].update([item.answer_index])
        if item.figure is not None and item.figure.kind == "svg":
            try:
                sanitize_svg(item.figure.content)
            except FigureError as exc:
                problems.append(Problem(file, item_id, f"figure: {exc}"))
    per_activity = Counter(item.key_activity for _, item in bank.items.values())
    lessons_per_activity = Counter(lesson.key_activity for _, lesson in bank.lessons.values())
    for module in bank.blueprint.modules:
        for ka in module.key_activities:
            if per_activity[ka.id] < MIN_ITEMS_PER_ACTIVITY:
                problems.append(Problem("items", ka.id, f"only {per_activity[ka.id]} items; "
                                        f"every key activity needs {MIN_ITEMS_PER_ACTIVITY}"))
            if lessons_per_activity[ka.id] != 1:
                problems.append(Problem("lessons", ka.id, f"has {lessons_per_activity[ka.id]} "
                                        f"lessons; every key activity needs exactly one"))
    for module, counts in sorted(positions.items()):
        total = sum(counts.values())
        for index, count in sorted(counts.items()):
            if total >= 8 and count / total > MAX_POSITION_SHARE:
                problems.append(Problem(
                    "items", module, f"answer position {'ABCD'[index]} holds {count} of "
                    f"{total} correct answers ({count / total:.0%} > 35%)"))
    for lesson_id, (file, lesson) in bank.lessons.items():
        if lesson.key_activity not in activities:
            problems.append(Problem(file, lesson_id,
                                    f"unknown key activity {lesson.key_activity!r}"))
        words = _words(lesson.body) + _words(lesson.example)
        if not LESSON_WORDS[0] <= words <= LESSON_WORDS[1]:
            problems.append(Problem(file, lesson_id, f"teaching text has {words} words; "
                                    f"needs {LESSON_WORDS[0]}-{LESSON_WORDS[1]}"))
        if len(lesson.checks) != CHECKS_PER_LESSON:
            problems.append(Problem(file, lesson_id, f"needs {CHECKS_PER_LESSON} check items, "
                                    f"has {len(lesson.checks)}"))
        for check in lesson.checks:
            if check not in bank.items:
                problems.append(Problem(file, lesson_id, f"check item {check} does not exist"))
            elif bank.items[check][1].key_activity != lesson.key_activity:
                problems.append(Problem(file, lesson_id,
                                        f"check item {check} is for another key activity"))
        if re.search(r"<\s*[a-zA-Z/!]", lesson.body + lesson.example):
            problems.append(Problem(file, lesson_id, "raw HTML is not allowed in lesson text"))
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    bank = load_bank(Path(args[0]) if args else DATA_DIR)
    for problem in bank.problems:
        print(problem)
    print(f"{len(bank.items)} items, {len(bank.lessons)} lessons, "
          f"{len(bank.problems)} problems", file=sys.stderr)
    return 1 if bank.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
