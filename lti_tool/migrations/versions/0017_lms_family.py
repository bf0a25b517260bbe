"""The LMS family of each platform (canvas, moodle, other), decided once and stored.

Existing rows get what the tool decided on every call until now, frozen here as it was
(lti/platforms/family.py ``detect`` holds the live rule): Canvas when the issuer names
instructure.com or is a Canvas Cloud issuer; Moodle when the login URL is Moodle's
``/mod/lti/auth.php`` (nothing behaved differently for Moodle yet); else other.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 09:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CANVAS_CLOUD_HOSTS = {"canvas.instructure.com", "canvas.beta.instructure.com",
                       "canvas.test.instructure.com"}


def _family(issuer: str, auth_login_url: str) -> str:
    try:
        host = (urlsplit(issuer).hostname or "").lower()
    except ValueError:
        host = ""
    if "instructure.com" in issuer or host in _CANVAS_CLOUD_HOSTS:
        return "canvas"
    try:
        path = urlsplit(auth_login_url).path
    except ValueError:
        path = ""
    return "moodle" if path.endswith("/mod/lti/auth.php") else "other"


def upgrade() -> None:
    with op.batch_alter_table("platform", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "lms_family",
            sa.Enum("canvas", "moodle", "other", name="lmsfamily", native_enum=False,
                    length=20),
            server_default="other", nullable=False))
    platform = sa.table("platform", sa.column("id", sa.Integer()),
                        sa.column("issuer", sa.String()),
                        sa.column("auth_login_url", sa.String()),
                        sa.column("lms_family", sa.String()))
    conn = op.get_bind()
    rows = conn.execute(sa.select(platform.c.id, platform.c.issuer,
                                  platform.c.auth_login_url)).all()
    for row_id, issuer, login_url in rows:
        family = _family(issuer or "", login_url or "")
        if family != "other":
            conn.execute(platform.update().where(platform.c.id == row_id)
                         .values(lms_family=family))


def downgrade() -> None:
    with op.batch_alter_table("platform", schema=None) as batch_op:
        batch_op.drop_column("lms_family")
