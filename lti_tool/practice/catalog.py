"""An in-process read cache of the curriculum (item bank, modules, key activities,
lessons), per database engine.

Content changes only when ``cpt-lti init`` loads a new content release, yet every answer
needs an item's key and difficulty and every page its module's title. The cache holds
plain, read-only copies and is checked against the latest content release at most every
``REFRESH_SECONDS``, so a new release reaches every process within that time without a
restart, and the hot paths skip the curriculum queries altogether.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from lti_tool.models import (
    ContentRelease,
    CurriculumItem,
    CurriculumKeyActivity,
    CurriculumLesson,
    CurriculumModule,
)
from lti_tool.practice.selection import ItemRef

REFRESH_SECONDS = 30.0


@dataclass(frozen=True)
class CachedItem:
    id: str
    module_id: str
    key_activity_id: str
    difficulty: int
    revision: int
    retired: bool
    stem: str
    figure: dict[str, Any] | None
    options: list[dict[str, Any]]


@dataclass(frozen=True)
class CachedModule:
    id: str
    title: str
    required: bool
    summary: str
    exam_items: int
    exam_minutes: int
    exam_source: str
    position: int
    pass_percent: int | None


@dataclass(frozen=True)
class CachedKeyActivity:
    id: str
    module_id: str
    title: str
    knowledge: list[str]
    position: int
    retired: bool
    weight: float | None


@dataclass(frozen=True)
class CachedLesson:
    id: str
    module_id: str
    key_activity_id: str
    title: str
    objectives: list[str]
    body: str
    example: str
    key_terms: list[dict[str, str]]
    checks: list[str]
    revision: int
    retired: bool
    figures: list[dict[str, Any]] | None  # each {kind, content, alt, caption, after}


def _copy(kind: type, row: Any) -> Any:
    return kind(**{f.name: getattr(row, f.name) for f in fields(kind)})


@dataclass
class _Snapshot:
    release: tuple[int, Any] | None
    checked_at: float
    items: dict[str, CachedItem]
    refs: dict[tuple[str, str | None], list[ItemRef]] = field(default_factory=dict)
    outline: Outline | None = None


@dataclass(frozen=True)
class Outline:
    """Modules (in order, with their exam length) and each module's live key activities
    (in order, with titles): what every mastery and progress view walks through."""

    modules: list[tuple[str, int]]
    activities: dict[str, list[tuple[str, str]]]
    lessons: dict[str, list[str]] = field(default_factory=dict)  # live lesson ids by module
    # Every row, retired ones too: an attempt keeps pointing at its lesson after a release.
    module_rows: dict[str, CachedModule] = field(default_factory=dict)
    activity_rows: dict[str, CachedKeyActivity] = field(default_factory=dict)
    lesson_rows: dict[str, CachedLesson] = field(default_factory=dict)


_SNAPSHOTS: weakref.WeakKeyDictionary[Engine, _Snapshot] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _release(session: Session) -> tuple[int, Any] | None:
    row = session.execute(select(func.max(ContentRelease.id), func.max(
        ContentRelease.loaded_at))).one()
    return None if row[0] is None else (row[0], row[1])


def _load(session: Session) -> dict[str, CachedItem]:
    return {i.id: _copy(CachedItem, i) for i in session.scalars(select(CurriculumItem))}


def items(session: Session) -> dict[str, CachedItem]:
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    now = time.monotonic()
    snapshot = _SNAPSHOTS.get(engine)
    if snapshot is not None and now - snapshot.checked_at < REFRESH_SECONDS:
        return snapshot.items
    release = _release(session)
    with _LOCK:
        snapshot = _SNAPSHOTS.get(engine)
        if snapshot is None or snapshot.release != release:
            snapshot = _Snapshot(release, now, _load(session))
            _SNAPSHOTS[engine] = snapshot
        snapshot.checked_at = now
        return snapshot.items


def _snapshot(session: Session) -> _Snapshot:
    items(session)
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    return _SNAPSHOTS[engine]


def refs(session: Session, module_id: str, key_activity_id: str | None) -> list[ItemRef]:
    """The live items of a module (or one key activity), by id; kept with the snapshot
    because every drill question asks for them."""
    snapshot = _snapshot(session)
    key = (module_id, key_activity_id)
    found = snapshot.refs.get(key)
    if found is None:
        found = [ItemRef(i.id, i.key_activity_id, i.difficulty)
                 for i in sorted(snapshot.items.values(), key=lambda i: i.id)
                 if i.module_id == module_id and not i.retired
                 and (key_activity_id is None or i.key_activity_id == key_activity_id)]
        snapshot.refs[key] = found
    return list(found)


def outline(session: Session) -> Outline:
    """The curriculum's shape, kept with the snapshot (it changes only with a release)."""
    snapshot = _snapshot(session)
    if snapshot.outline is None:
        module_rows = {m.id: _copy(CachedModule, m) for m in session.scalars(
            select(CurriculumModule).order_by(CurriculumModule.position))}
        activity_rows = {ka.id: _copy(CachedKeyActivity, ka) for ka in session.scalars(
            select(CurriculumKeyActivity).order_by(CurriculumKeyActivity.module_id,
                                                   CurriculumKeyActivity.position))}
        lesson_rows = {lesson.id: _copy(CachedLesson, lesson) for lesson in session.scalars(
            select(CurriculumLesson).order_by(CurriculumLesson.id))}
        modules = [(m.id, m.exam_items) for m in module_rows.values()]
        activities: dict[str, list[tuple[str, str]]] = {m: [] for m, _ in modules}
        for ka in activity_rows.values():
            if not ka.retired:
                activities.setdefault(ka.module_id, []).append((ka.id, ka.title))
        lessons: dict[str, list[str]] = {m: [] for m, _ in modules}
        for lesson in lesson_rows.values():
            if not lesson.retired:
                lessons.setdefault(lesson.module_id, []).append(lesson.id)
        snapshot.outline = Outline(modules, activities, lessons, module_rows, activity_rows,
                                   lesson_rows)
    return snapshot.outline


def module(session: Session, module_id: str) -> CachedModule | None:
    return outline(session).module_rows.get(module_id)


def modules(session: Session) -> list[CachedModule]:
    """Every module, in blueprint order."""
    return list(outline(session).module_rows.values())


def live_activities(session: Session, module_id: str) -> list[CachedKeyActivity]:
    """A module's live key activities, in order."""
    shape = outline(session)
    return [shape.activity_rows[ka_id] for ka_id, _ in shape.activities.get(module_id, [])]


def lesson(session: Session, lesson_id: str) -> CachedLesson | None:
    return outline(session).lesson_rows.get(lesson_id)


def key_activity(session: Session, key_activity_id: str) -> CachedKeyActivity | None:
    return outline(session).activity_rows.get(key_activity_id)


def key_activities(session: Session) -> dict[str, CachedKeyActivity]:
    """Every key activity by id, retired ones too (old mastery rows still name them)."""
    return outline(session).activity_rows
