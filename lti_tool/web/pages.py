"""The tool's own front page, health check and sign-out (everything else is reached by
launch)."""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, g, jsonify, make_response, render_template, request
from sqlalchemy import text

from lti_tool.ops.metrics import outbox_health, prometheus_text
from lti_tool.web.auth import login_required
from lti_tool.web.runtime import runtime
from lti_tool.web.sessions import clear_cookie, end_session

bp = Blueprint("pages", __name__)


@bp.route("/")
def index():
    rt = runtime()
    s = rt.settings
    urls = {
        "login": s.url("/lti/login"),
        "launch": s.url("/lti/launch"),
        "jwks": s.url("/lti/jwks"),
    }
    return render_template("index.html", urls=urls, sandbox=s.sandbox)


@bp.route("/no-submission")
def no_submission():
    """Where a submission review lands when there is no finished attempt to show."""
    return render_template("http_error.html", status=200, title="Nothing to review yet",
                           message="This student has not finished this activity yet.")


@bp.route("/ping")
def ping():
    """No DB, no templates: the baseline the benchmarks compare real routes against."""
    return "ok", 200, {"Content-Type": "text/plain"}


@bp.post("/logout")
@login_required
def logout():
    """Sign out: the session ends (its id opens nothing any more, from the cookie or a
    URL) and the cookie is cleared; the page says how to come back."""
    rt = runtime()
    with rt.transaction() as db:
        end_session(db, g.viewer.session_id)
    g.pop("viewer", None)  # the page below belongs to no session: no sign-out form on it
    response = make_response(render_template("signed_out.html"))
    clear_cookie(response, rt)
    return response


def _operator(token: str) -> bool:
    """The request carries ``Authorization: Bearer <metrics_token>`` (never true while
    no token is configured)."""
    sent = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())


@bp.route("/health")
def health():
    """For load balancers: 200 ``{"status": "ok"}`` when the DB answers, 503
    ``{"status": "down"}`` otherwise, and nothing more for the public. With the metrics
    token also the database state and the outbox backlog, oldest waiting age and last
    error per destination: LRS names and error texts are for operators, not strangers.
    (An LRS being down is not this instance's ill health: it never turns the answer
    into 503.)"""
    rt = runtime()
    detailed = _operator(rt.settings.metrics_token)
    try:
        with rt.transaction() as db:
            db.execute(text("SELECT 1"))
            outbox = outbox_health(db, rt.clock()) if detailed else None
    except Exception:  # noqa: BLE001 - any DB failure means "not healthy"
        down = {"status": "down", **({"database": "unreachable"} if detailed else {})}
        return jsonify(down), 503
    if not detailed:
        return jsonify(status="ok")
    return jsonify(status="ok", database="ok", outbox=outbox)


@bp.route("/metrics")
def metrics():
    """Prometheus text format, behind CPT_LTI_METRICS_TOKEN (off when unset)."""
    rt = runtime()
    if not rt.settings.metrics_token:
        abort(404)
    if not _operator(rt.settings.metrics_token):
        return "unauthorized\n", 401, {"Content-Type": "text/plain",
                                        "WWW-Authenticate": "Bearer"}
    rt.tally.write(rt.sessions)  # this process's latest counts (other processes: < 1 s old)
    with rt.transaction() as db:
        body = prometheus_text(db, rt.clock())
    return body, 200, {"Content-Type": "text/plain; version=0.0.4", "Cache-Control": "no-store"}


@bp.route("/xapi/profile")
def xapi_profile():
    """The xAPI Profile (JSON-LD) that documents every statement the tool sends; analytics
    teams read it to know what the verbs, activity types and extensions mean."""
    from xapi.profile import load_profile

    response = jsonify(load_profile())
    response.mimetype = "application/ld+json"
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
