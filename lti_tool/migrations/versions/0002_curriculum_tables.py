"""Curriculum tables: modules, key activities, items, lessons and content releases.

Items and lessons are keyed by their stable content ids and are retired, never deleted,
so student responses keep pointing at what they answered.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 04:41:47.065511
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "content_release",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("blueprint_version", sa.Integer(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("lessons", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_release")),
        sa.UniqueConstraint("digest", name=op.f("uq_content_release_digest")),
    )
    op.create_table(
        "curriculum_module",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("exam_items", sa.Integer(), nullable=False),
        sa.Column("exam_minutes", sa.Integer(), nullable=False),
        sa.Column("exam_source", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_curriculum_module")),
    )
    op.create_table(
        "curriculum_key_activity",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("module_id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("knowledge", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["curriculum_module.id"],
            name=op.f("fk_curriculum_key_activity_module_id_curriculum_module"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_curriculum_key_activity")),
    )
    op.create_table(
        "curriculum_item",
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("module_id", sa.String(length=40), nullable=False),
        sa.Column("key_activity_id", sa.String(length=80), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("difficulty", sa.Integer(), nullable=False),
        sa.Column("cognitive", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("industry40", sa.String(length=40), nullable=True),
        sa.Column("stem", sa.Text(), nullable=False),
        sa.Column("figure", sa.JSON(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_activity_id"],
            ["curriculum_key_activity.id"],
            name=op.f("fk_curriculum_item_key_activity_id_curriculum_key_activity"),
        ),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["curriculum_module.id"],
            name=op.f("fk_curriculum_item_module_id_curriculum_module"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_curriculum_item")),
    )
    with op.batch_alter_table("curriculum_item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_curriculum_item_key_activity_id"), ["key_activity_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_curriculum_item_module_id"), ["module_id"], unique=False
        )

    op.create_table(
        "curriculum_lesson",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("module_id", sa.String(length=40), nullable=False),
        sa.Column("key_activity_id", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("objectives", sa.JSON(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("example", sa.Text(), nullable=False),
        sa.Column("key_terms", sa.JSON(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_activity_id"],
            ["curriculum_key_activity.id"],
            name=op.f("fk_curriculum_lesson_key_activity_id_curriculum_key_activity"),
        ),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["curriculum_module.id"],
            name=op.f("fk_curriculum_lesson_module_id_curriculum_module"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_curriculum_lesson")),
    )
    with op.batch_alter_table("curriculum_lesson", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_curriculum_lesson_key_activity_id"), ["key_activity_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_curriculum_lesson_module_id"), ["module_id"], unique=False
        )



def downgrade() -> None:
    with op.batch_alter_table("curriculum_lesson", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_curriculum_lesson_module_id"))
        batch_op.drop_index(batch_op.f("ix_curriculum_lesson_key_activity_id"))

    op.drop_table("curriculum_lesson")
    with op.batch_alter_table("curriculum_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_curriculum_item_module_id"))
        batch_op.drop_index(batch_op.f("ix_curriculum_item_key_activity_id"))

    op.drop_table("curriculum_item")
    op.drop_table("curriculum_key_activity")
    op.drop_table("curriculum_module")
    op.drop_table("content_release")
