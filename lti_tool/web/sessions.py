"""Server-side sessions: the browser holds a random id, the DB holds who it is.

A launch redirects to its landing page with the id in the URL (``?s=``), so the first page
works even where the LMS iframe blocks cookies; the cookie (SameSite=None; Secure;
Partitioned over HTTPS) serves the pages after it. The id leaves the URL as soon as the
cookie is seen to work: a GET that brings the cookie back with the same id as its ``?s=``
is sent on to the same URL without it, and ``auth.link`` stops adding it. The id never
reaches a log (``lti_tool.ops.logs`` redacts it).

What bounds a session (issue 15): it ends ``session_hours`` after the launch, after
``session_idle_minutes`` without a request, when the same person launches the same link
context again (a shared computer's next student, a second tab: the newer launch wins), and
on sign-out. It is bound to the launching browser's User-Agent: cheap, and it makes an id
copied out of a URL (a chat, a screenshot, a proxy log) useless in another browser. The
User-Agent is no secret, so this is a speed bump, not a key; the idle limit and relaunch
revocation are what bound a leaked id's life.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Request, Response, redirect, request
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from lti_tool.lti.cookies import iframe_cookie
from lti_tool.lti.records import LaunchRecord
from lti_tool.models import ToolSession
from lti_tool.settings import Settings
from lti_tool.web.runtime import Runtime

COOKIE = "cpt_session"
TOKEN_PARAM = "s"
TOKEN_HEADER = "X-CPT-Session"
# How stale last_seen_at may get before a request writes it: idle expiry is exact to a
# minute, and a student's pages cost one write a minute instead of one per request.
TOUCH_EVERY = timedelta(minutes=1)


def agent_digest(req: Request) -> str:
    """What a session is bound to: a digest of the browser's User-Agent (not the UA
    itself: the table need not hold what identifies a device)."""
    return hashlib.sha256((req.headers.get("User-Agent") or "").encode(
        "utf-8", "replace")).hexdigest()


def _same(column: Any, value: int | None) -> Any:
    return column.is_(None) if value is None else column == value


def start_session(db: Session, rt: Runtime, record: LaunchRecord, launch_id: str,
                  req: Request) -> ToolSession:
    """A new session for a launch; the same person's older sessions of the same link
    context (course and resource link) end here."""
    now = rt.clock()
    db.execute(delete(ToolSession).where(
        ToolSession.user_id == record.user_id,
        _same(ToolSession.resource_link_id, record.resource_link_id),
        _same(ToolSession.course_id, record.course_id)))
    row = ToolSession(
        id=secrets.token_urlsafe(32), user_id=record.user_id, course_id=record.course_id,
        resource_link_id=record.resource_link_id, role=record.role,
        csrf_token=secrets.token_urlsafe(32), launch_id=launch_id, created_at=now,
        expires_at=now + timedelta(hours=rt.settings.session_hours), last_seen_at=now,
        agent_digest=agent_digest(req),
    )
    db.add(row)
    db.flush()
    return row


def is_live(expires_at: datetime, last_seen_at: datetime, digest: str | None,
            settings: Settings, now: datetime, req: Request) -> bool:
    """Whether a stored session still opens: not past its hours, not idle too long, and
    asked for by the browser that launched it."""
    if expires_at <= now:
        return False
    if last_seen_at + timedelta(minutes=settings.session_idle_minutes) <= now:
        return False
    return digest is None or hmac.compare_digest(digest, agent_digest(req))


def touch_if_due(db: Session, session_id: str, last_seen_at: datetime,
                 now: datetime) -> None:
    """Restart the idle clock, at most once a ``TOUCH_EVERY``, committed at once: a short
    write of its own rather than a row lock held for the rest of the view's transaction
    (parallel API calls of one student would wait on it)."""
    if now - last_seen_at < TOUCH_EVERY:
        return
    db.execute(update(ToolSession).where(ToolSession.id == session_id,
                                         ToolSession.last_seen_at < now)
               .values(last_seen_at=now))
    db.commit()


def end_session(db: Session, session_id: str) -> None:
    db.execute(delete(ToolSession).where(ToolSession.id == session_id))


def set_cookie(response: Response, rt: Runtime, row: ToolSession) -> None:
    response.set_cookie(COOKIE, row.id, max_age=rt.settings.session_hours * 3600,
                        **iframe_cookie(rt.settings.is_https))


def clear_cookie(response: Response, rt: Runtime) -> None:
    """Deleted with the attributes it was set with (a Partitioned cookie is only
    replaced by a Partitioned one)."""
    response.delete_cookie(COOKIE, **iframe_cookie(rt.settings.is_https))


def session_token(req: Request) -> tuple[str | None, bool]:
    """The session id and whether it came from the cookie.

    Inside an LMS iframe the browser may drop our cookie after the launch; then pages carry
    the id in the URL (``?s=``) or forms, and scripts send it in ``X-CPT-Session``.
    """
    sid = req.cookies.get(COOKIE)
    if sid:
        return sid, True
    sid = (req.headers.get(TOKEN_HEADER) or req.args.get(TOKEN_PARAM)
           or req.form.get(TOKEN_PARAM))
    return sid, False


def register(app: Flask) -> None:
    @app.before_request
    def _drop_id_from_url() -> Response | None:
        """The cookie came back with the very id the URL carries: the URL need not carry
        it any more. Same page, same query, without ``s`` (no DB read: the page it lands
        on checks the session)."""
        if request.method not in ("GET", "HEAD"):
            return None
        sent, cookie = request.args.get(TOKEN_PARAM), request.cookies.get(COOKIE)
        if not sent or not cookie or not hmac.compare_digest(sent.encode(), cookie.encode()):
            return None
        query = urlencode([(k, v) for k, v in request.args.items(multi=True)
                           if k != TOKEN_PARAM])
        return redirect(request.script_root + request.path + (f"?{query}" if query else ""),
                        303)
