"""Logging: plain text for a developer's terminal, JSON lines for production collectors,
and a request id on every line written while serving a request (also returned to the
client as ``X-Request-ID``, and taken from a proxy's header when it sends a sane one).

No log line holds a tool session id (issue 15): the id may ride in a URL (``?s=``), the
``X-CPT-Session`` header or the ``cpt_session`` cookie, and whoever reads a log must not be
able to open a student's session with it. ``redact`` blanks those values in the tool's own
lines, in the built-in server's access lines (``cpt-lti serve``, werkzeug) and in
gunicorn's access log (``RedactingGunicornLogger``, named in config/gunicorn.conf.py).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
REDACTED = "[redacted]"
# ``s=`` as a query/form parameter (after ?, & or ; or at the start of a bare query string)
# and the session cookie; then the session header, however it is written out.
_IN_URL = re.compile(r"(^|[?&;\s])((?:s|cpt_session)=)[^&;\s\"'#]*")
_IN_HEADER = re.compile(r"(x-cpt-session['\"]?\s*[:=,]\s*['\"]?)[^\s'\",;}]+", re.I)
_SESSION_ATOMS = ("{x-cpt-session}i", "{http_x_cpt_session}e")


def redact(text: str) -> str:
    """``text`` with every session id blanked (a URL, a query string, a header line)."""
    return _IN_HEADER.sub(rf"\1{REDACTED}", _IN_URL.sub(rf"\1\2{REDACTED}", text))


class RedactFilter(logging.Filter):
    """Rewrites a record's message without session ids (formatted once, here, so the
    arguments cannot bring one back)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = (g.get("request_id", "-") if has_request_context() else "-")
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str, form: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactFilter())
    if form == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_cpt_lti", False)]:
        root.removeHandler(old)
    handler._cpt_lti = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # The built-in server's access lines ("GET /home?s=... HTTP/1.1" 200) are records of
    # the werkzeug logger; a filter there redacts them whatever handler writes them.
    werkzeug_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactFilter) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(RedactFilter())


def gunicorn_logger_class() -> type:
    """gunicorn's logger with session ids blanked in every access-log atom (request line,
    query string, Referer, headers, environ): config/gunicorn.conf.py names it, so any
    ``access_log_format`` an operator picks stays clean."""
    from gunicorn.glogging import Logger

    class RedactingGunicornLogger(Logger):
        def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any
                  ) -> dict[str, Any]:
            atoms = super().atoms(resp, req, environ, request_time)
            for key in _SESSION_ATOMS:
                if key in atoms:
                    atoms[key] = REDACTED
            return {k: redact(v) if isinstance(v, str) else v for k, v in atoms.items()}

    return RedactingGunicornLogger


def register(app: Flask) -> None:
    @app.before_request
    def _request_id() -> None:
        sent = request.headers.get("X-Request-ID", "")
        g.request_id = sent if _SAFE_ID.match(sent) else uuid.uuid4().hex

    @app.after_request
    def _echo(response):
        response.headers.setdefault("X-Request-ID", g.get("request_id", ""))
        return response
