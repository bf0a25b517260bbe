"""Server-side sessions: the browser holds a random id, the DB holds who it is.

A launch renders its landing page directly, so the first page works even where the LMS
iframe blocks cookies; the cookie (SameSite=None; Secure; Partitioned over HTTPS) serves the
pages after it.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import Request, Response
from sqlalchemy.orm import Session

from lti_tool.cookies import iframe_cookie
from lti_tool.lti.records import LaunchRecord
from lti_tool.models import ToolSession
from lti_tool.runtime import Runtime

COOKIE = "cpt_session"


def start_session(db: Session, rt: Runtime, record: LaunchRecord, launch_id: str
                  ) -> ToolSession:
    now = rt.clock()
    row = ToolSession(
        id=secrets.token_urlsafe(32), user_id=record.user_id, course_id=record.course_id,
        resource_link_id=record.resource_link_id, role=record.role,
        csrf_token=secrets.token_urlsafe(32), launch_id=launch_id, created_at=now,
        expires_at=now + timedelta(hours=rt.settings.session_hours),
    )
    db.add(row)
    db.flush()
    return row


def set_cookie(response: Response, rt: Runtime, row: ToolSession) -> None:
    response.set_cookie(COOKIE, row.id, max_age=rt.settings.session_hours * 3600,
                        **iframe_cookie(rt.settings.is_https))


TOKEN_PARAM = "s"
TOKEN_HEADER = "X-CPT-Session"


def session_token(request: Request) -> tuple[str | None, bool]:
    """The session id and whether it came from the cookie.

    Inside an LMS iframe the browser may drop our cookie after the launch; then pages carry
    the id in the URL (``?s=``) or forms, and scripts send it in ``X-CPT-Session``.
    """
    sid = request.cookies.get(COOKIE)
    if sid:
        return sid, True
    sid = (request.headers.get(TOKEN_HEADER) or request.args.get(TOKEN_PARAM)
           or request.form.get(TOKEN_PARAM))
    return sid, False
