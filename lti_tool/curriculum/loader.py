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
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.curriculum.checks import Bank
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


def bank_digest(bank: Bank) -> str:
    assert bank.blueprint is not None
    return _digest({
        "blueprint": bank.blueprint.model_dump(mode="json"),
        "items": {k: _digest(i.model_dump(mode="json")) for k, (_, i) in bank.items.items()},
        "lessons": {k: _digest(v.model_dump(mode="json")) for k, (_, v) in bank.lessons.items()},
    })


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
        session.add(row)
        for ka_position, ka in enumerate(module.key_activities):
            ka_row = session.get(CurriculumKeyActivity, ka.id) or CurriculumKeyActivity(
                id=ka.id)
            ka_row.module_id, ka_row.title = module.id, ka.title
            ka_row.knowledge, ka_row.position, ka_row.retired = list(ka.knowledge), \
                ka_position, False
            session.add(ka_row)
            active_kas.add(ka.id)
    session.flush()
    for ka_row in session.scalars(select(CurriculumKeyActivity)):
        if ka_row.id not in active_kas:
            ka_row.retired = True

    added = updated = retired = 0
    existing_items = {row.id: row for row in session.scalars(select(CurriculumItem))}
    for item_id, (_, item) in bank.items.items():
        data = item.model_dump(mode="json")
        item_digest = _digest(data)
        row = existing_items.get(item_id)
        if row is None:
            row = CurriculumItem(id=item_id, revision=1)
            session.add(row)
            added += 1
        elif row.digest == item_digest and not row.retired:
            continue
        else:
            row.revision += 1
            updated += 1
        row.module_id, row.key_activity_id = item.module, item.key_activity
        row.topic, row.difficulty, row.cognitive = item.topic, item.difficulty, item.cognitive
        row.kind, row.industry40, row.stem = item.kind, item.industry40, item.stem
        row.figure, row.options = data["figure"], data["options"]
        row.reference, row.digest, row.retired, row.updated_at = (
            item.reference, item_digest, False, now)
    for item_id, row in existing_items.items():
        if item_id not in bank.items and not row.retired:
            row.retired, row.updated_at = True, now
            retired += 1

    existing_lessons = {row.id: row for row in session.scalars(select(CurriculumLesson))}
    for lesson_id, (_, lesson) in bank.lessons.items():
        data = lesson.model_dump(mode="json")
        lesson_digest = _digest(data)
        row = existing_lessons.get(lesson_id)
        if row is None:
            row = CurriculumLesson(id=lesson_id, revision=1)
            session.add(row)
            added += 1
        elif row.digest == lesson_digest and not row.retired:
            continue
        else:
            row.revision += 1
            updated += 1
        row.module_id = lesson.key_activity.split(".", 1)[0]
        row.key_activity_id, row.title = lesson.key_activity, lesson.title
        row.objectives, row.body, row.example = list(lesson.objectives), lesson.body, \
            lesson.example
        row.key_terms, row.checks = data["key_terms"], list(lesson.checks)
        row.digest, row.retired, row.updated_at = lesson_digest, False, now
    for lesson_id, row in existing_lessons.items():
        if lesson_id not in bank.lessons and not row.retired:
            row.retired, row.updated_at = True, now
            retired += 1
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
