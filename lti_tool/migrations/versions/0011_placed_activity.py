"""Placed activities: what a graded link counts, and the item a drill served.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 08:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_attempt = sa.table("attempt", sa.column("id", sa.String), sa.column("mode", sa.String),
                    sa.column("module_id", sa.String), sa.column("key_activity_id", sa.String),
                    sa.column("lesson_id", sa.String), sa.column("item_ids", sa.JSON),
                    sa.column("resource_link_id", sa.Integer),
                    sa.column("counts_for_grade", sa.Boolean),
                    sa.column("open_key", sa.String))
_link = sa.table("resource_link", sa.column("id", sa.Integer), sa.column("custom", sa.JSON))
_module = sa.table("curriculum_module", sa.column("id", sa.String),
                   sa.column("exam_items", sa.Integer))


def upgrade() -> None:
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("counts_for_grade", sa.Boolean(),
                                      server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("served_item_id", sa.String(length=20), nullable=True))
    # Attempts made before this revision count only where they match their link's placed
    # activity exactly (mode, module, whole module, full size), as new ones will.
    conn = op.get_bind()
    exam_items = dict(conn.execute(sa.select(_module.c.id, _module.c.exam_items)).all())
    placed: dict[int, tuple[str, str, int]] = {}
    for link_id, custom in conn.execute(sa.select(_link.c.id, _link.c.custom)).all():
        custom = custom or {}
        kind, module_id = custom.get("activity"), custom.get("module")
        if kind not in ("practice", "mock") or module_id not in exam_items:
            continue
        size = str(custom.get("size", ""))
        placed[link_id] = (kind, module_id, exam_items[module_id] if kind == "mock" else (
            int(size) if size.isdigit() else 25))
    rows = conn.execute(sa.select(
        _attempt.c.id, _attempt.c.mode, _attempt.c.module_id, _attempt.c.key_activity_id,
        _attempt.c.lesson_id, _attempt.c.item_ids, _attempt.c.resource_link_id,
        _attempt.c.open_key).where(_attempt.c.resource_link_id.is_not(None))).all()
    for attempt_id, mode, module_id, ka_id, lesson_id, item_ids, link_id, open_key in rows:
        spec = placed.get(link_id)
        if spec and ka_id is None and lesson_id is None and \
                spec == (mode, module_id, len(item_ids or [])):
            # An open one keeps being the link's graded attempt on resume.
            conn.execute(sa.update(_attempt).where(_attempt.c.id == attempt_id).values(
                counts_for_grade=True,
                open_key=f"{open_key}:link{link_id}" if open_key else None))
    # Open practice tests that do not count are now resumed by their size.
    for attempt_id, open_key, item_ids in conn.execute(sa.select(
            _attempt.c.id, _attempt.c.open_key, _attempt.c.item_ids).where(
            _attempt.c.mode == "practice", _attempt.c.open_key.is_not(None),
            _attempt.c.counts_for_grade.is_(False))).all():
        conn.execute(sa.update(_attempt).where(_attempt.c.id == attempt_id).values(
            open_key=f"{open_key}:size{len(item_ids or [])}"))


def downgrade() -> None:
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.drop_column("served_item_id")
        batch_op.drop_column("counts_for_grade")
