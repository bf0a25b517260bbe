"""The attempt modes have one home (practice/modes.py), and the pass mark one source (the
curriculum tables): nothing guesses either."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import update
from test_practice_engine import _svc, world  # noqa: F401 - the fixture

from lti_tool.db import transaction
from lti_tool.models import AttemptMode, CurriculumModule
from lti_tool.practice import catalog, modes
from lti_tool.practice.errors import CurriculumError
from xapi import vocabulary

ROOT = Path(__file__).resolve().parents[2]


def test_every_mode_has_one_spec_and_a_published_xapi_value():
    assert set(modes.SPECS) == set(AttemptMode)
    assert all(spec.mode == mode for mode, spec in modes.SPECS.items())
    assert {m.value for m in AttemptMode} <= set(vocabulary.ATTEMPT_MODES)
    assert modes.GRADED_MODES == (AttemptMode.PRACTICE, AttemptMode.MOCK)
    assert modes.spec("practice").size(50) == 25 and modes.spec("mock").size(50) == 50
    assert modes.spec("practice").size(50, 40) == 40 and modes.spec("drill").size(50) is None
    assert [s.link_kind for s in modes.SPECS.values()] == ["lessons", "drill", "practice",
                                                           "mock"]


def test_topic_links_are_practice():
    """One lesson or one key activity can be placed for the ungraded modes only: a test is
    drawn across the module, and a topic link never grades (placement.py)."""
    assert [s.topic_link_kind for s in modes.SPECS.values()] == ["lesson", "drill", None,
                                                                 None]
    assert all(not s.graded for s in modes.SPECS.values() if s.topic_link_kind)
    assert modes.by_topic_link_kind("lesson") is modes.spec("lesson")
    assert modes.by_link_kind("lesson") is None and modes.by_topic_link_kind(None) is None


def test_names_and_unknown_values():
    assert [modes.label(m) for m in AttemptMode] == ["Lesson", "Drill", "Practice test",
                                                     "Mock exam"]
    assert modes.noun("mock") == "mock exam" and modes.noun("quiz") == "quiz"
    assert modes.label("quiz") == "quiz" and modes.by_link_kind(["x"]) is None
    with pytest.raises(ValueError):
        modes.spec("quiz")


def test_no_mode_branches_outside_the_spec():
    """Engine, grading, delivery and pages read the spec; none names a mode member."""
    offenders = []
    for path in [*(ROOT / "lti_tool").rglob("*.py")]:
        rel = path.relative_to(ROOT).as_posix()
        if rel in {"lti_tool/models.py", "lti_tool/practice/modes.py"} or \
                "/migrations/" in rel or "/sandbox/" in rel:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                    node.value.id == "AttemptMode":
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []


def test_xapi_imports_nothing_of_the_tool():
    for path in (ROOT / "xapi").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("lti_tool"), path
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("lti_tool") for a in node.names), path


def test_a_missing_pass_mark_is_an_error_not_a_guess(world):  # noqa: F811
    sessions, clock, (ana, _) = world
    with transaction(sessions) as db:
        db.execute(update(CurriculumModule).values(pass_percent=None))
    catalog._SNAPSHOTS.clear()  # the cached curriculum would keep the old marks for 30 s
    with transaction(sessions) as db:
        svc = _svc(db, clock)
        with pytest.raises(CurriculumError, match="cpt-lti init"):
            svc.start_facts(ana, "mock", "mod")
