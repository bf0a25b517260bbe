"""Who is asking: the tool session behind a page or API call, and CSRF on every write.

Pages and API calls find the session through the cookie, or - where the LMS iframe drops
it - through the id carried in the URL, form or ``X-CPT-Session`` header. Every POST must
carry the session's CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import abort, g, request, url_for
from sqlalchemy import bindparam, select

from lti_tool.models import Role, ToolSession, User
from lti_tool.web.runtime import runtime
from lti_tool.web.sessions import TOKEN_PARAM, is_live, session_token, touch_if_due

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Viewer:
    session_id: str
    user_id: int
    user_name: str | None
    course_id: int | None
    resource_link_id: int | None
    role: Role
    csrf_token: str
    token_in_url: bool  # the cookie did not come back: links must carry the session id

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.INSTRUCTOR, Role.ADMIN)


def viewer_for(row: ToolSession, user: User | None, *, token_in_url: bool) -> Viewer:
    return Viewer(row.id, row.user_id, user.name if user else None, row.course_id,
                  row.resource_link_id, row.role, row.csrf_token, token_in_url)


# Built once: every request runs it, and composing it cost more than running it.
_SESSION_ROW = select(
    ToolSession.id, ToolSession.user_id, ToolSession.course_id, ToolSession.resource_link_id,
    ToolSession.role, ToolSession.csrf_token, ToolSession.expires_at,
    ToolSession.last_seen_at, ToolSession.agent_digest,
).where(ToolSession.id == bindparam("sid"))


def _load_viewer() -> Viewer | None:
    """One indexed read on every request, a plain Core query. It runs in the session the
    view's first transaction will continue (one connection and one round trip fewer per
    page than a read of its own). An ended session (hours, idle, another browser: see
    sessions.py) is no session; a live one has its idle clock restarted, at most one
    write a minute."""
    rt = runtime()
    sid, from_cookie = session_token(request)
    if not sid:
        return None
    session = rt.sessions()
    now = rt.clock()
    try:
        row = session.execute(_SESSION_ROW, {"sid": sid}).first()
        if row is None or not is_live(row.expires_at, row.last_seen_at, row.agent_digest,
                                      rt.settings, now, request):
            session.close()
            return None
        touch_if_due(session, row.id, row.last_seen_at, now)
    except BaseException:
        session.close()
        raise
    rt.hand_over(session)
    return Viewer(row.id, row.user_id, None, row.course_id, row.resource_link_id,
                  Role(row.role), row.csrf_token, not from_cookie)


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """401 without a session; on POST, 403 without the right CSRF token."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        viewer = _load_viewer()
        if viewer is None:
            abort(401, description="Your session has ended (signed out, unused for a "
                                   "while, or opened again elsewhere). Open CPT Practice "
                                   "again from your course.")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
            if not hmac.compare_digest(sent, viewer.csrf_token):
                abort(403, description="The form was missing its security token. Reload "
                                       "the page and try again.")
        g.viewer = viewer
        return view(*args, **kwargs)

    return wrapper


def staff_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    @login_required
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not g.viewer.is_staff:
            abort(403, description="This page is for instructors.")
        return view(*args, **kwargs)

    return wrapper


def link(endpoint: str, **values: Any) -> str:
    """url_for that keeps the session id in the URL when the cookie is not working."""
    viewer: Viewer | None = g.get("viewer")
    if viewer is not None and viewer.token_in_url:
        values[TOKEN_PARAM] = viewer.session_id
    return url_for(endpoint, **values)
