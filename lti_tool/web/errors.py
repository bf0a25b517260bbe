"""One place that turns refusals and failures into pages: HTML for people, JSON for APIs.

A refused launch names what failed and what an admin should check; nothing here ever shows
a stack trace, and unexpected errors are logged with an id the page repeats.
"""

from __future__ import annotations

import logging
import secrets

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from lti_tool.lti.errors import LaunchError
from lti_tool.ops.launch_failures import note_failed_launch
from lti_tool.ops.metrics import LAUNCHES
from lti_tool.practice.errors import PracticeError
from lti_tool.web.runtime import runtime

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    """The API, or a client that prefers JSON. ``Accept: */*`` (curl, many scripts) gets
    the page a person would: HTML is listed first so a tie goes to it."""
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best_match(["text/html", "application/json"])
        == "application/json")


def launch_error_page(exc: LaunchError, restart_params: dict[str, str] | None = None
                      ) -> tuple[str, int]:
    log.warning("launch refused: %s (%s) issuer=%s client_id=%s", exc.code, exc.detail,
                exc.issuer, exc.client_id)
    rt = runtime()
    rt.tally.count(rt.sessions, LAUNCHES, exc.code)  # never raises: see Tally.write
    if request.endpoint == "lti.launch":  # an id_token naming a registered platform
        note_failed_launch(rt.sessions, exc, rt.clock())  # never raises either
    return render_template("launch_error.html", error=exc, restart_params=restart_params,
                           ), exc.status


DB_RETRY_SECONDS = 5


def _database_unavailable(exc: DBAPIError):
    """The database cannot be reached (restarting, failing over, or on SQLite locked for
    longer than the busy timeout): a 503 that says to try again, never a 500 incident.
    The next request gets a fresh connection (pool pre-ping), so no one has to restart the
    app. Nothing was half-done: the request's transaction was rolled back."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
    log.warning("database unavailable on %s %s: %s", request.method, request.path, reason)
    message = "The database is unavailable for a moment. Please try again."
    if _wants_json():
        response: Response = jsonify(error_code="database_unavailable", message=message)
        response.status_code = 503
    else:
        response = Response(render_template("http_error.html", status=503,
                                            title="Please try again in a moment",
                                            message=message), status=503)
    response.headers["Retry-After"] = str(DB_RETRY_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


PRACTICE_STATUS = {"not_found": 404, "invalid_request": 400, "attempt_closed": 409,
                   "conflict": 409, "content_not_loaded": 500}


def register(app: Flask) -> None:
    @app.errorhandler(PracticeError)
    def _practice_error(exc: PracticeError):
        status = PRACTICE_STATUS.get(exc.code, 400)
        if _wants_json():
            response = jsonify(error_code=exc.code, message=str(exc))
            response.status_code = status
            return response
        return render_template("http_error.html", status=status, title="That did not work",
                               message=str(exc)), status

    @app.errorhandler(LaunchError)
    def _launch_error(exc: LaunchError):
        return launch_error_page(exc)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if _wants_json():
            response: Response = jsonify(error_code=exc.name.lower().replace(" ", "_"),
                                         message=exc.description)
            response.status_code = exc.code or 500
            return response
        return render_template("http_error.html", status=exc.code, title=exc.name,
                               message=exc.description), exc.code or 500

    @app.errorhandler(OperationalError)
    def _operational_error(exc: OperationalError):
        return _database_unavailable(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return _database_unavailable(exc)  # the connection died under the request
        incident = secrets.token_hex(4)
        log.exception("unexpected error %s on %s %s", incident, request.method, request.path)
        if _wants_json():
            response = jsonify(error_code="internal_error",
                               message=f"Something went wrong (incident {incident}).")
            response.status_code = 500
            return response
        return render_template("http_error.html", status=500, title="Something went wrong",
                               message=f"The problem was logged as incident {incident}. "
                                       "Please try again; if it persists, tell your "
                                       "administrator the incident number."), 500
