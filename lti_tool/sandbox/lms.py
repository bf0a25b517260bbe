"""What the sandbox platform says in a launch: login initiation and the signed id_token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from lti_tool.sandbox.platforms import AGS_SCOPES, LIS, Person, SandboxPlatform

__all__ = ["Person", "DemoLink"]
from lti_tool.sandbox.setup import sandbox_key
from lti_tool.settings import Settings

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
HINT_MAX_AGE = 300
# Service claims a launch can be told to leave out ("?omit=nrps"): the LTI spec makes both
# optional in every message, and real platforms leave them out of some (a Deep Linking
# request without the roster service, a link launched while grade sync is off). The tool
# must keep what it learnt from earlier launches.
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
OMITTABLE = {"nrps": NRPS_CLAIM, "ags": AGS_CLAIM}


@dataclass(frozen=True)
class DemoLink:
    """A resource link placed in the sandbox course (built in, or placed by Deep Linking)."""

    id: str
    title: str
    custom: dict[str, str]
    gradable: bool = False
    line_item_url: str | None = None
    # A link of a copied course (sandbox/copies.py): its course, and the link and course
    # ids it was copied from, most recent first.
    context_id: str | None = None
    link_history: tuple[str, ...] = ()
    context_history: tuple[str, ...] = ()


DEMO_LINKS: tuple[DemoLink, ...] = (
    DemoLink("cpt-practice-home", "CPT Practice", {"activity": "home"}),
)
# Not a link: what the course's "Add activity" button launches (LtiDeepLinkingRequest).
DEEP_LINK = DemoLink("deep-link", "Add CPT Practice activities", {})
PLACED_PREFIX = "placed-"


def find_link(link_id: str, session: Session | None = None,
              platform: SandboxPlatform | None = None,
              settings: Settings | None = None) -> DemoLink | None:
    if link_id == DEEP_LINK.id:
        return DEEP_LINK
    link = next((link for link in DEMO_LINKS if link.id == link_id), None)
    if link is not None or session is None or not link_id.startswith(PLACED_PREFIX):
        return link
    from lti_tool.sandbox.models import SandboxPlacedLink

    try:
        row = session.get(SandboxPlacedLink, int(link_id[len(PLACED_PREFIX):]))
    except ValueError:
        return None
    if row is None or platform is None or row.platform_key != platform.key:
        return None
    item_url = None
    if row.line_item_id is not None and settings is not None:
        item_url = line_item_url(platform, settings, row.context_id, row.line_item_id)
    links, contexts = _history(session, row)
    return DemoLink(link_id, row.title, {k: str(v) for k, v in row.custom.items()},
                    gradable=item_url is not None, line_item_url=item_url,
                    context_id=row.context_id, link_history=links, context_history=contexts)


def _history(session: Session, row) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The link ids and course ids ``row`` was copied from, most recent first."""
    from lti_tool.sandbox.models import SandboxPlacedLink

    links: list[str] = []
    contexts: list[str] = []
    seen = {row.id}
    source_id = row.copied_from_id
    while source_id is not None and source_id not in seen:
        seen.add(source_id)
        source = session.get(SandboxPlacedLink, source_id)
        if source is None:
            break
        links.append(f"{PLACED_PREFIX}{source.id}")
        if source.context_id not in contexts:
            contexts.append(source.context_id)
        source_id = source.copied_from_id
    return tuple(links), tuple(contexts)


def substituted_custom(platform: SandboxPlatform, link: DemoLink) -> dict[str, str]:
    """The link's custom parameters as the platform sends them. Both substitute
    ``$Context.id.history`` (comma-separated, most recent first; empty for a course never
    copied). Canvas substitutes ``$ResourceLink.id.history`` the same way; Moodle (4.x,
    5.x) does not: it sends the literal ``$ResourceLink.id.history``. Any other ``$...``
    is sent as it is, as both do with a variable they do not know."""
    custom = {}
    for key, value in link.custom.items():
        if value == "$Context.id.history":
            value = ",".join(link.context_history)
        elif value == "$ResourceLink.id.history" and platform.shape == "canvas":
            value = ",".join(link.link_history)
        custom[key] = value
    return custom


def line_item_url(platform: SandboxPlatform, settings: Settings, context_id: str,
                  item_id: int) -> str:
    base = platform.base(settings)
    if platform.shape == "canvas":
        return f"{base}/api/lti/courses/{context_id}/line_items/{item_id}"
    return f"{base}/mod/lti/services.php/{context_id}/lineitems/{item_id}/lineitem"


def deep_link_return_url(platform: SandboxPlatform, settings: Settings) -> str:
    base = platform.base(settings)
    if platform.shape == "canvas":
        return f"{base}/courses/{platform.context_id}/deep_linking_response"
    return f"{base}/mod/lti/contentitem_return.php"


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="sandbox-lti-message-hint")


def make_message_hint(settings: Settings, platform: SandboxPlatform, person: Person,
                      link_id: str, message_type: str, for_user: str | None = None,
                      omit: tuple[str, ...] = ()) -> str:
    return _serializer(settings).dumps(
        {"p": platform.key, "u": person.sub, "l": link_id, "m": message_type, "f": for_user,
         "o": [o for o in omit if o in OMITTABLE]})


def read_message_hint(settings: Settings, hint: str) -> dict[str, str] | None:
    try:
        value = _serializer(settings).loads(hint, max_age=HINT_MAX_AGE)
    except BadSignature:
        return None
    return value if isinstance(value, dict) else None


def login_initiation(settings: Settings, platform: SandboxPlatform, person: Person,
                     link: DemoLink, message_type: str = "LtiResourceLinkRequest",
                     for_user: str | None = None, omit: tuple[str, ...] = ()
                     ) -> dict[str, str]:
    """The parameters the LMS sends to the tool's OIDC login URL."""
    params = {
        "iss": platform.issuer(settings),
        "login_hint": person.sub,
        "target_link_uri": settings.url("/lti/launch"),
        "lti_message_hint": make_message_hint(settings, platform, person, link.id,
                                              message_type, for_user, omit),
        "client_id": platform.client_id,
        "lti_deployment_id": platform.deployment_id,
    }
    if platform.storage_target:
        params["lti_storage_target"] = platform.storage_target
    return params


def id_token_claims(settings: Settings, platform: SandboxPlatform, person: Person,
                    link: DemoLink, message_type: str, nonce: str, target_link_uri: str,
                    now: datetime, for_user: str | None = None,
                    omit: tuple[str, ...] = ()) -> dict[str, Any]:
    """``omit``: service claims to leave out (keys of ``OMITTABLE``)."""
    iat = int(now.timestamp())
    base = platform.base(settings)
    ctx = link.context_id or platform.context_id
    copied = ctx != platform.context_id  # a course copy: the same course, next term
    if platform.shape == "canvas":
        lineitems = f"{base}/api/lti/courses/{ctx}/line_items"
        memberships = f"{base}/api/lti/courses/{ctx}/names_and_roles"
    else:
        lineitems = f"{base}/mod/lti/services.php/{ctx}/lineitems?type_id=4"
        memberships = f"{base}/mod/lti/services.php/CourseSection/{ctx}/bindings/4/memberships"
    claims: dict[str, Any] = {
        "iss": platform.issuer(settings),
        "aud": platform.client_id,
        "azp": platform.client_id,
        "sub": person.sub,
        "iat": iat,
        "exp": iat + 300,
        "nonce": nonce,
        "name": person.name,
        "given_name": person.given_name,
        "family_name": person.family_name,
        "email": person.email,
        CLAIM + "message_type": message_type,
        CLAIM + "version": "1.3.0",
        CLAIM + "deployment_id": platform.deployment_id,
        CLAIM + "target_link_uri": target_link_uri,
        CLAIM + "roles": list(platform.roles[person.persona]),
        CLAIM + "context": {
            "id": ctx, "label": platform.context_label,
            "title": platform.context_title + (" (copy)" if copied else ""),
            "type": [LIS + "course#CourseOffering"],
        },
        CLAIM + "launch_presentation": {"document_target": "iframe", "locale": "en",
                                        "return_url": f"{base}/"},
        CLAIM + "custom": substituted_custom(platform, link),
        NRPS_CLAIM: {"context_memberships_url": memberships, "service_versions": ["2.0"]},
    }
    if message_type == "LtiSubmissionReviewRequest":
        claims[CLAIM + "resource_link"] = {"id": link.id, "title": link.title}
        claims[AGS_CLAIM] = {"scope": list(AGS_SCOPES), "lineitems": lineitems,
                             "lineitem": link.line_item_url or ""}
        claims[CLAIM + "for_user"] = {"user_id": for_user or person.sub}
    elif message_type == "LtiResourceLinkRequest":
        claims[CLAIM + "resource_link"] = {"id": link.id, "title": link.title,
                                           "description": ""}
        ags: dict[str, Any] = {"scope": list(AGS_SCOPES), "lineitems": lineitems}
        if link.line_item_url:
            ags["lineitem"] = link.line_item_url
        claims[AGS_CLAIM] = ags
    elif message_type == "LtiDeepLinkingRequest":
        claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
            "deep_link_return_url": deep_link_return_url(platform, settings),
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            "accept_multiple": True, "auto_create": True,
            "title": "Add CPT Practice activities",
            "data": f"sandbox-dl-{platform.key}-{iat}"}
    if platform.shape == "canvas":
        claims[CLAIM + "tool_platform"] = {
            "guid": f"riverbend-{platform.key}-sandbox", "name": "Riverbend Community College",
            "version": "cloud" if platform.fixed_issuer else "2026-11-18.120",
            "product_family_code": "canvas"}
        claims[CLAIM + "lis"] = {"person_sourcedid": f"RCC{person.sub[-4:]}",
                                 "course_offering_sourcedid": "MFG-101-2026FA"}
        claims[CLAIM + "custom"].update({"canvas_course_id": "1187",
                                         "canvas_user_prefers_high_contrast": "false"})
        claims["https://www.instructure.com/placement"] = "course_navigation"
        claims["locale"] = "en"
    else:
        claims[CLAIM + "tool_platform"] = {
            "guid": "lakeside.test", "name": "Lakeside Technical College",
            "version": "2024100700", "product_family_code": "moodle"}
        claims[CLAIM + "lis"] = {"person_sourcedid": "", "course_section_sourcedid": ""}
        claims[CLAIM + "ext"] = {"user_username": person.email.split("@")[0],
                                 "lms": "moodle-2"}
    for name in omit:
        claims.pop(OMITTABLE.get(name, ""), None)
    return claims


def sign(session: Session, platform: SandboxPlatform, claims: dict[str, Any],
         headers: dict[str, Any] | None = None) -> str:
    """Sign claims as the platform does: RS256 with the platform key, kid in the header."""
    key = sandbox_key(session, platform)
    return jwt.encode(claims, key.private_key_pem, algorithm="RS256",
                      headers={"kid": key.kid, **(headers or {})})
