"""Key-activity exam weights and module pass marks move into the loaded curriculum.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 18:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Filled by the next content load (the blueprint's digest changes with the weights);
    # until then practice tests fall back to equal shares and the 70% default pass mark.
    with op.batch_alter_table("curriculum_key_activity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("weight", sa.Double(), nullable=True))
    with op.batch_alter_table("curriculum_module", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pass_percent", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("curriculum_module", schema=None) as batch_op:
        batch_op.drop_column("pass_percent")
    with op.batch_alter_table("curriculum_key_activity", schema=None) as batch_op:
        batch_op.drop_column("weight")
