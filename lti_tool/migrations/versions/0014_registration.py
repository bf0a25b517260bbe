"""Registrations: pending registrations that wait for an admin; login state per client.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 08:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A Dynamic Registration no longer changes a platform: it waits here for an admin.
    op.create_table(
        "platform_registration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("auth_login_url", sa.String(length=1024), nullable=False),
        sa.Column("auth_token_url", sa.String(length=1024), nullable=False),
        sa.Column("key_set_url", sa.String(length=1024), nullable=False),
        sa.Column("deployment_id", sa.String(length=255), nullable=True),
        sa.Column("openid_configuration", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_registration")),
        sa.UniqueConstraint("issuer", "client_id",
                            name=op.f("uq_platform_registration_issuer_client_id")),
    )
    # Login state is capped per client (a keyed hash of its address); existing rows have
    # no owner and simply expire.
    with op.batch_alter_table("launch_value", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_launch_value_owner_expires_at", ["owner", "expires_at"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("launch_value", schema=None) as batch_op:
        batch_op.drop_index("ix_launch_value_owner_expires_at")
        batch_op.drop_column("owner")
    op.drop_table("platform_registration")
