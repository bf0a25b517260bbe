"""The sandbox as a Dynamic Registration platform (1EdTech LTI DR 1.0).

An admin page opens the tool's registration URL with ``openid_configuration`` and a
one-time ``registration_token`` (as Moodle does, in a frame, listening for the
``org.imsglobal.lti.close`` message); the platform's OpenID configuration and registration
endpoint check what the tool sends. The client id the sandbox assigns is its platform's
fixed one, so launches work right after registering. A Canvas-shaped platform reads the
request as Canvas does (Canvas's app/models/lti/ims/registration.rb): it refuses a
placement or privacy level it does not know, files each placement under Canvas's name (a
message without placements lands in link selection) and answers, as Canvas does, with the
configuration it made of the request (``tool_configuration``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, jsonify, render_template, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from lti_tool.sandbox.platforms import PLATFORMS, SandboxPlatform
from lti_tool.settings import Settings
from lti_tool.web.runtime import runtime

bp = Blueprint("sandbox_registration", __name__, url_prefix="/sandbox")

TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIG = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOKEN_SECONDS = 600
RL, DL = "LtiResourceLinkRequest", "LtiDeepLinkingRequest"
CANVAS_LTI = "https://canvas.instructure.com/lti/"
# The Canvas placements the sandbox knows, with the message types Canvas allows in each
# (Canvas's Lti::ResourcePlacement::PLACEMENTS_BY_MESSAGE_TYPE, in part).
CANVAS_PLACEMENTS = {
    "account_navigation": {RL}, "assignment_selection": {RL, DL}, "course_navigation": {RL},
    "editor_button": {DL}, "global_navigation": {RL}, "homework_submission": {RL, DL},
    "link_selection": {RL, DL}, "migration_selection": {RL, DL}, "module_menu": {RL},
    "resource_selection": {RL, DL}, "user_navigation": {RL},
}
# The Dynamic Registration spec's placement names, as Canvas files them.
CANVAS_DR_NAMES = {"ContentArea": "link_selection", "RichTextEditor": "editor_button"}
CANVAS_PRIVACY_LEVELS = ("public", "name_only", "email_only", "anonymous")


def _tokens(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="sandbox-registration-token")


def _platform(key: str) -> SandboxPlatform:
    return PLATFORMS.get(key) or abort(404)


def openid_configuration_url(settings: Settings, platform: SandboxPlatform) -> str:
    return platform.endpoint(settings, "/.well-known/openid-configuration")


@bp.route("/<key>/.well-known/openid-configuration")
def openid_configuration(key: str):
    rt = runtime()
    platform = _platform(key)
    s = rt.settings
    return jsonify({
        "issuer": platform.issuer(s),
        "authorization_endpoint": platform.endpoint(s, platform.auth_path),
        "token_endpoint": platform.endpoint(s, platform.token_path),
        "jwks_uri": platform.endpoint(s, platform.jwks_path),
        "registration_endpoint": platform.endpoint(s, "/registration"),
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid"],
        "response_types_supported": ["id_token"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
        PLATFORM_CONFIG: {
            "product_family_code": platform.shape,
            "version": "sandbox",
            "messages_supported": [{"type": "LtiResourceLinkRequest"},
                                   {"type": "LtiDeepLinkingRequest"}],
        },
    })


def _problems(body: Any) -> list[str]:
    """What a real platform would refuse in a tool's registration request."""
    if not isinstance(body, dict):
        return ["the body is not a JSON object"]
    problems = []
    for name in ("initiate_login_uri", "jwks_uri"):
        if not isinstance(body.get(name), str) or not body[name].startswith("http"):
            problems.append(f"{name} is missing")
    if not body.get("redirect_uris"):
        problems.append("redirect_uris is missing")
    if body.get("token_endpoint_auth_method") != "private_key_jwt":
        problems.append("token_endpoint_auth_method must be private_key_jwt")
    if "client_credentials" not in body.get("grant_types", []):
        problems.append("grant_types must include client_credentials")
    config = body.get(TOOL_CONFIG)
    if not isinstance(config, dict) or not config.get("domain"):
        problems.append(f"{TOOL_CONFIG} with a domain is missing")
    elif "LtiResourceLinkRequest" not in [m.get("type") for m in config.get("messages", [])]:
        problems.append("no LtiResourceLinkRequest message")
    return problems


def _canvas_placement(value: Any) -> str | None:
    """Canvas's name of a requested placement, None when Canvas does not know it."""
    if not isinstance(value, str):
        return None
    name = CANVAS_DR_NAMES.get(value) or (value[len(CANVAS_LTI):] if value.startswith(
        CANVAS_LTI) else value)
    return name if name in CANVAS_PLACEMENTS else None


def _privacy_level(config: dict[str, Any]) -> str:
    """The level the tool asked for, else Canvas's guess from the claims it asked for."""
    asked = config.get(CANVAS_LTI + "privacy_level")
    if asked is not None:
        return asked
    claims = set(config.get("claims") or [])
    name = bool(claims & {"name", "given_name", "family_name"})
    email = "email" in claims
    return ("public" if "picture" in claims or (name and email) else "name_only" if name
            else "email_only" if email else "anonymous")


def _canvas_reading(config: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Problems Canvas would refuse the request for, and the configuration it makes of it."""
    problems = []
    level = config.get(CANVAS_LTI + "privacy_level")
    if level is not None and level not in CANVAS_PRIVACY_LEVELS:
        problems.append(f"privacy_level {level!r} is not one of {CANVAS_PRIVACY_LEVELS}")
    placements: list[dict[str, Any]] = []
    for message in config.get("messages") or []:
        if not isinstance(message, dict):
            continue  # _problems has looked at the messages already
        kind = message.get("type")
        for value in message.get("placements") or ["link_selection"]:
            name = _canvas_placement(value)
            if name is None:
                problems.append(f"placement {value!r} is not a Canvas placement")
            elif kind not in CANVAS_PLACEMENTS[name]:
                problems.append(f"placement {name} does not take {kind}")
            elif name not in [p["placement"] for p in placements]:  # the first one wins
                placements.append({"placement": name, "message_type": kind,
                                   "target_link_uri": message.get("target_link_uri")})
    return problems, {"privacy_level": _privacy_level(config), "extensions": [{
        "platform": "canvas.instructure.com", "privacy_level": _privacy_level(config),
        "settings": {"placements": placements}}]}


@bp.route("/<key>/registration", methods=["POST"])
def registration(key: str):
    rt = runtime()
    platform = _platform(key)
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else ""
    try:
        claims = _tokens(rt.settings).loads(token, max_age=TOKEN_SECONDS)
    except (BadSignature, SignatureExpired):
        return jsonify(error="invalid_token"), 401
    if claims.get("p") != platform.key:
        return jsonify(error="invalid_token"), 401
    body = request.get_json(silent=True)
    problems = _problems(body)
    made: dict[str, Any] | None = None
    if not problems and platform.shape == "canvas":
        problems, made = _canvas_reading(body[TOOL_CONFIG])
    if problems:
        return jsonify(error="invalid_client_metadata",
                       error_description="; ".join(problems)), 400
    answer = dict(body)
    answer["client_id"] = platform.client_id
    if made is not None:
        answer["tool_configuration"] = made
    answer[TOOL_CONFIG] = {**body[TOOL_CONFIG], "deployment_id": platform.deployment_id}
    return jsonify(answer), 201


@bp.after_request
def _lms_frames_the_tool(response):
    """Like the sandbox course page: the registration page frames the tool (another site)."""
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; frame-src *; img-src 'self' data:; "
        "style-src 'self' 'unsafe-inline'; script-src 'self'; form-action *")
    return response


@bp.route("/<key>/register-tool")
def register_tool(key: str):
    """The LMS admin's "add a tool by URL" page: opens the tool's registration in a frame."""
    rt = runtime()
    platform = _platform(key)
    tool_url = request.args.get("tool", rt.settings.url("/lti/register"))
    query = urlencode({"openid_configuration": openid_configuration_url(rt.settings, platform),
                       "registration_token": _tokens(rt.settings).dumps({"p": platform.key})})
    return render_template("sandbox/register_tool.html", platform=platform,
                           start_url=f"{tool_url}?{query}")
