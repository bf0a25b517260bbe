"""Course roster from the LMS (NRPS), so students who never launched are listed too.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 05:40:06.088391
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "roster_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("sub", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column(
            "role",
            sa.Enum("learner", "instructor", "admin", name="role", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["course.id"],
            name=op.f("fk_roster_member_course_id_course"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_member")),
        sa.UniqueConstraint("course_id", "sub", name=op.f("uq_roster_member_course_id_sub")),
    )
    with op.batch_alter_table("roster_member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_roster_member_course_id"), ["course_id"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("roster_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roster_member_course_id"))

    op.drop_table("roster_member")
