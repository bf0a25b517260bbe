"""Load the validated curriculum into the DB, idempotently and in place.

Each item and lesson carries a digest of its content. A load upserts by stable id: new
ids are added, changed content bumps ``revision``, ids no longer in the data are retired
(never deleted, so responses keep pointing at what students answered), and an unchanged
bank is a no-op recorded once as a ``ContentRelease``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.curriculum.checks import Bank
from lti_tool.curriculum.schema import Item, Lesson
from lti_tool.curriculum.weights import activity_weights
from lti_tool.models import (
    ContentRelease,
    CurriculumItem,
    CurriculumKeyActivity,
    CurriculumLesson,
    CurriculumModule,
)


class ContentInvalidError(ValueError):
    """The bank has problems; it is not loaded."""


@dataclass(frozen=True)
class SyncReport:
    digest: str
    added: int
    updated: int
    retired: int
    unchanged: bool


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False)
                          .encode()).hexdigest()


def _data(source: Item | Lesson) -> dict[str, Any]:
    """What a row's digest is taken over. A lesson without figures leaves ``figures`` out,
    so adding the field did not make every existing lesson look changed."""
    data = source.model_dump(mode="json")
    if isinstance(source, Lesson) and not data["figures"]:
        del data["figures"]
    return data


def bank_digest(bank: Bank) -> str:
    assert bank.blueprint is not None
    return _digest({
        "blueprint": bank.blueprint.model_dump(mode="json"),
        "items": {k: _digest(i.model_dump(mode="json")) for k, (_, i) in bank.items.items()},
        "lessons": {k: _digest(_data(v)) for k, (_, v) in bank.lessons.items()},
    })


Row = TypeVar("Row", CurriculumItem, CurriculumLesson)


def _sync_rows(session: Session, model: type[Row], incoming: dict[str, Any],
               fields: Callable[[Any, dict[str, Any]], dict[str, Any]], now: datetime
               ) -> tuple[int, int, int]:
    """Upsert by stable id: add new, bump ``revision`` of changed, retire vanished rows."""
    added = updated = retired = 0
    existing = {row.id: row for row in session.scalars(select(model))}
    for row_id, source in incoming.items():
        data = _data(source)
        digest = _digest(data)
        row = existing.get(row_id)
        if row is None:
            row = model(id=row_id, revision=1)
            session.add(row)
            added += 1
        elif row.digest == digest and not row.retired:
            continue
        else:
            row.revision += 1
            updated += 1
        for name, value in fields(source, data).items():
            setattr(row, name, value)
        row.digest, row.retired, row.updated_at = digest, False, now
    for row_id, row in existing.items():
        if row_id not in incoming and not row.retired:
            row.retired, row.updated_at = True, now
            retired += 1
    return added, updated, retired


def sync_curriculum(session: Session, bank: Bank, clock: Callable[[], datetime]) -> SyncReport:
    if bank.problems or bank.blueprint is None:
        raise ContentInvalidError(f"the curriculum has {len(bank.problems)} problems; run "
                                  f"`cpt-lti content validate`")
    digest = bank_digest(bank)
    latest = session.scalars(select(ContentRelease).order_by(
        ContentRelease.loaded_at.desc(), ContentRelease.id.desc())).first()
    if latest is not None and latest.digest == digest:
        return SyncReport(digest, 0, 0, 0, unchanged=True)
    now = clock()
    blueprint = bank.blueprint
    active_kas = set()
    for position, module in enumerate(blueprint.modules):
        row = session.get(CurriculumModule, module.id) or CurriculumModule(id=module.id)
        row.title, row.required, row.summary = module.title, module.required, module.summary
        row.exam_items, row.exam_minutes = module.exam.items, module.exam.minutes
        row.exam_source, row.position = module.exam.source, position
        row.pass_percent = module.exam.pass_percent
        session.add(row)
        weights = activity_weights(module)
        for ka_position, ka in enumerate(module.key_activities):
            ka_row = session.get(CurriculumKeyActivity, ka.id) or CurriculumKeyActivity(
                id=ka.id)
            ka_row.module_id, ka_row.title = module.id, ka.title
            ka_row.knowledge, ka_row.position, ka_row.retired = list(ka.knowledge), \
                ka_position, False
            ka_row.weight = weights[ka.id]
            session.add(ka_row)
            active_kas.add(ka.id)
    session.flush()
    for ka_row in session.scalars(select(CurriculumKeyActivity)):
        if ka_row.id not in active_kas:
            ka_row.retired = True

    def item_fields(item: Item, data: dict[str, Any]) -> dict[str, Any]:
        return {"module_id": item.module, "key_activity_id": item.key_activity,
                "topic": item.topic, "difficulty": item.difficulty,
                "cognitive": item.cognitive, "kind": item.kind,
                "industry40": item.industry40, "stem": item.stem, "figure": data["figure"],
                "options": data["options"], "reference": item.reference}

    def lesson_fields(lesson: Lesson, data: dict[str, Any]) -> dict[str, Any]:
        return {"module_id": lesson.key_activity.split(".", 1)[0],
                "key_activity_id": lesson.key_activity, "title": lesson.title,
                "objectives": list(lesson.objectives), "body": lesson.body,
                "example": lesson.example, "key_terms": data["key_terms"],
                "checks": list(lesson.checks), "figures": data.get("figures") or None}

    a1, u1, r1 = _sync_rows(session, CurriculumItem,
                            {k: v for k, (_, v) in bank.items.items()}, item_fields, now)
    a2, u2, r2 = _sync_rows(session, CurriculumLesson,
                            {k: v for k, (_, v) in bank.lessons.items()}, lesson_fields, now)
    added, updated, retired = a1 + a2, u1 + u2, r1 + r2
    release = session.scalars(select(ContentRelease).where(
        ContentRelease.digest == digest)).first()
    if release is None:  # a bank can come back (a revert): keep one row per digest
        release = ContentRelease(digest=digest)
        session.add(release)
    release.blueprint_version, release.items, release.lessons = (
        blueprint.version, len(bank.items), len(bank.lessons))
    release.added, release.updated, release.retired, release.loaded_at = (
        added, updated, retired, now)
    session.flush()
    return SyncReport(digest, added, updated, retired, unchanged=False)
