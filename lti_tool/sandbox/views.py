"""The sandbox LMS's pages and its OIDC side: course page, launch, authorize, JWKS."""

from __future__ import annotations

from urllib.parse import urlsplit

import jwt
import requests
from flask import Blueprint, abort, jsonify, render_template, request, url_for
from sqlalchemy import select

from lti_tool.sandbox import lms, switches
from lti_tool.sandbox.models import SandboxLineItem, SandboxPlacedLink, SandboxResult
from lti_tool.sandbox.platforms import PLATFORMS, SandboxPlatform
from lti_tool.sandbox.setup import sandbox_key
from lti_tool.web.runtime import runtime

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox", template_folder="templates",
               static_folder="static", static_url_path="/static")


def _platform(key: str) -> SandboxPlatform:
    platform = PLATFORMS.get(key)
    if platform is None:
        abort(404, description="There is no sandbox platform of that name.")
    return platform


class AuthRequestError(Exception):
    """An OIDC authorization request the sandbox refuses (shown, never redirected)."""


def _placed(db, platform: SandboxPlatform) -> list[lms.DemoLink]:
    rows = db.scalars(select(SandboxPlacedLink).where(
        SandboxPlacedLink.platform_key == platform.key).order_by(SandboxPlacedLink.id))
    found = [lms.find_link(f"{lms.PLACED_PREFIX}{r.id}", db, platform, runtime().settings)
             for r in rows]
    return [link for link in found if link is not None]


@bp.route("/")
def home():
    with runtime().transaction() as db:
        links = {p.key: list(lms.DEMO_LINKS) + _placed(db, p) for p in PLATFORMS.values()}
        return render_template("sandbox/home.html", platforms=PLATFORMS.values(),
                               links=links, deep_link=lms.DEEP_LINK)


def _launch_choice(platform: SandboxPlatform) -> tuple[lms.Person, lms.DemoLink]:
    person = platform.person(request.args.get("user", ""))
    with runtime().transaction() as db:
        link = lms.find_link(request.args.get("link", lms.DEMO_LINKS[0].id), db, platform,
                             runtime().settings)
    if person is None or link is None:
        abort(400, description="Pick a person and an activity of the sandbox course.")
    if link is lms.DEEP_LINK and person.persona == "learner":
        abort(403, description="Only teachers can add activities to the course.")
    return person, link


def _omitted() -> tuple[str, ...]:
    """The service claims this launch leaves out (``?omit=nrps&omit=ags``), as a platform
    may: a Deep Linking request without the roster service, say."""
    return tuple(sorted({o for o in request.args.getlist("omit") if o in lms.OMITTABLE}))


@bp.route("/<key>/launch")
def start_launch(key: str):
    """The course page: the tool opens in an iframe, as Canvas and Moodle embed it."""
    platform = _platform(key)
    person, link = _launch_choice(platform)
    frame = url_for("sandbox.launch_frame", key=key, user=person.sub, link=link.id,
                    review_of=request.args.get("review_of") or None, omit=_omitted())
    return render_template("sandbox/course.html", platform=platform, person=person, link=link,
                           frame_url=frame)


@bp.route("/<key>/launch/frame")
def launch_frame(key: str):
    """Step 1 of a launch: the LMS posts the third-party login initiation to the tool."""
    rt = runtime()
    platform = _platform(key)
    person, link = _launch_choice(platform)
    review_of = request.args.get("review_of") or None
    message = ("LtiDeepLinkingRequest" if link is lms.DEEP_LINK
               else "LtiSubmissionReviewRequest" if review_of else "LtiResourceLinkRequest")
    params = lms.login_initiation(rt.settings, platform, person, link, message, review_of,
                                  _omitted())
    return render_template("sandbox/form_post.html", action=rt.settings.url("/lti/login"),
                           fields=params, title=f"Launching {link.title}")


@bp.route("/<key>/post_message_forwarding")
def storage_frame(key: str):
    """The platform's storage frame for LTI Client Side postMessages (Canvas-shaped)."""
    platform = _platform(key)
    if not platform.storage_target:
        abort(404, description="This sandbox platform offers no postMessage storage.")
    return render_template("sandbox/storage_frame.html")


def _check_auth_request(platform: SandboxPlatform, params: dict[str, str]) -> dict[str, str]:
    rt = runtime()
    for name, expected in (("scope", "openid"), ("response_type", "id_token"),
                           ("response_mode", "form_post"), ("prompt", "none"),
                           ("client_id", platform.client_id)):
        if params.get(name) != expected:
            raise AuthRequestError(f"{name} must be {expected!r}")
    if not params.get("nonce") or not params.get("state"):
        raise AuthRequestError("nonce and state are required")
    redirect_uri = params.get("redirect_uri", "")
    allowed_origins = {urlsplit(rt.settings.base_url)[:2], urlsplit(request.url_root)[:2]}
    parts = urlsplit(redirect_uri)
    # The registered redirect URI is the tool's /lti/launch (on the configured base URL or
    # on this server's own origin, which is the same tool).
    if parts[:2] not in allowed_origins or parts.path != "/lti/launch":
        raise AuthRequestError(f"redirect_uri {redirect_uri!r} is not registered")
    hint = lms.read_message_hint(rt.settings, params.get("lti_message_hint", ""))
    if not hint or hint.get("p") != platform.key:
        raise AuthRequestError("lti_message_hint is missing, altered or expired")
    if hint.get("u") != params.get("login_hint"):
        raise AuthRequestError("login_hint does not match the signed-in sandbox user")
    return hint


@bp.route("/<key>/auth", methods=["GET", "POST"])
@bp.route("/<key>/api/lti/authorize_redirect", methods=["GET", "POST"],
          endpoint="canvas_auth")
@bp.route("/moodle/mod/lti/auth.php", methods=["GET", "POST"],
          defaults={"key": "moodle"}, endpoint="moodle_auth")
def authorize(key: str):
    """Step 2: the platform's OIDC authorization endpoint answers with a signed id_token."""
    rt = runtime()
    platform = _platform(key)
    params = {k: v for k, v in (request.args if request.method == "GET"
                                else request.form).items()}
    try:
        hint = _check_auth_request(platform, params)
    except AuthRequestError as exc:
        return render_template("sandbox/auth_error.html", message=str(exc)), 400
    person = platform.person(hint["u"])
    with rt.transaction() as db:
        link = lms.find_link(hint["l"], db, platform, rt.settings)
    if person is None or link is None:
        return render_template("sandbox/auth_error.html", message="unknown user or link"), 400
    with rt.transaction() as db:
        claims = lms.id_token_claims(rt.settings, platform, person, link, hint["m"],
                                     params["nonce"], params["redirect_uri"], rt.clock(),
                                     hint.get("f"), tuple(hint.get("o") or ()))
        token = lms.sign(db, platform, claims)
    return render_template("sandbox/form_post.html", action=params["redirect_uri"],
                           fields={"id_token": token, "state": params["state"]},
                           title="Signing you in to CPT Practice")


@bp.route("/<key>/jwks")
@bp.route("/<key>/api/lti/security/jwks", endpoint="canvas_jwks")
@bp.route("/moodle/mod/lti/certs.php", defaults={"key": "moodle"}, endpoint="moodle_jwks")
def jwks(key: str):
    rt = runtime()
    platform = _platform(key)
    with rt.transaction() as db:
        status = switches.switch(db, platform.key, switches.JWKS_STATUS)
        jwk = dict(sandbox_key(db, platform).public_jwk)
    if status:  # the LMS's key set is down (sandbox/switches.py)
        return jsonify(error="the key set is unavailable"), int(status)
    return jsonify({"keys": [jwk]})


@bp.route("/<key>/gradebook")
def gradebook(key: str):
    """The platform's gradebook: every line item and the current result of each person."""
    rt = runtime()
    platform = _platform(key)
    with rt.transaction() as db:
        items = list(db.scalars(select(SandboxLineItem).where(
            SandboxLineItem.platform_key == platform.key).order_by(SandboxLineItem.id)))
        results = {(r.line_item_id, r.user_id): r for r in db.scalars(
            select(SandboxResult).where(
                SandboxResult.line_item_id.in_([i.id for i in items])))}
        placed = {p.line_item_id: f"{lms.PLACED_PREFIX}{p.id}" for p in db.scalars(
            select(SandboxPlacedLink).where(SandboxPlacedLink.platform_key == platform.key))}
    teacher = next(p for p in platform.people if p.persona == "instructor")
    return render_template("sandbox/gradebook.html", platform=platform, items=items,
                           results=results, placed=placed, teacher=teacher)


def _tool_key(kid: str | None):
    resp = requests.get(runtime().settings.url("/lti/jwks"),
                        timeout=runtime().settings.http_timeout_seconds)
    resp.raise_for_status()
    jwk = next((k for k in resp.json().get("keys", []) if k.get("kid") == kid), None)
    return jwt.PyJWK(jwk).key if jwk else None


@bp.route("/<key>/courses/<context_id>/deep_linking_response", methods=["POST"],
          endpoint="canvas_deep_link_return")
@bp.route("/moodle/mod/lti/contentitem_return.php", methods=["POST"],
          defaults={"key": "moodle", "context_id": None}, endpoint="moodle_deep_link_return")
def deep_link_return(key: str, context_id: str | None):
    """The platform's Deep Linking return URL: verify the tool's signed response (against
    the tool's published JWKS) and place each content item in the course."""
    rt = runtime()
    platform = _platform(key)
    token = request.form.get("JWT", "")
    try:
        key_obj = _tool_key(jwt.get_unverified_header(token).get("kid"))
        if key_obj is None:
            raise jwt.InvalidTokenError("unknown kid")
        claims = jwt.decode(token, key_obj, algorithms=["RS256"],
                            audience=platform.issuer(rt.settings), issuer=platform.client_id,
                            options={"require": ["exp", "iat", "nonce"]})
    except (jwt.PyJWTError, requests.RequestException, ValueError) as exc:
        return render_template("sandbox/auth_error.html",
                               message=f"The tool's Deep Linking response was refused: "
                                       f"{exc}"), 400
    checks = {CLAIM + "message_type": "LtiDeepLinkingResponse", CLAIM + "version": "1.3.0",
              CLAIM + "deployment_id": platform.deployment_id}
    for claim, expected in checks.items():
        if claims.get(claim) != expected:
            return render_template("sandbox/auth_error.html",
                                   message=f"{claim} must be {expected!r}"), 400
    placed = []
    with rt.transaction() as db:
        for item in claims.get(DL + "content_items") or []:
            if item.get("type") != "ltiResourceLink":
                continue
            link = SandboxPlacedLink(platform_key=platform.key, context_id=platform.context_id,
                                     title=str(item.get("title") or "CPT Practice"),
                                     url=str(item.get("url") or rt.settings.url("/lti/launch")),
                                     custom=dict(item.get("custom") or {}))
            db.add(link)
            db.flush()
            line_item = item.get("lineItem")
            if isinstance(line_item, dict) and line_item.get("scoreMaximum"):
                row = SandboxLineItem(platform_key=platform.key,
                                      context_id=platform.context_id,
                                      label=str(line_item.get("label") or link.title),
                                      score_maximum=float(line_item["scoreMaximum"]),
                                      resource_id=line_item.get("resourceId"),
                                      tag=line_item.get("tag"),
                                      resource_link_id=f"{lms.PLACED_PREFIX}{link.id}")
                db.add(row)
                db.flush()
                link.line_item_id = row.id
            placed.append(link.title)
    return render_template("sandbox/placed.html", platform=platform, placed=placed)


@bp.after_request
def _lms_frames_the_tool(response):
    """The sandbox LMS embeds the tool (another site in the e2e tests) in an iframe."""
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; frame-src *; img-src 'self' data:; "
        "style-src 'self' 'unsafe-inline'; script-src 'self'; form-action *")
    return response
