"""Course copy: a resource link remembers the link it was copied from and the activity
carried from it (lti/copies.py); the sandbox LMS's placed links remember theirs.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 10:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("resource_link", schema=None) as batch_op:
        batch_op.add_column(sa.Column("copied_from_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("carried_placement", sa.JSON(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_resource_link_copied_from_id_resource_link"), "resource_link",
            ["copied_from_id"], ["id"], ondelete="SET NULL")
    with op.batch_alter_table("sandbox_placed_link", schema=None) as batch_op:
        batch_op.add_column(sa.Column("copied_from_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_sandbox_placed_link_copied_from_id_sandbox_placed_link"),
            "sandbox_placed_link", ["copied_from_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("sandbox_placed_link", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_sandbox_placed_link_copied_from_id_sandbox_placed_link"),
            type_="foreignkey")
        batch_op.drop_column("copied_from_id")
    with op.batch_alter_table("resource_link", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_resource_link_copied_from_id_resource_link"),
                                 type_="foreignkey")
        batch_op.drop_column("carried_placement")
        batch_op.drop_column("copied_from_id")
