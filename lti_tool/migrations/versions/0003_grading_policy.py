"""Grading policy per resource link (best, latest or average attempt); existing links: best.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 05:38:11.634246
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("resource_link", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "grading_policy",
                sa.Enum(
                    "best", "latest", "average", name="gradingpolicy", native_enum=False, length=20
                ),
                server_default="best",
                nullable=False,
            )
        )



def downgrade() -> None:
    with op.batch_alter_table("resource_link", schema=None) as batch_op:
        batch_op.drop_column("grading_policy")

