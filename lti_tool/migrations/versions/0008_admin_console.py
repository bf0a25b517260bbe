"""Admin console: tool administrators, their sessions, failed sign-ins (rate limit).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 08:13:10.747602
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_login_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_login_failure")),
    )
    with op.batch_alter_table("admin_login_failure", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_admin_login_failure_address"), ["address"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_admin_login_failure_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_admin_login_failure_username"), ["username"], unique=False
        )

    op.create_table(
        "admin_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_user")),
        sa.UniqueConstraint("username", name=op.f("uq_admin_user_username")),
    )
    op.create_table(
        "admin_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["admin_id"],
            ["admin_user.id"],
            name=op.f("fk_admin_session_admin_id_admin_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_session")),
    )
    with op.batch_alter_table("admin_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_admin_session_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("admin_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admin_session_expires_at"))

    op.drop_table("admin_session")
    op.drop_table("admin_user")
    with op.batch_alter_table("admin_login_failure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admin_login_failure_username"))
        batch_op.drop_index(batch_op.f("ix_admin_login_failure_at"))
        batch_op.drop_index(batch_op.f("ix_admin_login_failure_address"))

    op.drop_table("admin_login_failure")
