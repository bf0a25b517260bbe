"""Admin console per platform: the last refused launch that named a platform (when, the
error code and its fixed reason; never a claim of the unverified token).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 12:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("platform", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_failed_launch_at", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("last_failed_launch_code", sa.String(length=40),
                                      nullable=True))
        batch_op.add_column(sa.Column("last_failed_launch_reason", sa.String(length=200),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("platform", schema=None) as batch_op:
        batch_op.drop_column("last_failed_launch_reason")
        batch_op.drop_column("last_failed_launch_code")
        batch_op.drop_column("last_failed_launch_at")
