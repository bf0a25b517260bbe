"""Erasure that reaches the LRS: the ledger of statements sent per person and LRS (kept
past the outbox purge) and the erasure reports.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 13:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | Sequence[str] | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "statement_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.String(length=36), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["lti_user.id"],
                                name=op.f("fk_statement_ledger_user_id_lti_user"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_ledger")),
        sa.UniqueConstraint("statement_id", "destination",
                            name=op.f("uq_statement_ledger_statement_id_destination")),
    )
    op.create_index(op.f("ix_statement_ledger_user_id"), "statement_ledger", ["user_id"],
                    unique=False)
    op.create_table(
        "erasure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed", sa.JSON(), nullable=False),
        sa.Column("voids", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure")),
    )
    op.create_index(op.f("ix_erasure_subject_hash"), "erasure", ["subject_hash"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_erasure_subject_hash"), table_name="erasure")
    op.drop_table("erasure")
    op.drop_index(op.f("ix_statement_ledger_user_id"), table_name="statement_ledger")
    op.drop_table("statement_ledger")
