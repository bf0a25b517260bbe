"""Practice tables: attempts, responses, mastery, and the outbox of deliveries.

Responses are unique per (attempt, position) and per (attempt, idempotency key), so a
double-submitted answer lands once; outbox rows are unique per (kind, dedupe key).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 04:47:14.187462
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("xapi", "ags", name="outboxkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("dedupe_key", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "sent", "failed", name="outboxstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("kind", "dedupe_key", name=op.f("uq_outbox_kind")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_status"), ["status"], unique=False)

    op.create_table(
        "mastery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key_activity_id", sa.String(length=80), nullable=False),
        sa.Column("theta", sa.Double(), nullable=False),
        sa.Column("evidence", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_activity_id"],
            ["curriculum_key_activity.id"],
            name=op.f("fk_mastery_key_activity_id_curriculum_key_activity"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["lti_user.id"],
            name=op.f("fk_mastery_user_id_lti_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mastery")),
        sa.UniqueConstraint("user_id", "key_activity_id", name=op.f("uq_mastery_user_id")),
    )
    with op.batch_alter_table("mastery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mastery_user_id"), ["user_id"], unique=False)

    op.create_table(
        "attempt",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("resource_link_id", sa.Integer(), nullable=True),
        sa.Column(
            "mode",
            sa.Enum(
                "lesson",
                "drill",
                "practice",
                "mock",
                name="attemptmode",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("open", "submitted", name="attemptstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("module_id", sa.String(length=40), nullable=False),
        sa.Column("key_activity_id", sa.String(length=80), nullable=True),
        sa.Column("lesson_id", sa.String(length=80), nullable=True),
        sa.Column("open_key", sa.String(length=255), nullable=True),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("time_multiplier", sa.Double(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("auto_submitted", sa.Boolean(), nullable=False),
        sa.Column("score_raw", sa.Integer(), nullable=True),
        sa.Column("score_max", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["course.id"],
            name=op.f("fk_attempt_course_id_course"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["key_activity_id"],
            ["curriculum_key_activity.id"],
            name=op.f("fk_attempt_key_activity_id_curriculum_key_activity"),
        ),
        sa.ForeignKeyConstraint(
            ["lesson_id"],
            ["curriculum_lesson.id"],
            name=op.f("fk_attempt_lesson_id_curriculum_lesson"),
        ),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["curriculum_module.id"],
            name=op.f("fk_attempt_module_id_curriculum_module"),
        ),
        sa.ForeignKeyConstraint(
            ["resource_link_id"],
            ["resource_link.id"],
            name=op.f("fk_attempt_resource_link_id_resource_link"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["lti_user.id"],
            name=op.f("fk_attempt_user_id_lti_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempt")),
        sa.UniqueConstraint("user_id", "open_key", name=op.f("uq_attempt_user_id")),
    )
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attempt_course_id"), ["course_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attempt_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_attempt_user_id"), ["user_id"], unique=False)

    op.create_table(
        "response",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.String(length=20), nullable=False),
        sa.Column("item_revision", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("choice", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempt.id"],
            name=op.f("fk_response_attempt_id_attempt"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["curriculum_item.id"], name=op.f("fk_response_item_id_curriculum_item")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response")),
        sa.UniqueConstraint("attempt_id", "idempotency_key", name=op.f("uq_response_attempt_id")),
        sa.UniqueConstraint("attempt_id", "position", name=op.f("uq_response_attempt_id")),
    )
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_response_attempt_id"), ["attempt_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_response_item_id"), ["item_id"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_response_item_id"))
        batch_op.drop_index(batch_op.f("ix_response_attempt_id"))

    op.drop_table("response")
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attempt_user_id"))
        batch_op.drop_index(batch_op.f("ix_attempt_status"))
        batch_op.drop_index(batch_op.f("ix_attempt_course_id"))

    op.drop_table("attempt")
    with op.batch_alter_table("mastery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mastery_user_id"))

    op.drop_table("mastery")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_status"))
        batch_op.drop_index(batch_op.f("ix_outbox_next_attempt_at"))

    op.drop_table("outbox")
