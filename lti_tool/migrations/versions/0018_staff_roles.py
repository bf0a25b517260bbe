"""Per-platform staff sub-roles, and the LMS family of a waiting Dynamic Registration.

``platform.staff_roles``: the sub-roles (``Instructor#TeachingAssistant``) that open the
instructor view without their parent role; empty for every platform, the safe default (a
sub-role alone was staff until now: Open edX's discussion moderators saw classmates'
results). ``platform_registration.lms_family``: what the registration's OpenID
configuration named (canvas, moodle, other), so approving it creates the platform with it;
registrations already waiting say "other", and approval detects them from their URLs as
before.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 10:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("platform", schema=None) as batch_op:
        batch_op.add_column(sa.Column("staff_roles", sa.Text(), server_default="",
                                      nullable=False))
    with op.batch_alter_table("platform_registration", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "lms_family",
            sa.Enum("canvas", "moodle", "other", name="lmsfamily", native_enum=False,
                    length=20),
            server_default="other", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("platform_registration", schema=None) as batch_op:
        batch_op.drop_column("lms_family")
    with op.batch_alter_table("platform", schema=None) as batch_op:
        batch_op.drop_column("staff_roles")
