"""The launch doctor (ops/doctor.py): each platform's last check, the kid of the
platform's last valid launch, and the sandbox LMS's switches that make it misbehave.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 12:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("platform", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_launch_kid", sa.String(length=255), nullable=True))
    op.create_table(
        "platform_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("ran_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(["platform_id"], ["platform.id"],
                                name=op.f("fk_platform_check_platform_id_platform"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_check")),
        sa.UniqueConstraint("platform_id", name=op.f("uq_platform_check_platform_id")),
    )
    op.create_table(
        "sandbox_switch",
        sa.Column("platform_key", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("platform_key", "name", name=op.f("pk_sandbox_switch")),
    )


def downgrade() -> None:
    op.drop_table("sandbox_switch")
    op.drop_table("platform_check")
    with op.batch_alter_table("platform", schema=None) as batch_op:
        batch_op.drop_column("last_launch_kid")
