"""Per-student time multiplier on timed exams (extra time as an accommodation).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 06:09:36.740922
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("time_multiplier", sa.Double(), server_default="1.0", nullable=False)
        )



def downgrade() -> None:
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.drop_column("time_multiplier")

