"""Views of the LTI routes: /lti/login, /lti/launch, /lti/jwks. Parse, call the edge, render."""

from __future__ import annotations

from random import Random

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from lti_tool.curriculum.modules import modules, technologies
from lti_tool.lti import errors
from lti_tool.lti.deep_linking import checked_return_url, deep_linking_response
from lti_tool.lti.keys import KeyService
from lti_tool.lti.launch import LtiEdge, PlatformStorageLogin
from lti_tool.lti.records import record_launch
from lti_tool.lti.storage import DbLaunchDataStorage
from lti_tool.models import (
    Attempt,
    AttemptStatus,
    CurriculumModule,
    ResourceLink,
    Role,
    ToolSession,
    User,
)
from lti_tool.ops.metrics import LAUNCHES
from lti_tool.practice.placement import activities, link_placement, menu, target
from lti_tool.practice.service import PracticeService
from lti_tool.web.auth import staff_required, viewer_for
from lti_tool.web.errors import launch_error_page
from lti_tool.web.framing import origin_of
from lti_tool.web.runtime import runtime
from lti_tool.web.security import allow_form_action
from lti_tool.web.sessions import TOKEN_PARAM, set_cookie, start_session

bp = Blueprint("lti", __name__)


def _params() -> dict[str, str]:
    source = request.args if request.method == "GET" else request.form
    return {k: v for k, v in source.items() if isinstance(v, str)}


@bp.route("/lti/login", methods=["GET", "POST"])
def login():
    """OIDC third-party initiated login (LTI 1.3 Core 5.1.1, OIDC Core 4)."""
    rt = runtime()
    # The redirect URI is the registered one, from the configured base URL: never from
    # the Host header, which would let a request have the id_token posted elsewhere.
    launch_url = rt.settings.url("/lti/launch")
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
    check = None
    state = request.form.get("state")
    if not state or request.cookies.get(f"lti1p3-{state}") != state:
        # No matching state cookie: maybe a cookie-less launch that platform storage can
        # finish (the usual launch, with its cookie, needs no look at the database here).
        with rt.transaction() as db:
            check = LtiEdge(db, rt.settings, rt.clock).platform_storage_check()
    if check is not None:
        return render_template("platform_storage.html", form={
            "id_token": check.id_token, "state": check.state}, cfg={
            "mode": "get", "target": check.target, "origin": check.origin,
            "state": check.state, "nonce": check.nonce})
    try:
        with rt.transaction() as db:
            edge = LtiEdge(db, rt.settings, rt.clock)
            ctx = edge.launch()
            record = record_launch(db, ctx, rt.clock, edge.tool_conf.known_deployment(
                ctx.platform_id, ctx.deployment_id))
            # Ends this person's older sessions of the same link context (issue 15).
            tool_session = start_session(db, rt, record, ctx.launch_id, request)
            user, course, platform = record.user, record.course, record.platform
            html, home = None, None
            if ctx.message_type == "LtiSubmissionReviewRequest":
                home = _review_url(db, ctx, record, tool_session.id)
            elif ctx.is_deep_linking:
                if record.role == Role.LEARNER:
                    raise errors.UnsupportedMessageError(
                        "only instructors can add CPT Practice activities to a course")
                # Before the picker: where the response will be posted must be usable.
                checked_return_url(ctx.deep_linking, rt.settings, issuer=ctx.issuer,
                                   client_id=ctx.client_id)
                g.viewer = viewer_for(tool_session, user, token_in_url=True)
                html = render_template("deep_link_picker.html", ctx=ctx, course=course,
                                       menu=menu(db),
                                       multiple=_truthy(ctx.deep_linking or {},
                                                        "accept_multiple"))
            elif record.role == Role.LEARNER:
                # Students land on the placed activity, or their home page; the session id
                # rides in the URL in case the iframe drops the cookie (the landing request
                # drops it again when the cookie comes back: sessions.register).
                home = _landing_url(db, rt, ctx, record, tool_session.id)
            else:
                g.viewer = viewer_for(tool_session, user, token_in_url=True)
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
    rt.tally.count(rt.sessions, LAUNCHES, "ok")  # after the commit: only launches that held
    response = make_response(html) if html is not None else redirect(home, 303)
    set_cookie(response, rt, tool_session)
    return response


def _truthy(settings: dict, key: str) -> bool:
    value = settings.get(key, True)
    return value is True or str(value).lower() == "true"


def _landing_url(db, rt, ctx, record, session_id: str) -> str:
    """Where a student's launch goes: the placed activity (custom ``activity``,
    ``module`` and maybe its ``lesson`` or ``key_activity``, which survive course copy;
    checked against the curriculum by placement.target), else the module's page when
    the link names a real module, else the home page."""
    token = {TOKEN_PARAM: session_id}
    custom: dict = ctx.custom
    if not custom.get("activity") and record.resource_link_id is not None:
        # A course copy that dropped the link's custom: what it carried (lti/copies.py).
        row = db.get(ResourceLink, record.resource_link_id)
        custom = (row.carried_placement if row is not None else None) or custom
    placed = target(db, custom)
    if placed is None:
        module_id = custom.get("module")
        if isinstance(module_id, str) and db.get(CurriculumModule, module_id):
            return url_for("student.module", module_id=module_id, **token)
        return url_for("student.home", **token)
    spec, module_id = placed.spec, placed.module_id
    if spec.lesson_checks and placed.lesson_id is None:  # a module's lessons: its page
        return url_for("student.module", module_id=module_id, **token)
    kind = spec.mode
    svc = PracticeService(db, rt.clock, Random())
    if spec.graded:  # a test or exam: the start screen first, or resume the open one
        graded = link_placement(db, record.resource_link_id)
        size = graded.size_for(kind, module_id) if graded else None
        facts = svc.start_facts(record.user_id, kind, module_id,
                                course_id=record.course_id,
                                resource_link_id=record.resource_link_id, size=size)
        if facts.open_attempt is not None:
            return url_for("student.play", attempt_id=facts.open_attempt.attempt_id,
                           **token)
        return url_for("student.start_screen", mode=kind.value, module_id=module_id,
                       **token)
    # A drill (of the module or one key activity) or one lesson's checks: started, or
    # the open one resumed.
    attempt = svc.start(record.user_id, kind, module_id, course_id=record.course_id,
                        resource_link_id=record.resource_link_id,
                        key_activity_id=placed.key_activity_id, lesson_id=placed.lesson_id)
    return url_for("student.play", attempt_id=attempt.id, **token)


def _review_url(db, ctx, record, session_id: str) -> str:
    """Submission review (gradebook -> the work behind a grade): the latest finished
    attempt of ``for_user`` on this link; students may only review their own."""
    token = {TOKEN_PARAM: session_id}
    sub = ctx.for_user_sub if record.role != Role.LEARNER else ctx.sub
    if record.role == Role.LEARNER and ctx.for_user_sub not in (None, ctx.sub):
        raise errors.UnsupportedMessageError("students can only review their own work")
    student = db.scalars(select(User).where(User.platform_id == ctx.platform_id,
                                            User.sub == sub)).first()
    attempt = None
    if student is not None and record.resource_link_id is not None:
        attempt = db.scalars(select(Attempt).where(
            Attempt.user_id == student.id, Attempt.resource_link_id == record.resource_link_id,
            Attempt.status == AttemptStatus.SUBMITTED,
            Attempt.counts_for_grade.is_(True)).order_by(  # the work behind the grade
            Attempt.submitted_at.desc())).first()
    if attempt is None:
        return url_for("pages.no_submission", **token)
    if record.role == Role.LEARNER:
        return url_for("student.results", attempt_id=attempt.id, **token)
    return url_for("instructor.attempt_review", attempt_id=attempt.id, **token)


@bp.post("/lti/deep-link")
@staff_required
def deep_link_response():
    """The instructor's picks -> a signed LtiDeepLinkingResponse posted back to the LMS."""
    rt = runtime()
    picks = request.form.getlist("activity")
    with rt.transaction() as db:
        by_key = {a.key: a for a in activities(db)}
        if not picks:
            abort(400, description="Pick at least one activity from the list.")
        if len(picks) > len(by_key):
            abort(400, description=f"Pick at most {len(by_key)} activities.")
        unknown = next((k for k in picks if k not in by_key), None)
        if unknown is not None:
            # A module, lesson or key activity this release does not have (or a pick of
            # another module's topic): said plainly, never placed as something else.
            shown = "".join(c for c in unknown[:80] if c.isprintable())
            abort(400, description=f"'{shown}' is not an activity you can place: pick "
                                   "from the list (reload it after a content update).")
        chosen = [by_key[k] for k in picks]
        row = db.get(ToolSession, g.viewer.session_id)
        launch_id = request.form.get("launch_id", "")
        if row is None or row.launch_id != launch_id:
            # Only the instructor who started this Deep Linking launch can answer it.
            abort(403, description="This selection belongs to another launch.")
        storage = DbLaunchDataStorage(db, rt.clock, rt.settings.launch_state_seconds)
        return_url, token = deep_linking_response(db, storage, launch_id, chosen,
                                                  rt.settings)
    # The return URL was checked (absolute http(s), a host, no user info): this page's
    # form may post there even when no registration names that origin.
    allow_form_action(origin_of(return_url) or "'none'")
    return render_template("deep_link_return.html", action=return_url, jwt=token,
                           count=len(chosen))


@bp.route("/lti/jwks")
def jwks():
    """The tool's public keys; short caching so platforms see a rotation within minutes."""
    rt = runtime()
    with rt.transaction() as db:
        body = KeyService(db).jwks()
    response = jsonify(body)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.route("/lti/canvas.json")
def canvas_json():
    """Canvas developer-key configuration (Admin > Developer Keys > + LTI Key > Paste JSON)."""
    from lti_tool.lti.registration import canvas_configuration

    response = jsonify(canvas_configuration(runtime().settings))
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/lti/register")
def dynamic_registration():
    """1EdTech Dynamic Registration: the LMS opens this with its openid_configuration URL
    and a one-time registration token; we register and ask the LMS to close the window."""
    from lti_tool.lti.http import lms_session
    from lti_tool.lti.registration import MAX_ANSWER_BYTES, RegistrationError, register

    rt = runtime()
    config_url = request.args.get("openid_configuration", "")
    token = request.args.get("registration_token") or None
    if not config_url:
        return render_template(
            "http_error.html", status=400, title="Registration needs the LMS's address",
            message="Open this page from your LMS's \"add a tool by registration URL\" "
                    "screen: it adds the openid_configuration parameter."), 400
    if len(config_url) > 2048 or len(token or "") > 8192:
        return render_template(
            "http_error.html", status=400, title="Registration parameters are too long",
            message="The openid_configuration address or the registration token is longer "
                    "than an LMS sends."), 400
    http = lms_session(rt.settings, max_response_bytes=MAX_ANSWER_BYTES)
    try:
        with rt.transaction() as db:
            outcome = register(db, rt.settings, http, config_url, token,
                               require_approval=rt.settings.registration_require_approval)
    except RegistrationError as exc:
        current_app.logger.warning("dynamic registration failed: %s", exc)
        return render_template("registration_failed.html", message=str(exc)), 400
    finally:
        http.close()
    current_app.logger.info("dynamic registration: %s client %s: %s", outcome.issuer,
                            outcome.client_id, outcome.status)
    return render_template("registration_done.html", outcome=outcome)
