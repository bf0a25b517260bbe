"""Grade provenance: for every grade sent to the LMS, which attempts counted under which
policy, when it was queued, and every delivery try with the LMS's answer (issue 20).

Its own tables, so the story outlives the delivered outbox rows the retention purge
deletes; foreign keys cascade when the person or the link goes.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 12:55:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "grade_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_key", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("resource_link_id", sa.Integer(), nullable=False),
        sa.Column("policy", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.JSON(), nullable=False),
        sa.Column("score_given", sa.Double(), nullable=False),
        sa.Column("score_maximum", sa.Double(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["resource_link_id"], ["resource_link.id"],
                                name=op.f("fk_grade_record_resource_link_id_resource_link"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["lti_user.id"],
                                name=op.f("fk_grade_record_user_id_lti_user"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grade_record")),
        sa.UniqueConstraint("outbox_key", name=op.f("uq_grade_record_outbox_key")),
    )
    op.create_index("ix_grade_record_resource_link_id_user_id", "grade_record",
                    ["resource_link_id", "user_id"], unique=False)
    op.create_index("ix_grade_record_user_id", "grade_record", ["user_id"], unique=False)
    op.create_table(
        "grade_delivery_try",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grade_record_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("body", sa.String(length=500), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["grade_record_id"], ["grade_record.id"],
                                name=op.f("fk_grade_delivery_try_grade_record_id_grade_record"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grade_delivery_try")),
    )
    op.create_index(op.f("ix_grade_delivery_try_grade_record_id"), "grade_delivery_try",
                    ["grade_record_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_grade_delivery_try_grade_record_id"),
                  table_name="grade_delivery_try")
    op.drop_table("grade_delivery_try")
    op.drop_index("ix_grade_record_user_id", table_name="grade_record")
    op.drop_index("ix_grade_record_resource_link_id_user_id", table_name="grade_record")
    op.drop_table("grade_record")
