"""Staged key rotation: a new tool key is published at once and signs from activates_at.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 08:10:44.422122
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tool_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("activates_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tool_key", schema=None) as batch_op:
        batch_op.drop_column("activates_at")
