"""Coverage of the bank: what a program chair checks before trusting it."""

from __future__ import annotations

from collections import Counter
from typing import Any

from lti_tool.curriculum.checks import Bank


def bank_stats(bank: Bank) -> dict[str, Any]:
    assert bank.blueprint is not None
    items = [item for _, item in bank.items.values()]
    lessons = [lesson for _, lesson in bank.lessons.values()]
    modules: dict[str, Any] = {}
    for module in bank.blueprint.modules:
        mine = [i for i in items if i.module == module.id]
        modules[module.id] = {
            "title": module.title,
            "required": module.required,
            "items": len(mine),
            "lessons": sum(1 for lesson in lessons if lesson.key_activity.startswith(
                module.id + ".")),
            "key_activities": {ka.id: sum(1 for i in mine if i.key_activity == ka.id)
                               for ka in module.key_activities},
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
        for ka, count in m["key_activities"].items():
            lines.append(f"  {ka:<34} {count:>3}")
        for facet in ("difficulty", "cognitive", "kind", "answer_position"):
            lines.append(f"  {facet}: " + ", ".join(f"{k} {v}" for k, v in m[facet].items()))
    lines.append("\nIndustry 4.0: " + ", ".join(f"{k} {v}"
                                                for k, v in stats["industry40"].items()))
    return "\n".join(lines)
