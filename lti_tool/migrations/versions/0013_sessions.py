"""Sessions: idle expiry, revocation on relaunch; admin sign-in backoff per client and account.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 08:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_session = sa.table("tool_session", sa.column("created_at", sa.DateTime(timezone=True)),
                    sa.column("last_seen_at", sa.DateTime(timezone=True)))


def upgrade() -> None:
    # last_seen_at: added empty, filled with each open session's start (the idle clock
    # starts there), then made required. The admin backoff needs no new column: it reads
    # admin_login_failure by (address, username), both already indexed.
    with op.batch_alter_table("tool_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("agent_digest", sa.String(length=64), nullable=True))
    op.execute(_session.update().values(last_seen_at=_session.c.created_at))
    with op.batch_alter_table("tool_session", schema=None) as batch_op:
        batch_op.alter_column("last_seen_at", existing_type=sa.DateTime(timezone=True),
                              nullable=False)
        batch_op.create_index("ix_tool_session_user_id_resource_link_id",
                              ["user_id", "resource_link_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tool_session", schema=None) as batch_op:
        batch_op.drop_index("ix_tool_session_user_id_resource_link_id")
        batch_op.drop_column("agent_digest")
        batch_op.drop_column("last_seen_at")
