"""1EdTech LTI Dynamic Registration, and the Canvas developer-key JSON configuration.

pylti1p3 has no Dynamic Registration, so the exchange is done here with requests and
checked field by field: the platform's OpenID configuration is fetched from the URL the
platform gave, its issuer must match that URL's origin (so a registration cannot be
steered to another LMS's issuer), its endpoints must be present and https outside the
sandbox; then our tool configuration is POSTed with the one-time registration token and
the client id the platform assigns is stored with its deployment.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models import Deployment, DeploymentPolicy, Platform
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
TITLE = "CPT Practice"
DESCRIPTION = ("Practice for the MSSC Certified Production Technician (CPT 4.0) modules: "
               "lessons, drills, practice tests and timed mock exams, with grades in the "
               "gradebook.")


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


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _is_url(value: Any, *, https_only: bool) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    allowed = {"https"} if https_only else {"https", "http"}
    return parts.scheme in allowed and bool(parts.netloc)


CANVAS_ISSUERS = {"https://canvas.instructure.com", "https://canvas.beta.instructure.com",
                  "https://canvas.test.instructure.com"}
CANVAS_CONFIG_HOSTS = (".instructure.com", "sso.canvaslms.com", ".canvaslms.com")


def issuer_matches(issuer: str, url: str, sandbox_origin: str | None = None) -> bool:
    """The issuer must be on the origin the configuration came from. Canvas Cloud is the
    known exception: one shared issuer, configuration served from Instructure hosts (and,
    in the sandbox, from the sandbox's own origin)."""
    if _origin(issuer) == _origin(url):
        return True
    if issuer.rstrip("/") in CANVAS_ISSUERS:
        host = (urlsplit(url).hostname or "").lower()
        if urlsplit(url).scheme == "https" and (
                host.endswith(CANVAS_CONFIG_HOSTS) or host in ("sso.canvaslms.com",)):
            return True
        return sandbox_origin is not None and _origin(url) == sandbox_origin
    return False


def check_public_host(url: str, label: str) -> None:
    """Refuse an address on loopback, private, link-local or otherwise non-public networks.

    The registration page is open to anyone (the LMS opens it unauthenticated), and it
    fetches and posts to addresses it is given: without this, it would reach into the
    network the tool runs in (metadata services, admin ports) on a stranger's behalf.
    The name is resolved once here and again by the HTTP client; a name that changes its
    answer in between (DNS rebinding) is not covered, redirects are refused outright.
    """
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise RegistrationError(f"The {label} host {host!r} cannot be resolved.") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            raise RegistrationError(
                f"The {label} host {host!r} is on a private or local network; a tool admin "
                f"can allow that with registration_allow_private_hosts.")


def fetch_platform_configuration(http: requests.Session, url: str, *, https_only: bool,
                                 timeout: float, sandbox_origin: str | None = None,
                                 public_only: bool = False) -> PlatformConfiguration:
    if not _is_url(url, https_only=https_only):
        raise RegistrationError("The openid_configuration address must be an https URL.")
    if public_only:
        check_public_host(url, "openid_configuration")
    try:
        answer = http.get(url, timeout=timeout, headers={"Accept": "application/json"},
                          allow_redirects=False)
    except requests.RequestException as exc:
        raise RegistrationError(f"The LMS's OpenID configuration could not be fetched "
                                f"({type(exc).__name__}).") from exc
    if answer.status_code != 200:
        raise RegistrationError(f"The LMS's OpenID configuration answered HTTP "
                                f"{answer.status_code}.")
    try:
        data = answer.json()
    except ValueError as exc:
        raise RegistrationError("The LMS's OpenID configuration is not JSON.") from exc
    if not isinstance(data, dict):
        raise RegistrationError("The LMS's OpenID configuration is not a JSON object.")
    issuer = data.get("issuer")
    if not _is_url(issuer, https_only=https_only):
        raise RegistrationError("The LMS's OpenID configuration has no valid issuer.")
    if not issuer_matches(issuer, url, sandbox_origin):
        raise RegistrationError(f"The issuer {issuer} does not match the address the "
                                f"configuration came from ({_origin(url)}).")
    missing = [name for name in REQUIRED_ENDPOINTS
               if not _is_url(data.get(name), https_only=https_only)]
    if missing:
        raise RegistrationError("The LMS's OpenID configuration lacks "
                                + ", ".join(missing) + ".")
    platform = data.get(PLATFORM_CONFIG_CLAIM) or {}
    messages = tuple(m.get("type") for m in platform.get("messages_supported", [])
                     if isinstance(m, dict) and m.get("type"))
    if messages and RESOURCE_LINK not in messages:
        raise RegistrationError("The LMS does not support resource link launches.")
    return PlatformConfiguration(
        issuer=issuer,
        authorization_endpoint=data["authorization_endpoint"],
        token_endpoint=data["token_endpoint"], jwks_uri=data["jwks_uri"],
        registration_endpoint=data["registration_endpoint"],
        product_family=str(platform.get("product_family_code", "")),
        messages=messages or (RESOURCE_LINK,))


def tool_registration(settings: Settings, config: PlatformConfiguration) -> dict[str, Any]:
    """Our half of the exchange: what the LMS should store about the tool."""
    domain = urlsplit(settings.base_url).netloc
    messages = [{"type": RESOURCE_LINK, "target_link_uri": settings.url("/lti/launch"),
                 "label": TITLE}]
    if DEEP_LINKING in config.messages:
        messages.append({"type": DEEP_LINKING, "target_link_uri": settings.url("/lti/launch"),
                         "label": f"{TITLE}: add an activity",
                         "placements": ["ContentArea", "link_selection",
                                        "assignment_selection"]})
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
            "custom_parameters": {"context_title": "$Context.title"},
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": messages,
        },
    }


def register(session: Session, settings: Settings, http: requests.Session,
             openid_configuration: str, registration_token: str | None, *,
             require_approval: bool) -> tuple[Platform, Deployment | None]:
    """The whole exchange; returns the stored platform (disabled while awaiting approval)."""
    https_only = not settings.sandbox
    sandbox_origin = (_origin(settings.sandbox_base_url or settings.base_url)
                      if settings.sandbox else None)
    public_only = not settings.sandbox and not settings.registration_allow_private_hosts
    config = fetch_platform_configuration(http, openid_configuration,
                                          https_only=https_only,
                                          timeout=settings.http_timeout_seconds,
                                          sandbox_origin=sandbox_origin,
                                          public_only=public_only)
    if public_only:
        check_public_host(config.registration_endpoint, "registration endpoint")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    try:
        answer = http.post(config.registration_endpoint, json=tool_registration(settings, config),
                           headers=headers, timeout=settings.http_timeout_seconds,
                           allow_redirects=False)
    except requests.RequestException as exc:
        raise RegistrationError(f"The LMS's registration endpoint could not be reached "
                                f"({type(exc).__name__}).") from exc
    if answer.status_code not in (200, 201):
        raise RegistrationError(f"The LMS refused the registration (HTTP "
                                f"{answer.status_code}): {answer.text[:200]}")
    try:
        data = answer.json()
    except ValueError as exc:
        raise RegistrationError("The LMS's registration answer is not JSON.") from exc
    client_id = data.get("client_id") if isinstance(data, dict) else None
    if not isinstance(client_id, str) or not client_id:
        raise RegistrationError("The LMS's registration answer has no client_id.")
    deployment_id = (data.get(TOOL_CONFIG_CLAIM) or {}).get("deployment_id")
    platform = session.scalars(select(Platform).where(
        Platform.issuer == config.issuer, Platform.client_id == client_id)).first()
    if platform is None:
        platform = Platform(issuer=config.issuer, client_id=client_id,
                            deployment_policy=DeploymentPolicy(settings.deployment_policy))
        session.add(platform)
    platform.name = f"{config.product_family or 'LMS'} ({_origin(config.issuer)})"
    platform.auth_login_url = config.authorization_endpoint
    platform.auth_token_url = config.token_endpoint
    platform.key_set_url = config.jwks_uri
    platform.enabled = not require_approval
    session.flush()
    deployment = None
    if isinstance(deployment_id, str) and deployment_id:
        deployment = session.scalars(select(Deployment).where(
            Deployment.platform_id == platform.id,
            Deployment.deployment_id == deployment_id)).first()
        if deployment is None:
            deployment = Deployment(platform_id=platform.id, deployment_id=deployment_id)
            session.add(deployment)
            session.flush()
    return platform, deployment


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
            "privacy_level": "public",
            "settings": {
                "text": TITLE,
                "icon_url": icon,
                "placements": [
                    placement("course_navigation", RESOURCE_LINK, default="enabled"),
                    placement("link_selection", DEEP_LINKING),
                    placement("assignment_selection", DEEP_LINKING),
                    placement("editor_button", DEEP_LINKING),
                ],
            },
        }],
        "custom_fields": {"context_title": "$Context.title"},
    }
