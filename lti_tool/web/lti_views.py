"""Views of the LTI routes: /lti/login, /lti/launch, /lti/jwks. Parse, call the edge, render."""

from __future__ import annotations

from flask import Blueprint, jsonify, make_response, redirect, render_template, request, url_for

from lti_tool.curriculum.modules import modules, technologies
from lti_tool.lti import errors
from lti_tool.lti.keys import KeyService
from lti_tool.lti.launch import LtiEdge, PlatformStorageLogin
from lti_tool.lti.records import record_launch
from lti_tool.models import Course, Platform, Role, User
from lti_tool.runtime import runtime
from lti_tool.web.errors import launch_error_page
from lti_tool.web.sessions import TOKEN_PARAM, set_cookie, start_session

bp = Blueprint("lti", __name__)


def _params() -> dict[str, str]:
    source = request.args if request.method == "GET" else request.form
    return {k: v for k, v in source.items() if isinstance(v, str)}


@bp.route("/lti/login", methods=["GET", "POST"])
def login():
    """OIDC third-party initiated login (LTI 1.3 Core 5.1.1, OIDC Core 4)."""
    rt = runtime()
    # The redirect URI is on the origin the browser used, so the state cookie comes back.
    launch_url = request.url_root.rstrip("/") + "/lti/launch"
    with rt.transaction() as db:
        result = LtiEdge(db, rt.settings, rt.clock).login(_params(), launch_url)
    if not isinstance(result, PlatformStorageLogin):
        return result
    # Platform storage: a page stores state and nonce in the LMS frame, then redirects.
    response = result.response
    response.status_code = 200
    del response.headers["Location"]
    response.mimetype = "text/html"
    response.set_data(render_template("platform_storage.html", form=None, cfg={
        "mode": "put", "target": result.target, "origin": result.origin,
        "state": result.state, "nonce": result.nonce, "redirect": result.redirect_url}))
    return response


@bp.route("/lti/launch", methods=["POST"])
def launch():
    rt = runtime()
    with rt.transaction() as db:
        check = LtiEdge(db, rt.settings, rt.clock).platform_storage_check()
    if check is not None:
        return render_template("platform_storage.html", form={
            "id_token": check.id_token, "state": check.state}, cfg={
            "mode": "get", "target": check.target, "origin": check.origin,
            "state": check.state, "nonce": check.nonce})
    try:
        with rt.transaction() as db:
            ctx = LtiEdge(db, rt.settings, rt.clock).launch()
            record = record_launch(db, ctx, rt.clock)
            tool_session = start_session(db, rt, record, ctx.launch_id)
            user = db.get(User, record.user_id)
            course = db.get(Course, record.course_id) if record.course_id else None
            platform = db.get(Platform, ctx.platform_id)
            if record.role == Role.LEARNER:
                # Students land on their home page; the session id rides in the URL in
                # case the iframe drops the cookie.
                home = url_for("student.home", **{TOKEN_PARAM: tool_session.id})
                html = None
            else:
                html = render_template("instructor.html", user=user, course=course,
                                       platform=platform, role=record.role, ctx=ctx,
                                       modules=modules(),
                                       technologies=[t.title for t in technologies()])
    except errors.StaleStateError as exc:
        with rt.transaction() as db:
            restart = LtiEdge(db, rt.settings, rt.clock).login_params_for_state(
                request.form.get("state"))
        if restart:
            exc.issuer, exc.client_id = restart.get("iss"), restart.get("client_id")
        return launch_error_page(exc, restart)
    response = make_response(html) if html is not None else redirect(home, 303)
    set_cookie(response, rt, tool_session)
    return response


@bp.route("/lti/jwks")
def jwks():
    """The tool's public keys; short caching so platforms see a rotation within minutes."""
    rt = runtime()
    with rt.transaction() as db:
        body = KeyService(db).jwks()
    response = jsonify(body)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
