"""An in-process read cache of the item bank, per database engine.

Items change only when ``cpt-lti init`` loads a new content release, yet every answer
needs an item's key and difficulty. The cache holds plain copies and is checked against
the latest content release at most every ``REFRESH_SECONDS``, so a new release reaches
every process within that time without a restart, and the hot path skips three queries.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field
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


_SNAPSHOTS: weakref.WeakKeyDictionary[Engine, _Snapshot] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _release(session: Session) -> tuple[int, Any] | None:
    row = session.execute(select(func.max(ContentRelease.id), func.max(
        ContentRelease.loaded_at))).one()
    return None if row[0] is None else (row[0], row[1])


def _load(session: Session) -> dict[str, CachedItem]:
    return {i.id: CachedItem(i.id, i.module_id, i.key_activity_id, i.difficulty, i.revision,
                             i.retired, i.stem, i.figure, list(i.options))
            for i in session.scalars(select(CurriculumItem))}


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
        modules = [(m.id, m.exam_items) for m in session.scalars(
            select(CurriculumModule).order_by(CurriculumModule.position))]
        activities: dict[str, list[tuple[str, str]]] = {m: [] for m, _ in modules}
        for ka in session.scalars(select(CurriculumKeyActivity).where(
                CurriculumKeyActivity.retired.is_(False)).order_by(
                CurriculumKeyActivity.module_id, CurriculumKeyActivity.position)):
            activities.setdefault(ka.module_id, []).append((ka.id, ka.title))
        lessons: dict[str, list[str]] = {m: [] for m, _ in modules}
        for lesson_id, module_id in session.execute(
                select(CurriculumLesson.id, CurriculumLesson.module_id).where(
                    CurriculumLesson.retired.is_(False)).order_by(CurriculumLesson.id)):
            lessons.setdefault(module_id, []).append(lesson_id)
        snapshot.outline = Outline(modules, activities, lessons)
    return snapshot.outline
