"""1EdTech LTI Dynamic Registration, and the Canvas developer-key JSON configuration.

pylti1p3 has no Dynamic Registration, so the exchange is done here with requests and
checked field by field: the platform's OpenID configuration is fetched from the URL the
platform gave, its issuer must match that URL's origin (so a registration cannot be
steered to another LMS's issuer), its endpoints must pass the outbound URL policy
(lti_tool.delivery.outbound: https outside development and test, no user info or backslash, no
private or loopback address unless allowed); then our tool configuration is POSTed with
the one-time registration token.

The registration page is open to anyone (the LMS opens it unauthenticated), so what it
learns is a proposal (issue 15): by default it waits, as a ``PlatformRegistration``, for
a tool admin to approve it (``cpt-lti platform approve ID`` or the admin console), and a
platform that is already registered is never changed by it - new URLs for it always
wait. Until approved, nothing of it can launch or frame the tool. Errors name the rule
that failed; what the far end answered is never repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lti_tool.delivery.outbound import OutboundError, OutboundPolicy, describe
from lti_tool.lti.platforms.family import (
    CANVAS_PLACEMENTS,
    PRIVACY_LEVEL,
    configuration_host_allowed,
    detect,
    registration_extensions,
    registration_placements,
)
from lti_tool.models import (
    AccessToken,
    Deployment,
    DeploymentPolicy,
    LmsFamily,
    Platform,
    PlatformRegistration,
)
from lti_tool.settings import Settings

PLATFORM_CONFIG_CLAIM = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIG_CLAIM = "https://purl.imsglobal.org/spec/lti-tool-configuration"
RESOURCE_LINK = "LtiResourceLinkRequest"
DEEP_LINKING = "LtiDeepLinkingRequest"
SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)
REQUIRED_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri",
                      "registration_endpoint")
ENDPOINT_LABELS = {"authorization_endpoint": "authorization endpoint",
                   "token_endpoint": "token endpoint", "jwks_uri": "key set (jwks_uri)",
                   "registration_endpoint": "registration endpoint"}
TITLE = "CPT Practice"
DESCRIPTION = ("Practice for the MSSC Certified Production Technician (CPT 4.0) modules: "
               "lessons, drills, practice tests and timed mock exams, with grades in the "
               "gradebook.")
MAX_ID = 255  # the issuer, client id and deployment id columns
# Custom parameters of every launch. The copy history is asked for here too, not only in
# placed links (lti/deep_linking.py), so a copy that drops a link's own custom parameters
# still tells us where it came from (lti/copies.py).
TOOL_CUSTOM = {"context_title": "$Context.title",
               "resource_link_history": "$ResourceLink.id.history",
               "context_history": "$Context.id.history"}
# Registrations waiting for an admin: the page is anonymous, so their number is bounded.
MAX_PENDING = 100
# An OpenID configuration or a registration answer is a few kilobytes.
MAX_ANSWER_BYTES = 256 * 1024


class RegistrationError(ValueError):
    """Registration cannot go on; ``message`` says what an LMS admin should check."""


@dataclass(frozen=True)
class PlatformConfiguration:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    product_family: str
    messages: tuple[str, ...]

    @property
    def lms_family(self) -> LmsFamily:
        """Decided here, once: the request speaks its language and the row stores it."""
        return detect(self.issuer, self.authorization_endpoint, self.product_family)


@dataclass(frozen=True)
class RegistrationOutcome:
    """What became of a registration. ``status``: ``active`` (a new platform, enabled at
    once because approval is not required), ``pending`` (waiting for a tool admin) or
    ``unchanged`` (already registered exactly so; ``enabled`` says whether it launches)."""

    issuer: str
    client_id: str
    deployment_id: str | None
    status: str
    enabled: bool = False


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _is_url(value: Any, *, https_only: bool) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    allowed = {"https"} if https_only else {"https", "http"}
    return parts.scheme in allowed and bool(parts.netloc)


def issuer_matches(issuer: str, url: str, sandbox_origin: str | None = None) -> bool:
    """The issuer must be on the origin the configuration came from. Canvas Cloud is the
    known exception: one shared issuer, configuration served from Instructure hosts (and,
    in the sandbox, from the sandbox's own origin): ``family.configuration_host_allowed``."""
    if _origin(issuer) == _origin(url):
        return True
    return configuration_host_allowed(
        issuer, url, from_sandbox=sandbox_origin is not None and _origin(url) == sandbox_origin)


def check_outbound(policy: OutboundPolicy, url: Any, label: str) -> None:
    """The outbound policy's verdict on a URL the registration will call or store,
    before anything is sent: a RegistrationError naming the rule."""
    try:
        policy.check(url)
    except OutboundError as exc:
        raise RegistrationError(f"The {label} address is refused: {exc}.") from exc


def _get_json(http: requests.Session, url: str, what: str) -> Any:
    try:
        answer = http.get(url, headers={"Accept": "application/json"})
    except OutboundError as exc:
        raise RegistrationError(f"The {what} address is refused: {exc}.") from exc
    except requests.RequestException as exc:
        raise RegistrationError(f"The {what} could not be fetched "
                                f"({describe(exc)}).") from exc
    if answer.status_code != 200:
        raise RegistrationError(f"The {what} answered HTTP {answer.status_code}.")
    try:
        return answer.json()
    except ValueError as exc:
        raise RegistrationError(f"The {what} is not JSON.") from exc


def fetch_platform_configuration(http: requests.Session, url: str, *,
                                 policy: OutboundPolicy,
                                 sandbox_origin: str | None = None) -> PlatformConfiguration:
    check_outbound(policy, url, "openid_configuration")
    data = _get_json(http, url, "LMS's OpenID configuration")
    if not isinstance(data, dict):
        raise RegistrationError("The LMS's OpenID configuration is not a JSON object.")
    https_only = not policy.allow_http
    issuer = data.get("issuer")
    if not _is_url(issuer, https_only=https_only) or len(issuer) > MAX_ID:
        raise RegistrationError("The LMS's OpenID configuration has no valid issuer.")
    if not issuer_matches(issuer, url, sandbox_origin):
        raise RegistrationError(f"The issuer {issuer} does not match the address the "
                                f"configuration came from ({_origin(url)}).")
    missing = [name for name in REQUIRED_ENDPOINTS
               if not _is_url(data.get(name), https_only=https_only)]
    if missing:
        raise RegistrationError("The LMS's OpenID configuration lacks "
                                + ", ".join(missing) + ".")
    # Every endpoint is called by the tool or sent to browsers as the LMS's: each one
    # passes the outbound policy now, before anything is stored.
    for name in REQUIRED_ENDPOINTS:
        check_outbound(policy, data[name], f"LMS's {ENDPOINT_LABELS[name]}")
    platform = data.get(PLATFORM_CONFIG_CLAIM) or {}
    if not isinstance(platform, dict):
        platform = {}
    supported = platform.get("messages_supported")
    messages = tuple(m.get("type") for m in (supported if isinstance(supported, list) else [])
                     if isinstance(m, dict) and isinstance(m.get("type"), str))
    if messages and RESOURCE_LINK not in messages:
        raise RegistrationError("The LMS does not support resource link launches.")
    family = platform.get("product_family_code")
    return PlatformConfiguration(
        issuer=issuer,
        authorization_endpoint=data["authorization_endpoint"],
        token_endpoint=data["token_endpoint"], jwks_uri=data["jwks_uri"],
        registration_endpoint=data["registration_endpoint"],
        product_family=family[:60] if isinstance(family, str) else "",
        messages=messages or (RESOURCE_LINK,))


def tool_registration(settings: Settings, config: PlatformConfiguration) -> dict[str, Any]:
    """Our half of the exchange: what the LMS should store about the tool."""
    domain = urlsplit(settings.base_url).netloc
    family = config.lms_family
    kinds = [(RESOURCE_LINK, TITLE)]
    if DEEP_LINKING in config.messages:
        kinds.append((DEEP_LINKING, f"{TITLE}: add an activity"))
    messages = []
    for kind, label in kinds:
        message: dict[str, Any] = {"type": kind, "target_link_uri": settings.url("/lti/launch"),
                                   "label": label, "icon_uri": settings.url("/static/logo.svg")}
        placements = registration_placements(family, kind)
        if placements:
            message["placements"] = placements
        messages.append({**message, **registration_extensions(family, kind)})
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": settings.url("/lti/login"),
        "redirect_uris": [settings.url("/lti/launch")],
        "client_name": TITLE,
        "jwks_uri": settings.url("/lti/jwks"),
        "logo_uri": settings.url("/static/logo.svg"),
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(SCOPES),
        TOOL_CONFIG_CLAIM: {
            "domain": domain,
            "description": DESCRIPTION,
            "target_link_uri": settings.url("/lti/launch"),
            "custom_parameters": TOOL_CUSTOM,
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": messages,
            **registration_extensions(family),
        },
    }


def _identifier(value: Any) -> str | None:
    """An id the LMS assigned (client id, deployment id), if it is one we can store."""
    if isinstance(value, str) and 0 < len(value) <= MAX_ID and value.isprintable():
        return value
    return None


def register(session: Session, settings: Settings, http: requests.Session,
             openid_configuration: str, registration_token: str | None, *,
             require_approval: bool) -> RegistrationOutcome:
    """The whole exchange. A new platform is enabled at once only when approval is not
    required; a platform already registered is never changed (new URLs wait for an admin).
    ``http`` should be an outbound session (lti.http.lms_session): its transport applies
    the outbound policy to every request again, with the checked addresses pinned."""
    policy = OutboundPolicy.from_settings(settings)
    sandbox_origin = (_origin(settings.sandbox_base_url or settings.base_url)
                      if settings.sandbox else None)
    config = fetch_platform_configuration(http, openid_configuration, policy=policy,
                                          sandbox_origin=sandbox_origin)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    try:
        answer = http.post(config.registration_endpoint,
                           json=tool_registration(settings, config), headers=headers)
    except OutboundError as exc:
        raise RegistrationError(f"The LMS's registration endpoint address is refused: "
                                f"{exc}.") from exc
    except requests.RequestException as exc:
        raise RegistrationError(f"The LMS's registration endpoint could not be reached "
                                f"({describe(exc)}).") from exc
    if answer.status_code not in (200, 201):
        # Only the status: the body is the far end's words (and was echoed on this
        # public page, issue 15).
        raise RegistrationError(f"The LMS refused the registration (HTTP "
                                f"{answer.status_code}).")
    try:
        data = answer.json()
    except ValueError as exc:
        raise RegistrationError("The LMS's registration answer is not JSON.") from exc
    client_id = _identifier(data.get("client_id") if isinstance(data, dict) else None)
    if client_id is None:
        raise RegistrationError("The LMS's registration answer has no usable client_id.")
    tool_config = data.get(TOOL_CONFIG_CLAIM)
    deployment_id = _identifier(tool_config.get("deployment_id")
                                if isinstance(tool_config, dict) else None)
    return _record(session, settings, config, client_id, deployment_id,
                   openid_configuration, require_approval=require_approval)


def _record(session: Session, settings: Settings, config: PlatformConfiguration,
            client_id: str, deployment_id: str | None, source: str, *,
            require_approval: bool) -> RegistrationOutcome:
    name = f"{config.product_family or 'LMS'} ({_origin(config.issuer)})"[:255]
    platform = session.scalars(select(Platform).where(
        Platform.issuer == config.issuer, Platform.client_id == client_id)).first()
    if platform is None and not require_approval:
        platform = Platform(issuer=config.issuer, client_id=client_id, name=name,
                            auth_login_url=config.authorization_endpoint,
                            auth_token_url=config.token_endpoint,
                            key_set_url=config.jwks_uri, enabled=True,
                            deployment_policy=DeploymentPolicy(settings.deployment_policy),
                            lms_family=config.lms_family)
        session.add(platform)
        session.flush()
        _add_deployment(session, platform, deployment_id)
        return RegistrationOutcome(config.issuer, client_id, deployment_id, "active", True)
    if platform is not None and _same(session, platform, config, deployment_id):
        return RegistrationOutcome(config.issuer, client_id, deployment_id, "unchanged",
                                   platform.enabled)
    waiting = session.scalars(select(PlatformRegistration).where(
        PlatformRegistration.issuer == config.issuer,
        PlatformRegistration.client_id == client_id)).first()
    if waiting is None:
        count = session.scalar(select(func.count()).select_from(PlatformRegistration)) or 0
        if count >= MAX_PENDING:
            raise RegistrationError(
                f"{count} registrations already wait for a CPT Practice administrator; "
                "ask them to approve or reject those first (cpt-lti platform list).")
        waiting = PlatformRegistration(issuer=config.issuer, client_id=client_id)
        session.add(waiting)
    waiting.name = name
    waiting.auth_login_url = config.authorization_endpoint
    waiting.auth_token_url = config.token_endpoint
    waiting.key_set_url = config.jwks_uri
    waiting.deployment_id = deployment_id
    waiting.lms_family = config.lms_family  # what approval creates a new platform with
    waiting.openid_configuration = source[:1024]
    session.flush()
    return RegistrationOutcome(config.issuer, client_id, deployment_id, "pending",
                               platform.enabled if platform is not None else False)


def _same(session: Session, platform: Platform, config: PlatformConfiguration,
          deployment_id: str | None) -> bool:
    """Whether the registration would change nothing: same URLs, a known deployment."""
    if (platform.auth_login_url, platform.auth_token_url, platform.key_set_url) != (
            config.authorization_endpoint, config.token_endpoint, config.jwks_uri):
        return False
    return deployment_id is None or session.scalars(select(Deployment.id).where(
        Deployment.platform_id == platform.id,
        Deployment.deployment_id == deployment_id)).first() is not None


def _add_deployment(session: Session, platform: Platform, deployment_id: str | None) -> None:
    if deployment_id is None:
        return
    found = session.scalars(select(Deployment).where(
        Deployment.platform_id == platform.id,
        Deployment.deployment_id == deployment_id)).first()
    if found is None:
        session.add(Deployment(platform_id=platform.id, deployment_id=deployment_id))
        session.flush()


# -- what a tool admin does with a waiting registration -------------------------------------

@dataclass(frozen=True)
class Approved:
    platform: Platform
    created: bool
    changed: tuple[str, ...]


def pending_registrations(session: Session) -> list[PlatformRegistration]:
    return list(session.scalars(select(PlatformRegistration).order_by(
        PlatformRegistration.created_at, PlatformRegistration.id)))


def pending_as_dict(session: Session, row: PlatformRegistration) -> dict[str, Any]:
    """A waiting registration as `platform list --json` and the console show it."""
    current = session.scalars(select(Platform).where(
        Platform.issuer == row.issuer, Platform.client_id == row.client_id)).first()
    return {"pending_registration": row.id, "name": row.name, "issuer": row.issuer,
            "client_id": row.client_id, "auth_login_url": row.auth_login_url,
            "auth_token_url": row.auth_token_url, "key_set_url": row.key_set_url,
            "deployment_id": row.deployment_id,
            "lms_family": LmsFamily(row.lms_family).value,
            "openid_configuration": row.openid_configuration,
            "replaces_platform": current.id if current is not None else None,
            "created_at": _iso(row.created_at)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def approve_registration(session: Session, settings: Settings,
                         registration_id: int) -> Approved:
    """Accept a waiting registration: a new platform is created enabled; an existing one
    gets the new URLs (and keeps its enabled state: an admin who disabled it enables it
    separately). Tokens cached for the old token URL are dropped."""
    row = session.get(PlatformRegistration, registration_id)
    if row is None:
        raise RegistrationError(f"no registration {registration_id} is waiting for approval")
    platform = session.scalars(select(Platform).where(
        Platform.issuer == row.issuer, Platform.client_id == row.client_id)).first()
    created = platform is None
    changed: list[str] = []
    if platform is None:
        platform = Platform(issuer=row.issuer, client_id=row.client_id, name=row.name,
                            auth_login_url=row.auth_login_url,
                            auth_token_url=row.auth_token_url, key_set_url=row.key_set_url,
                            enabled=True,
                            deployment_policy=DeploymentPolicy(settings.deployment_policy),
                            # The product the registration named, else its URLs (a row
                            # that waited from before the family was kept says "other").
                            lms_family=detect(row.issuer, row.auth_login_url,
                                              LmsFamily(row.lms_family).value))
        session.add(platform)
        session.flush()
    else:
        for field_name in ("auth_login_url", "auth_token_url", "key_set_url"):
            if getattr(platform, field_name) != getattr(row, field_name):
                setattr(platform, field_name, getattr(row, field_name))
                changed.append(field_name)
        if changed:
            session.execute(delete(AccessToken).where(AccessToken.platform_id == platform.id))
    _add_deployment(session, platform, row.deployment_id)
    session.delete(row)
    session.flush()
    return Approved(platform, created, tuple(changed))


def reject_registration(session: Session, registration_id: int) -> PlatformRegistration:
    row = session.get(PlatformRegistration, registration_id)
    if row is None:
        raise RegistrationError(f"no registration {registration_id} is waiting for approval")
    session.delete(row)
    session.flush()
    return row


def canvas_configuration(settings: Settings) -> dict[str, Any]:
    """The JSON an admin pastes into Canvas (Developer Keys > + LTI Key > Paste JSON)."""
    domain = urlsplit(settings.base_url).netloc
    launch = settings.url("/lti/launch")
    icon = settings.url("/static/logo.svg")

    def placement(name: str, message: str, **extra: Any) -> dict[str, Any]:
        return {"placement": name, "message_type": message, "target_link_uri": launch,
                "text": TITLE, "icon_url": icon, **extra}

    return {
        "title": TITLE,
        "description": DESCRIPTION,
        "oidc_initiation_url": settings.url("/lti/login"),
        "target_link_uri": launch,
        "public_jwk_url": settings.url("/lti/jwks"),
        "scopes": list(SCOPES),
        "extensions": [{
            "domain": domain,
            "tool_id": "cpt-practice",
            "platform": "canvas.instructure.com",
            "privacy_level": PRIVACY_LEVEL,
            "settings": {
                "text": TITLE,
                "icon_url": icon,
                "placements": [
                    placement(name, kind, **({"default": "enabled"}
                                             if name == "course_navigation" else {}))
                    for name, kind in CANVAS_PLACEMENTS],
            },
        }],
        "custom_fields": TOOL_CUSTOM,
    }
