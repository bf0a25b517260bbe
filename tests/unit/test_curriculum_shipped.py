"""The curriculum we ship: every check passes, and it is big and readable enough."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import textstat

from lti_tool.curriculum.checks import load_bank
from lti_tool.curriculum.render import lesson_html, markdown_to_html
from lti_tool.curriculum.schema import BankTargets


@pytest.fixture(scope="module")
def bank():
    return load_bank()


def test_shipped_data_passes_every_check(bank):
    assert [str(p) for p in bank.problems] == []


def test_the_bank_targets_are_deep_enough_for_parallel_mock_forms(bank):
    """`content validate` enforces the blueprint's targets; these are the targets."""
    assert bank.blueprint is not None
    assert bank.blueprint.bank == BankTargets(
        items_per_required_module=260, items_per_optional_module=130,
        items_per_key_activity=20, items_per_technology=12, parallel_forms=2)
    per_module = Counter(item.module for _, item in bank.items.values())
    for module in bank.blueprint.modules:
        assert per_module[module.id] >= (260 if module.required else 130), module.id


def test_items_are_not_only_definitions(bank):
    for module in ("safety", "quality", "processes", "maintenance", "green"):
        mine = [i for _, i in bank.items.values() if i.module == module]
        kinds = Counter(i.kind for i in mine)
        assert kinds["scenario"] >= len(mine) // 5, (module, kinds)
        assert kinds["figure"] + kinds["table"] + kinds["calculation"] >= 5, (module, kinds)
        levels = Counter(i.cognitive for i in mine)
        assert levels["apply"] + levels["analyse"] > levels["recall"], (module, levels)


def test_every_key_activity_has_one_lesson_with_three_checks(bank):
    assert bank.blueprint is not None
    activities = {ka.id for m in bank.blueprint.modules for ka in m.key_activities}
    by_activity = {lesson.key_activity: lesson for _, lesson in bank.lessons.values()}
    assert set(by_activity) == activities
    for lesson in by_activity.values():
        assert len(lesson.checks) == 3


def _plain(markdown: str) -> str:
    return re.sub(r"<[^>]+>", " ", markdown_to_html(markdown))


def test_lessons_read_at_grade_ten_or_below(bank):
    grades = {lesson_id: textstat.flesch_kincaid_grade(
        _plain(lesson.body + "\n\n" + lesson.example))
              for lesson_id, (_, lesson) in bank.lessons.items()}
    too_hard = {k: g for k, g in grades.items() if g > 10}
    assert too_hard == {}


def test_lesson_markdown_renders_without_raw_html(bank):
    for _, lesson in bank.lessons.values():
        html = markdown_to_html(lesson.body + "\n\n" + lesson.example)
        assert "<script" not in html and "<img" not in html


def test_lessons_teach_with_figures_where_a_picture_helps(bank):
    """Issue 17: gauges, LOTO steps, control charts... drawn, named and placed."""
    with_figures = {lesson_id: lesson for lesson_id, (_, lesson) in bank.lessons.items()
                    if lesson.figures}
    assert len(with_figures) >= 8
    for lesson_id, lesson in with_figures.items():
        figures = [f.model_dump() for f in lesson.figures]
        html = "".join(lesson_html(lesson.body, lesson.example, figures))
        assert html.count('role="img"') == len(figures), lesson_id
        assert html.count("<figcaption>") == len(figures), lesson_id
        assert "<script" not in html and "<p>" + figures[0]["alt"] not in html, lesson_id
