"""The admin console at /admin: platforms and deployments, LRSs, keys, delivery health.

Its own door: a password sign-in (a backoff per client address and account, kept in the
DB: see lti_tool.ops.admin), its own strict cookie scoped to /admin, a CSRF token on every
form. LTI sessions are not accepted here.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from sqlalchemy import func, select

from lti_tool.delivery.destinations import LrsConfigError, add_lrs, remove_lrs
from lti_tool.lti.keys import KeyService, ToolKeyError
from lti_tool.lti.platforms import (
    PlatformError,
    PlatformNotFoundError,
    PlatformService,
    PlatformSpec,
)
from lti_tool.lti.registration import (
    RegistrationError,
    approve_registration,
    pending_as_dict,
    pending_registrations,
    reject_registration,
)
from lti_tool.models import Course, Deployment, DeploymentPolicy, LmsFamily, Platform, User
from lti_tool.ops.admin import AdminError, AdminService, TooManyAttempts
from lti_tool.ops.doctor import last_check, run_checks
from lti_tool.ops.launch_failures import hint_for
from lti_tool.ops.platform_page import platform_page
from lti_tool.web.runtime import runtime

bp = Blueprint("admin", __name__, url_prefix="/admin")
COOKIE = "cpt_admin"
# How a held sign-in waits; tests replace it to record the wait instead of sleeping.
pause: Callable[[float], None] = time.sleep


def _service(db) -> AdminService:
    return AdminService(db, runtime().clock)


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with runtime().transaction() as db:
            signed = _service(db).current(request.cookies.get(COOKIE))
        if signed is None:
            return redirect(url_for("admin.login"))
        if request.method == "POST":
            sent = request.form.get("csrf_token", "")
            if not hmac.compare_digest(sent, signed.csrf_token):
                abort(403, description="The form was missing its security token. Reload "
                                       "the page and try again.")
        g.admin = signed
        return view(*args, **kwargs)

    return wrapper


@bp.after_request
def _no_framing(response):
    """The console is never shown inside an LMS frame, and never cached."""
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; form-action 'self'; frame-ancestors 'none'")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    rt = runtime()
    message, status = None, 200
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        address = request.remote_addr or "-"
        try:
            with rt.transaction() as db:
                delay = _service(db).backoff(username, address)
            if delay:
                pause(delay)  # outside any transaction: a held try holds no connection
            with rt.transaction() as db:
                signed = _service(db).sign_in(username, password, address)
        except TooManyAttempts as exc:
            return render_template("admin_login.html", message=str(exc)), 429
        if signed is not None:
            response = redirect(url_for("admin.console"))
            response.set_cookie(COOKIE, signed.session_id, max_age=8 * 3600, httponly=True,
                                secure=rt.settings.is_https, samesite="Strict", path="/admin")
            return response
        message, status = "That user name and password do not match.", 401
    return render_template("admin_login.html", message=message), status


@bp.post("/logout")
@admin_required
def logout():
    with runtime().transaction() as db:
        _service(db).sign_out(g.admin.session_id)
    response = redirect(url_for("admin.login"))
    response.delete_cookie(COOKIE, path="/admin")
    return response


@bp.get("/")
@admin_required
def console():
    rt = runtime()
    with rt.transaction() as db:
        service = _service(db)
        platforms = service.overview()
        for p in platforms:  # the launch doctor's last result, shown with its button
            p["doctor"] = last_check(db, p["id"])
        pending = [pending_as_dict(db, r) for r in pending_registrations(db)]
        unrouted = service.unrouted()
        keys = KeyService(db, rt.clock)
        key_rows = [{"kid": k.kid, "status": keys.status(k), "created_at": k.created_at,
                     "signs_from": k.activates_at or k.created_at} for k in keys.all()]
    return render_template("admin_console.html", platforms=platforms, keys=key_rows,
                           pending=pending, tool_urls=tool_urls(),
                           unrouted=unrouted, notice=request.args.get("notice"),
                           csrf_token=g.admin.csrf_token, admin=g.admin,
                           default_lrs=bool(rt.settings.xapi_endpoint))


@bp.get("/platforms/<int:platform_id>")
@admin_required
def platform_view(platform_id: int):
    """One platform on a page of its own: LMS family, deployment policy and deployments,
    last launch and last refused launch, its outbox backlog per destination, and the
    launch doctor. Only that platform's rows; no LRS credential is ever shown."""
    rt = runtime()
    with rt.transaction() as db:
        platform = _platform_or_404(db, platform_id)
        page = platform_page(db, platform)
        return render_template(
            "admin_platform.html", platform=platform, page=page, now=rt.clock(),
            name=platform.name or platform.issuer,
            family=LmsFamily(platform.lms_family).value,
            policy=DeploymentPolicy(platform.deployment_policy).value,
            failed_hint=hint_for(platform.last_failed_launch_code,
                                 platform.last_failed_launch_reason),
            default_lrs=bool(rt.settings.xapi_endpoint), notice=request.args.get("notice"),
            doctor=last_check(db, platform.id), doctor_level=2, doctor_back="platform",
            csrf_token=g.admin.csrf_token, admin=g.admin)


def tool_urls() -> list[tuple[str, str, str]]:
    """What an LMS administrator types into Canvas or Moodle to register the tool:
    (label, URL, where the LMS asks for it). Built from ``base_url``, as every URL the
    tool gives an LMS is, never from this request's Host header."""
    url = runtime().settings.url
    return [
        ("OpenID Connect login (initiation) URL", url("/lti/login"),
         "Canvas: OpenID Connect Initiation Url. Moodle: Initiate login URL."),
        ("Launch (redirect) URL", url("/lti/launch"),
         "Canvas: Target Link URI and Redirect URIs. Moodle: Tool URL and Redirection URI."),
        ("Deep Linking URL", url("/lti/launch"),
         "The same launch URL: Deep Linking requests arrive there too. Moodle: tick "
         "Supports Deep Linking (Content-Item Message), then Content Selection URL."),
        ("Public keyset (JWKS) URL", url("/lti/jwks"),
         "Canvas: Public JWK URL. Moodle: Public keyset."),
        ("Dynamic Registration URL", url("/lti/register"),
         "Moodle 4.1+: paste into Tool URL and press Add LTI Advantage."),
        ("Canvas configuration (JSON) URL", url("/lti/canvas.json"),
         "Canvas: Developer Keys, + LTI Key, Method: Enter URL."),
    ]


def _done(notice: str):
    return redirect(url_for("admin.console", notice=notice))


@bp.post("/platforms/<int:platform_id>/enabled")
@admin_required
def platform_enabled(platform_id: int):
    """Disable (launches refused, the LMS no longer frames the tool) or enable again.
    Nothing is deleted either way."""
    enabled = request.form.get("enabled") == "1"
    with runtime().transaction() as db:
        try:
            row = _service(db).set_platform_enabled(platform_id, enabled)
        except AdminError as exc:
            abort(404, description=str(exc))
        name = row.name or row.issuer
    _forget_frame_ancestors()
    return _done(f"{name}: {'enabled' if enabled else 'disabled: its launches are refused'}")


# The doctor's checks start within this many seconds of the button (each call then has the
# outbound deadline): the page answers before gunicorn's 60 s worker timeout.
DOCTOR_BUDGET = 30.0


@bp.post("/platforms/<int:platform_id>/check")
@admin_required
def platform_check(platform_id: int):
    """The launch doctor (`cpt-lti platform check`): asks the LMS now and keeps the result
    as the platform's last check, which the console shows. Outside any transaction: it
    calls the LMS (and the tool's own public URL) several times."""
    from lti_tool.web.framing import platform_origins

    rt = runtime()
    with rt.transaction() as db:
        platform = _platform_or_404(db, platform_id)
        name = platform.name or platform.issuer
    try:
        report = run_checks(rt.sessions, rt.settings, rt.clock, platform_id, platform_origins,
                            ran_by=f"admin {g.admin.username}", budget_seconds=DOCTOR_BUDGET)
    except LookupError as exc:
        abort(404, description=str(exc))
    failed = len(report.failed)
    notice = (f"{name}: every check passed" if not failed else
              f"{name}: {failed} check{'' if failed == 1 else 's'} failed - see its launch "
              "doctor result")
    # Back where the button was pressed: the platform's own page or the console.
    where = "admin.platform_view" if request.form.get("back") == "platform" else "admin.console"
    extra = {"platform_id": platform_id} if where == "admin.platform_view" else {}
    return redirect(url_for(where, notice=notice, _anchor=f"doctor-{platform_id}", **extra))


# --- add, edit, delete a platform ---------------------------------------------------------

# The longest text one form field may carry (a few deployment IDs or frame origins per line);
# PlatformService checks each value's own limit.
_MAX_FIELD = 8192


def _field(name: str) -> str:
    value = request.form.get(name, "")
    if len(value) > _MAX_FIELD or "\x00" in value:
        raise PlatformError(f"{name.replace('_', ' ')} is too long")
    return value


def _lines(name: str) -> tuple[str, ...]:
    """One value per line (deployment IDs, frame origins); blank lines are ignored."""
    return tuple(line.strip() for line in _field(name).splitlines() if line.strip())


def _spec(issuer: str, client_id: str) -> PlatformSpec:
    """The form as a PlatformSpec: the same checks as `cpt-lti platform add`."""
    return PlatformSpec(
        issuer=issuer, client_id=client_id,
        auth_login_url=_field("auth_login_url"), auth_token_url=_field("auth_token_url"),
        key_set_url=_field("key_set_url"), deployment_ids=_lines("deployment_ids"),
        name=_field("name"), auth_audience=_field("auth_audience"),
        deployment_policy=_field("deployment_policy") or "strict",
        frame_origins=_lines("frame_origins"),
        lms_family=_field("lms_family") or None,  # not sent: detected, or left as it is
        staff_roles=_lines("staff_roles"))


def _form_values(platform: Platform | None = None) -> dict[str, str]:
    """What the form shows: the posted values after a refusal, else the platform's."""
    if request.method == "POST":
        return {k: request.form.get(k, "")[:_MAX_FIELD] for k in (
            "name", "issuer", "client_id", "auth_login_url", "auth_token_url", "key_set_url",
            "auth_audience", "deployment_ids", "deployment_policy", "frame_origins",
            "lms_family", "staff_roles")}
    if platform is None:
        return {"deployment_policy": runtime().settings.deployment_policy}
    return {"name": platform.name, "issuer": platform.issuer, "client_id": platform.client_id,
            "auth_login_url": platform.auth_login_url,
            "auth_token_url": platform.auth_token_url, "key_set_url": platform.key_set_url,
            "auth_audience": platform.auth_audience or "",
            "deployment_policy": DeploymentPolicy(platform.deployment_policy).value,
            "frame_origins": "\n".join(platform.frame_origins.split()), "deployment_ids": "",
            "lms_family": LmsFamily(platform.lms_family).value,
            "staff_roles": "\n".join(platform.staff_roles.split())}


def _platform_form(platform: Platform | None, error: str | None = None, status: int = 200):
    deployments = ([d.deployment_id for d in sorted(platform.deployments, key=lambda d: d.id)]
                   if platform is not None else [])
    return render_template(
        "admin_platform_form.html", platform=platform, values=_form_values(platform),
        deployments=deployments, error=error, tool_urls=tool_urls(),
        policies=[p.value for p in DeploymentPolicy], families=[f.value for f in LmsFamily],
        csrf_token=g.admin.csrf_token,
        admin=g.admin), status


@bp.route("/platforms/new", methods=["GET", "POST"])
@admin_required
def platform_new():
    """Register an LMS by hand (what `cpt-lti platform add` does)."""
    rt = runtime()
    if request.method == "GET":
        return _platform_form(None)
    with rt.transaction() as db:
        service = PlatformService(db)
        try:
            issuer, client_id = _field("issuer").strip(), _field("client_id").strip()
            if service.find(issuer, client_id) is not None:
                raise PlatformError("a platform with this issuer and client ID is already "
                                    "registered: edit it instead")
            result = service.add(_spec(issuer, client_id), rt.settings.deployment_policy)
        except PlatformError as exc:
            db.rollback()
            return _platform_form(None, str(exc), 400)
        name = result.platform.name or result.platform.issuer
    _forget_frame_ancestors()
    return _done(f"{name}: registered")


def _platform_or_404(db, platform_id: int) -> Platform:
    row = db.get(Platform, platform_id)
    if row is None:
        abort(404, description=f"There is no platform {platform_id}.")
    return row


@bp.route("/platforms/<int:platform_id>/edit", methods=["GET", "POST"])
@admin_required
def platform_edit(platform_id: int):
    """Change a platform's name, URLs, policy, LMS and frame origins, add deployments.
    Issuer and client ID are the registration's identity: a different pair is a new
    platform (its users and courses are not carried over), so they are not edited here."""
    rt = runtime()
    with rt.transaction() as db:
        platform = _platform_or_404(db, platform_id)
        if request.method == "GET":
            return _platform_form(platform)
        try:
            result = PlatformService(db).add(_spec(platform.issuer, platform.client_id))
        except PlatformError as exc:
            db.rollback()
            return _platform_form(_platform_or_404(db, platform_id), str(exc), 400)
        name = result.platform.name or result.platform.issuer
        changed = len(result.changed_fields) + len(result.added_deployments)
    _forget_frame_ancestors()
    return _done(f"{name}: saved ({changed} change{'' if changed == 1 else 's'})")


@bp.route("/platforms/<int:platform_id>/delete", methods=["GET", "POST"])
@admin_required
def platform_delete(platform_id: int):
    """Delete a platform and everything of it: a confirmation page first, and the POST
    needs its checkbox ticked (no JavaScript needed). Disabling is the undoable way."""
    rt = runtime()
    with rt.transaction() as db:
        platform = _platform_or_404(db, platform_id)
        name = platform.name or platform.issuer
        confirmed = request.method == "POST" and request.form.get("confirm") == "yes"
        if not confirmed:
            users = db.scalar(select(func.count()).select_from(User).where(
                User.platform_id == platform_id)) or 0
            courses = db.scalar(select(func.count()).select_from(Course).join(
                Deployment, Course.deployment_id == Deployment.id).where(
                Deployment.platform_id == platform_id)) or 0
            error = ("Tick the box to confirm that you want to delete this platform."
                     if request.method == "POST" else None)
            return render_template(
                "admin_platform_delete.html", platform=platform, name=name, users=users,
                courses=courses, deployments=len(platform.deployments), error=error,
                csrf_token=g.admin.csrf_token, admin=g.admin), 400 if error else 200
        try:
            PlatformService(db).remove(platform.issuer, platform.client_id)
        except PlatformNotFoundError:  # deleted by someone else meanwhile
            abort(404, description=f"There is no platform {platform_id}.")
    _forget_frame_ancestors()
    return _done(f"{name}: deleted")


@bp.post("/registrations/<int:registration_id>/approve")
@admin_required
def registration_approve(registration_id: int):
    """Accept a Dynamic Registration: the only way one changes or adds a platform."""
    rt = runtime()
    with rt.transaction() as db:
        try:
            done = approve_registration(db, rt.settings, registration_id)
        except RegistrationError as exc:
            abort(404, description=str(exc))
        name = done.platform.name or done.platform.issuer
        enabled = done.platform.enabled
    _forget_frame_ancestors()
    return _done(f"{name}: registration approved"
                 + ("" if enabled else "; the platform is disabled, enable it to allow "
                                       "launches"))


@bp.post("/registrations/<int:registration_id>/reject")
@admin_required
def registration_reject(registration_id: int):
    with runtime().transaction() as db:
        try:
            row = reject_registration(db, registration_id)
        except RegistrationError as exc:
            abort(404, description=str(exc))
        name = row.name or row.issuer
    return _done(f"{name}: registration rejected")


def _forget_frame_ancestors() -> None:
    """An approved platform frames the tool at once in this process (others within the
    cache's lifetime)."""
    from flask import current_app

    cache = current_app.extensions.get("cpt_lti_frame_ancestors")
    if cache is not None:
        cache.clear()


@bp.post("/deployments/<int:deployment_id>/enabled")
@admin_required
def deployment_enabled(deployment_id: int):
    enabled = request.form.get("enabled") == "1"
    with runtime().transaction() as db:
        try:
            row = _service(db).set_deployment_enabled(deployment_id, enabled)
        except AdminError as exc:
            abort(404, description=str(exc))
        label, platform_id = row.deployment_id, row.platform_id
    notice = f"deployment {label}: {'enabled' if enabled else 'disabled'}"
    if request.form.get("back") == "platform":  # sent from the platform's own page
        return redirect(url_for("admin.platform_view", platform_id=platform_id,
                                notice=notice))
    return _done(notice)


@bp.post("/platforms/<int:platform_id>/lrs")
@admin_required
def lrs_add(platform_id: int):
    rt = runtime()
    form = request.form
    with rt.transaction() as db:
        platform = db.get(Platform, platform_id) or abort(404)
        try:
            row, created = add_lrs(db, rt.settings, platform, name=form.get("name", ""),
                                   url=form.get("endpoint", ""),
                                   username=form.get("username", ""),
                                   password=form.get("password", ""),
                                   actor_identity=form.get("actor_identity", "account"))
        except LrsConfigError as exc:
            return _done(f"LRS not saved: {exc}")
        name = row.name
    return _done(f"LRS {name} {'added' if created else 'updated'}")


@bp.post("/lrs/<int:lrs_id>/remove")
@admin_required
def lrs_remove(lrs_id: int):
    with runtime().transaction() as db:
        try:
            row = remove_lrs(db, lrs_id)
        except LrsConfigError as exc:
            abort(404, description=str(exc))
        name = row.name
    return _done(f"LRS {name} disabled; its waiting statements stay queued")


@bp.post("/keys/rotate")
@admin_required
def keys_rotate():
    rt = runtime()
    hours = 0.0 if request.form.get("now") == "1" else rt.settings.key_overlap_hours
    with rt.transaction() as db:
        key = KeyService(db, rt.clock).rotate(timedelta(hours=hours))
        kid = key.kid
    return _done(f"new key {kid[:12]}… published" + (" and signing" if hours == 0 else
                                                     f"; signs in {hours:g} h"))


@bp.post("/keys/<kid>/retire")
@admin_required
def keys_retire(kid: str):
    rt = runtime()
    with rt.transaction() as db:
        try:
            KeyService(db, rt.clock).retire(kid)
        except ToolKeyError as exc:
            return _done(f"not retired: {exc.args[0]}")
    return _done(f"key {kid[:12]}… retired")
