"""The instructor's student preview: a module's topics and lessons and their sample
questions, read from the curriculum cache, with feedback worked out in memory.

Nothing here writes: no attempt, response, mastery, outbox or grade row, so a preview
never shows up in the class's data or the LMS gradebook.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from lti_tool.practice import catalog


def module_lessons(session: Session, module_id: str) -> dict[str, catalog.CachedLesson]:
    """The module's lessons by the key activity each teaches."""
    shape = catalog.outline(session)
    return {shape.lesson_rows[lesson_id].key_activity_id: shape.lesson_rows[lesson_id]
            for lesson_id in shape.lessons.get(module_id, [])}


def drill_sample(session: Session, key_activity_id: str
                 ) -> tuple[catalog.CachedKeyActivity, list[catalog.CachedItem]] | None:
    """A live topic and its questions, easiest first (what a new student meets first in a
    drill); None for no such topic."""
    ka = catalog.key_activity(session, key_activity_id)
    if ka is None or ka.retired:
        return None
    bank = catalog.items(session)
    refs = catalog.refs(session, ka.module_id, ka.id)
    return ka, sorted((bank[r.id] for r in refs), key=lambda i: (i.difficulty, i.id))


def lesson_sample(session: Session, lesson_id: str
                  ) -> tuple[catalog.CachedLesson, list[catalog.CachedItem]] | None:
    """A live lesson and its live check questions; None for no such lesson."""
    lesson = catalog.lesson(session, lesson_id)
    if lesson is None or lesson.retired:
        return None
    bank = catalog.items(session)
    found = [bank.get(item_id) for item_id in lesson.checks]
    return lesson, [i for i in found if i is not None and not i.retired]


def answer_key(item: catalog.CachedItem) -> int:
    """The index of the item's correct option."""
    return next(k for k, o in enumerate(item.options) if o["correct"])
