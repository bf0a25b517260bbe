"""xAPI delivery: per-platform LRS endpoints; outbox rows get a destination and the
frozen statement JSON they resend on every retry.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 07:07:39.756565
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lrs_endpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("password_sealed", sa.Text(), nullable=False),
        sa.Column(
            "actor_identity",
            sa.Enum(
                "account",
                "mbox_sha1sum",
                "mbox",
                name="actoridentity",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["platform.id"],
            name=op.f("fk_lrs_endpoint_platform_id_platform"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lrs_endpoint")),
        sa.UniqueConstraint("platform_id", "name", name=op.f("uq_lrs_endpoint_platform_id_name")),
    )
    with op.batch_alter_table("lrs_endpoint", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lrs_endpoint_platform_id"), ["platform_id"], unique=False
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("destination", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("body", sa.Text(), nullable=True))
        batch_op.create_index(
            "ix_outbox_delivery", ["kind", "status", "destination", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_delivery")
        batch_op.drop_column("body")
        batch_op.drop_column("destination")

    with op.batch_alter_table("lrs_endpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lrs_endpoint_platform_id"))

    op.drop_table("lrs_endpoint")
