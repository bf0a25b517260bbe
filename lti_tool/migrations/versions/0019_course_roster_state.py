"""The roster service URL per course, kept across launches, and the state of its fetch.

Until now every launch wrote its NRPS URL onto the launching person's enrolment, so a
launch without the claim (a Deep Linking request) erased it (issue 19.1). The course now
keeps the last URL a launch named; existing courses get the one of their latest launch
that had one. ``roster_synced_at`` starts as the newest roster row's sync time, as the
class overview showed it.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 10:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_course = sa.table("course", sa.column("id", sa.Integer()), sa.column("nrps_url", sa.String()),
                   sa.column("roster_synced_at", sa.DateTime(timezone=True)),
                   sa.column("roster_checked_at", sa.DateTime(timezone=True)))
_enrollment = sa.table("enrollment", sa.column("course_id", sa.Integer()),
                       sa.column("nrps_url", sa.String()),
                       sa.column("last_launch_at", sa.DateTime(timezone=True)))
_member = sa.table("roster_member", sa.column("course_id", sa.Integer()),
                   sa.column("synced_at", sa.DateTime(timezone=True)))


def upgrade() -> None:
    with op.batch_alter_table("course", schema=None) as batch_op:
        batch_op.add_column(sa.Column("nrps_url", sa.String(length=1024), nullable=True))
        batch_op.add_column(sa.Column("roster_synced_at", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("roster_checked_at", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("roster_error", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("roster_claimed_at", sa.DateTime(timezone=True),
                                      nullable=True))
    latest_url = (sa.select(_enrollment.c.nrps_url)
                  .where(_enrollment.c.course_id == _course.c.id,
                         _enrollment.c.nrps_url.is_not(None))
                  .order_by(_enrollment.c.last_launch_at.desc()).limit(1).scalar_subquery())
    synced = (sa.select(sa.func.max(_member.c.synced_at))
              .where(_member.c.course_id == _course.c.id).scalar_subquery())
    op.execute(_course.update().values(nrps_url=latest_url, roster_synced_at=synced,
                                       roster_checked_at=synced))
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.drop_column("nrps_url")


def downgrade() -> None:
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("nrps_url", sa.String(length=1024), nullable=True))
    course_url = (sa.select(_course.c.nrps_url).where(_course.c.id == _enrollment.c.course_id)
                  .scalar_subquery())
    op.execute(_enrollment.update().values(nrps_url=course_url))
    with op.batch_alter_table("course", schema=None) as batch_op:
        batch_op.drop_column("roster_claimed_at")
        batch_op.drop_column("roster_error")
        batch_op.drop_column("roster_checked_at")
        batch_op.drop_column("roster_synced_at")
        batch_op.drop_column("nrps_url")
