"""The tool's own front page and health check (everything else is reached by launch)."""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, jsonify, render_template, request
from sqlalchemy import text

from lti_tool.metrics import outbox_health, prometheus_text
from lti_tool.runtime import runtime

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


@bp.route("/health")
def health():
    """For load balancers: 200 when the DB answers, 503 otherwise; with the outbox backlog
    and oldest waiting age per destination (an LRS being down is not this instance's
    ill health, so it does not turn the answer into 503)."""
    rt = runtime()
    try:
        with rt.transaction() as db:
            db.execute(text("SELECT 1"))
            outbox = outbox_health(db, rt.clock())
    except Exception:  # noqa: BLE001 - any DB failure means "not healthy"
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok", outbox=outbox)


@bp.route("/metrics")
def metrics():
    """Prometheus text format, behind CPT_LTI_METRICS_TOKEN (off when unset)."""
    rt = runtime()
    token = rt.settings.metrics_token
    if not token:
        abort(404)
    sent = request.headers.get("Authorization", "")
    if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
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
