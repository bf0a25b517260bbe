"""The admin console at /admin: platforms and deployments, LRSs, keys, delivery health.

Its own door: a password sign-in (a backoff per client address and account, kept in the
DB: see lti_tool.admin), its own strict cookie scoped to /admin, a CSRF token on every
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

from lti_tool.admin import AdminError, AdminService, TooManyAttempts
from lti_tool.lrs import LrsConfigError, add_lrs, remove_lrs
from lti_tool.lti.keys import KeyService, ToolKeyError
from lti_tool.lti.registration import (
    RegistrationError,
    approve_registration,
    pending_as_dict,
    pending_registrations,
    reject_registration,
)
from lti_tool.models import Platform
from lti_tool.runtime import runtime

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
        pending = [pending_as_dict(db, r) for r in pending_registrations(db)]
        unrouted = service.unrouted()
        keys = KeyService(db, rt.clock)
        key_rows = [{"kid": k.kid, "status": keys.status(k), "created_at": k.created_at,
                     "signs_from": k.activates_at or k.created_at} for k in keys.all()]
    return render_template("admin_console.html", platforms=platforms, keys=key_rows,
                           pending=pending,
                           unrouted=unrouted, notice=request.args.get("notice"),
                           csrf_token=g.admin.csrf_token, admin=g.admin,
                           default_lrs=bool(rt.settings.xapi_endpoint))


def _done(notice: str):
    return redirect(url_for("admin.console", notice=notice))


@bp.post("/platforms/<int:platform_id>/enabled")
@admin_required
def platform_enabled(platform_id: int):
    enabled = request.form.get("enabled") == "1"
    with runtime().transaction() as db:
        try:
            row = _service(db).set_platform_enabled(platform_id, enabled)
        except AdminError as exc:
            abort(404, description=str(exc))
        name = row.name or row.issuer
    return _done(f"{name}: {'enabled' if enabled else 'disabled'}")


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
        label = row.deployment_id
    return _done(f"deployment {label}: {'enabled' if enabled else 'disabled'}")


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
