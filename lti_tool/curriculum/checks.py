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

from lti_tool.curriculum import cues, readability
from lti_tool.curriculum.coverage import content_words, missing_terms
from lti_tool.curriculum.figures import (
    FigureError,
    contrast_problems,
    sanitize_svg,
    scaling_problems,
)
from lti_tool.curriculum.render import END, EXAMPLE, anchor_matches
from lti_tool.curriculum.schema import Blueprint, Item, ItemFile, Lesson, LessonFile
from lti_tool.curriculum.weights import activity_weights, items_needed

DATA_DIR = Path(__file__).resolve().parent / "data"
MAX_POSITION_SHARE = 0.35
LESSON_WORDS = (400, 900)
CHECKS_PER_LESSON = 3
MIN_ITEMS_PER_ACTIVITY = 4
MIN_ITEMS_FOR_SHARES = 20  # module-wide shares (cues, median grade) need this many items
MIN_FIGURE_ALT = 40  # characters: a lesson figure's alt text teaches what it shows
MAX_FIGURE_CAPTION = 160  # characters: a caption names the figure; the alt text explains
MAX_FIGURE_BYTES = 6000  # hand-drawn and small: every lesson page carries its figures
# A reference names a source a teacher can look up: a regulation, a standard with its
# body, or a named publication; "Lean: takt time" is a topic label, not a reference.
_SOURCE = re.compile(
    r"\b(CFR|OSHA|NIOSH|NREL|EIA|ANSI|ASME|ASQ|ASTM|AIAG|ISO|IEC|NFPA|EPA|DOE|NIST|SAE|NEMA|FDA|DOT|"
    r"UL|ISA|AWS|SMRP|RIA|ISEA|GHS|ASSP|MSHA|NEC|EU|ICC|IATA|MIL-STD|Handbook|Guide|"
    r"Manual|Sourcebook|Publication|Report|Fact ?Sheet|Standard|Protocol|Toolkit|Directive|Act|"
    r"Dictionary|"
    # textbooks cited by their authors
    r"Rother|Shook|Ohno|Shingo|Goldratt|Deming|Juran|Ishikawa|Womack|Liker|Groover|"
    r"Montgomery|Kalpakjian|Mobley|Elkington)\b")


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


# libyaml's loader when PyYAML was built with it: the pure-Python one spends ~7 s on a
# bank of 1,300 items, and every `cpt-lti init` and test server start loads the bank.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(path: Path, problems: list[Problem], root: Path) -> object | None:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)  # noqa: S506
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
            home = "items/" + item.key_activity.replace(".", "/", 1) + ".yaml"
            if file != home:
                problems.append(Problem(file, item.id, f"belongs in {home} (one file per "
                                        f"key activity)"))
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
            home = "lessons/" + lesson.key_activity.replace(".", "/", 1) + ".yaml"
            if file != home:
                problems.append(Problem(file, lesson.id, f"belongs in {home} (one file per "
                                        f"key activity)"))
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
        if cues.lengths_differ_wildly(item):
            lengths = [len(o.text.strip()) for o in item.options]
            problems.append(Problem(file, item_id, f"option lengths differ wildly {lengths}: "
                                    f"the odd one out is a cue"))
        if not _SOURCE.search(item.reference):
            problems.append(Problem(file, item_id, f"reference {item.reference!r} names no "
                                    f"source (a regulation, standard or publication)"))
        stem_grade = readability.grade(item.stem)
        if stem_grade > readability.MAX_ITEM_GRADE:
            problems.append(Problem(file, item_id, f"stem reads at grade {stem_grade:.1f} "
                                    f"(> {readability.MAX_ITEM_GRADE:.0f}); split sentences"))
        if item.figure is not None and item.figure.kind == "svg":
            try:
                sanitize_svg(item.figure.content)
            except FigureError as exc:
                problems.append(Problem(file, item_id, f"figure: {exc}"))
    per_activity = Counter(item.key_activity for _, item in bank.items.values())
    lessons_per_activity = Counter(lesson.key_activity for _, lesson in bank.lessons.values())
    problems += _depth_problems(bank, per_activity)
    problems += _same_question_problems(bank)
    problems += _module_share_problems(bank)
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
        lesson_grade = readability.grade(lesson.body + "\n\n" + lesson.example)
        low, high = readability.GRADE_RANGE
        if not low <= lesson_grade <= high:
            problems.append(Problem(file, lesson_id, f"reads at grade {lesson_grade:.1f}; "
                                    f"lessons need {low:.0f}-{high:.0f}"))
        for check in lesson.checks:
            if check not in bank.items:
                problems.append(Problem(file, lesson_id, f"check item {check} does not exist"))
            elif bank.items[check][1].key_activity != lesson.key_activity:
                problems.append(Problem(file, lesson_id,
                                        f"check item {check} is for another key activity"))
            elif missing := missing_terms(bank.items[check][1], lesson):
                problems.append(Problem(file, lesson_id, f"does not teach what check {check} "
                                        f"tests (never uses: {', '.join(missing)})"))
        if re.search(r"<\s*[a-zA-Z/!]", lesson.body + lesson.example):
            problems.append(Problem(file, lesson_id, "raw HTML is not allowed in lesson text"))
        problems += [Problem(file, lesson_id, message) for message in _figure_problems(lesson)]
    return problems


def _figure_problems(lesson: Lesson) -> list[str]:
    """A lesson figure must be safe, scale down to a phone, teach in words as well as in
    lines (alt text), say what it is (caption) and have a place in the lesson."""
    problems = []
    for number, figure in enumerate(lesson.figures, 1):
        name = f"figure {number}"
        try:
            problems += [f"{name}: {p}" for p in scaling_problems(figure.content)]
            problems += [f"{name}: {p}" for p in contrast_problems(figure.content)]
        except FigureError as exc:
            problems.append(f"{name}: {exc}")
        size = len(figure.content.encode())
        if size > MAX_FIGURE_BYTES:
            problems.append(f"{name}: the SVG has {size} bytes; keep it under "
                            f"{MAX_FIGURE_BYTES}")
        alt = figure.alt.strip()
        if len(alt) < MIN_FIGURE_ALT:
            problems.append(f"{name}: alt text has {len(alt)} characters; needs at least "
                            f"{MIN_FIGURE_ALT} that teach what the drawing shows")
        caption = figure.caption.strip()
        if not caption:
            problems.append(f"{name}: needs a caption")
        elif len(caption) > MAX_FIGURE_CAPTION:
            problems.append(f"{name}: caption has {len(caption)} characters; keep it under "
                            f"{MAX_FIGURE_CAPTION} (the alt text explains)")
        if figure.after not in (END, EXAMPLE):
            found = (len(anchor_matches(lesson.body, figure.after))
                     + len(anchor_matches(lesson.example, figure.after)))
            if found == 0:
                problems.append(f"{name}: after {figure.after!r} is not a heading or the "
                                f"start of a paragraph in the lesson (or end / example)")
            elif found > 1:
                problems.append(f"{name}: after {figure.after!r} matches {found} places; "
                                f"use more words")
    return problems


SAME_QUESTION = 0.6  # share of stem words two items with the same answer may have in common


def _same_question_problems(bank: Bank) -> list[Problem]:
    """The same question asked twice (in two modules, or reworded a little): the same
    correct answer and mostly the same stem words. A student meets it twice and the bank
    is one item shallower than it looks."""
    by_answer: dict[str, list[tuple[str, set[str]]]] = defaultdict(list)
    for item_id, (_, item) in sorted(bank.items.items()):
        by_answer[_norm(item.options[item.answer_index].text)].append(
            (item_id, content_words(item.stem)))
    problems = []
    for answer, group in by_answer.items():
        for i, (first, words_a) in enumerate(group):
            for second, words_b in group[i + 1:]:
                if len(words_a & words_b) >= SAME_QUESTION * max(1, len(words_a | words_b)):
                    problems.append(Problem(bank.items[second][0], second,
                                            f"asks the same question as {first}"))
                elif _NUMBER.search(answer) and len(
                        _numbers(bank.items[first][1]) & _numbers(bank.items[second][1])) >= 2:
                    problems.append(Problem(bank.items[second][0], second,
                                            f"repeats the calculation of {first} (same numbers, "
                                            f"same answer)"))
    return problems


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def _numbers(item: Item) -> set[str]:
    """The givens of a calculation (found in a review: two writers set the same kanban sum
    with the same numbers in different words, which the word-overlap rule cannot see)."""
    text = item.stem + " " + (item.figure.content if item.figure and item.figure.content else "")
    return {n.replace(",", "") for n in _NUMBER.findall(text)} - {"0", "1"}


def _depth_problems(bank: Bank, per_activity: Counter[str]) -> list[Problem]:
    """Enough items for parallel mock forms: per module, per key activity (by its exam
    weight) and per Industry 4.0 technology, as the blueprint's ``bank`` asks."""
    assert bank.blueprint is not None
    targets = bank.blueprint.bank
    problems = []
    per_module = Counter(item.module for _, item in bank.items.values())
    for module in bank.blueprint.modules:
        need = (targets.items_per_required_module if module.required
                else targets.items_per_optional_module)
        if per_module[module.id] < need:
            problems.append(Problem("items", module.id, f"holds {per_module[module.id]} "
                                    f"items; needs at least {need}"))
        published = sum(ka.weight or 0.0 for ka in module.key_activities)
        if published > 100:
            problems.append(Problem("blueprint.yaml", module.id, f"published weights add up "
                                    f"to {published:g}% (> 100%)"))
        for area in {ka.area for ka in module.key_activities if ka.area}:
            parts = [ka for ka in module.key_activities if ka.area == area]
            if 0 < sum(ka.weight is not None for ka in parts) < len(parts):
                problems.append(Problem("blueprint.yaml", f"{module.id} area {area}",
                                        "give a weight to every part of the area or none"))
        if module.exam.pass_percent is None:
            problems.append(Problem("blueprint.yaml", module.id, "has no pass mark "
                                    "(exam.pass_percent, with pass_note if not published)"))
        for ka_id, weight in activity_weights(module).items():
            need = items_needed(module, weight, targets)
            if per_activity[ka_id] < need:
                problems.append(Problem("items", ka_id, f"holds {per_activity[ka_id]} items; "
                                        f"its {weight:.1%} of the exam needs {need}"))
    per_tech = Counter(item.industry40 for _, item in bank.items.values() if item.industry40)
    for tech in bank.blueprint.industry40:
        if per_tech[tech.id] < targets.items_per_technology:
            problems.append(Problem("items", tech.id, f"holds {per_tech[tech.id]} items; "
                                    f"needs at least {targets.items_per_technology}"))
    return problems


def _module_share_problems(bank: Bank) -> list[Problem]:
    """Module-wide rules: the key is not picked out by being (or never being) the longest
    option, and the items read at the exam's level on the whole."""
    by_module: dict[str, list[Item]] = defaultdict(list)
    for _, item in bank.items.values():
        by_module[item.module].append(item)
    problems = []
    for module, items in sorted(by_module.items()):
        if len(items) < MIN_ITEMS_FOR_SHARES:
            continue
        longest = sum(cues.key_is_longest(i) for i in items) / len(items)
        low, high = cues.LONGEST_SHARE
        if not low <= longest <= high:
            problems.append(Problem("items", module, f"the key is the strictly longest "
                                    f"option in {longest:.0%} of items (allowed "
                                    f"{low:.0%}-{high:.0%})"))
        median = readability.median(readability.grade(i.stem) for i in items)
        g_low, g_high = readability.GRADE_RANGE
        if not g_low <= median <= g_high:
            problems.append(Problem("items", module, f"stems read at a median grade of "
                                    f"{median:.1f} (needs {g_low:.0f}-{g_high:.0f})"))
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
