"""Sealing key: tool private keys and LRS passwords sealed apart from the cookie secret.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 08:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Only the column's name changes here: sealing the values needs CPT_LTI_SEALING_KEY, which
# migrations do not see. `cpt-lti init` (upgrade, then delivery.sealed.SealedValues.migrate)
# seals the plain PEMs left in it, and the tool refuses to sign with a plain one meanwhile.


def upgrade() -> None:
    with op.batch_alter_table("tool_key", schema=None) as batch_op:
        batch_op.alter_column("private_key_pem", new_column_name="private_key_sealed")


def downgrade() -> None:
    # The values stay sealed: an older tool cannot use them (run `cpt-lti init` of this
    # version again, or restore the backup taken before the upgrade).
    with op.batch_alter_table("tool_key", schema=None) as batch_op:
        batch_op.alter_column("private_key_sealed", new_column_name="private_key_pem")
