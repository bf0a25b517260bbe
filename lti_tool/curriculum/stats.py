"""Coverage of the bank: what a program chair checks before trusting it."""

from __future__ import annotations

from collections import Counter
from typing import Any

from lti_tool.curriculum import cues, readability
from lti_tool.curriculum.checks import Bank
from lti_tool.curriculum.weights import activity_weights, items_needed


def bank_stats(bank: Bank) -> dict[str, Any]:
    assert bank.blueprint is not None
    items = [item for _, item in bank.items.values()]
    lessons = [lesson for _, lesson in bank.lessons.values()]
    modules: dict[str, Any] = {}
    targets = bank.blueprint.bank
    for module in bank.blueprint.modules:
        mine = [i for i in items if i.module == module.id]
        weights = activity_weights(module)
        stem_grades = [readability.grade(i.stem) for i in mine]
        lesson_grades = [readability.grade(lesson.body + "\n\n" + lesson.example)
                         for lesson in lessons if lesson.key_activity.startswith(
                             module.id + ".")]
        modules[module.id] = {
            "title": module.title,
            "required": module.required,
            "items": len(mine),
            "lessons": sum(1 for lesson in lessons if lesson.key_activity.startswith(
                module.id + ".")),
            "key_activities": {ka.id: sum(1 for i in mine if i.key_activity == ka.id)
                               for ka in module.key_activities},
            "weights": {ka_id: round(w, 4) for ka_id, w in weights.items()},
            "weight_basis": {ka.id: "published" if ka.weight is not None else "rule"
                             for ka in module.key_activities},
            "needed": {ka_id: items_needed(module, w, targets)
                       for ka_id, w in weights.items()},
            "key_longest": round(sum(cues.key_is_longest(i) for i in mine)
                                 / max(1, len(mine)), 3),
            "length_cues": sum(cues.lengths_differ_wildly(i) for i in mine),
            "stem_grade_median": round(readability.median(stem_grades), 1),
            "stem_grades": readability.distribution(stem_grades),
            "lesson_grade_median": round(readability.median(lesson_grades), 1),
            "lesson_grades": readability.distribution(lesson_grades),
            "difficulty": dict(sorted(Counter(str(i.difficulty) for i in mine).items())),
            "cognitive": dict(sorted(Counter(i.cognitive for i in mine).items())),
            "kind": dict(sorted(Counter(i.kind for i in mine).items())),
            "answer_position": dict(sorted(Counter("ABCD"[i.answer_index]
                                                   for i in mine).items())),
        }
    return {
        "items": len(items),
        "lessons": len(lessons),
        "problems": len(bank.problems),
        "modules": modules,
        "industry40": {t.id: sum(1 for i in items if i.industry40 == t.id)
                       for t in bank.blueprint.industry40},
    }


def stats_text(stats: dict[str, Any]) -> str:
    lines = [f"{stats['items']} items, {stats['lessons']} lessons, "
             f"{stats['problems']} problems"]
    for module_id, m in stats["modules"].items():
        lines.append(f"\n{m['title']} ({module_id}): {m['items']} items, "
                     f"{m['lessons']} lessons")
        lines.append(f"  {'key activity':<34} {'items':>5} {'needs':>5} {'weight':>7}")
        for ka, count in m["key_activities"].items():
            basis = "" if m["weight_basis"][ka] == "published" else " (rule)"
            lines.append(f"  {ka:<34} {count:>5} {m['needed'][ka]:>5} "
                         f"{m['weights'][ka]:>7.1%}{basis}")
        lines.append(f"  key is the strictly longest option: {m['key_longest']:.0%} of items; "
                     f"items with a length cue: {m['length_cues']}")
        lines.append(f"  reading grade: stems median {m['stem_grade_median']} ("
                     + ", ".join(f"{k} {v}" for k, v in m["stem_grades"].items())
                     + f"); lessons median {m['lesson_grade_median']} ("
                     + ", ".join(f"{k} {v}" for k, v in m["lesson_grades"].items()) + ")")
        if "mock_forms" in m:
            forms = m["mock_forms"]
            lines.append(f"  three mock exams in a row ({forms['size']} items): consecutive "
                         f"forms share {', '.join(map(str, forms['overlaps']))} items; "
                         f"{forms['fresh_forms']} forms before any item repeats")
        for facet in ("difficulty", "cognitive", "kind", "answer_position"):
            lines.append(f"  {facet}: " + ", ".join(f"{k} {v}" for k, v in m[facet].items()))
    lines.append("\nIndustry 4.0: " + ", ".join(f"{k} {v}"
                                                for k, v in stats["industry40"].items()))
    return "\n".join(lines)
