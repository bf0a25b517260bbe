"""Questions a student flagged for review in a test or exam; figures in lessons.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 06:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flagged", sa.JSON(), nullable=True))
    # Filled by the next content load (the lessons' digest changes with their figures).
    with op.batch_alter_table("curriculum_lesson", schema=None) as batch_op:
        batch_op.add_column(sa.Column("figures", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("curriculum_lesson", schema=None) as batch_op:
        batch_op.drop_column("figures")
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.drop_column("flagged")
