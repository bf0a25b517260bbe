"""Platform registrations (issuer + client id, their URLs and deployments) as a service.

The CLI and the admin console both register LMSs; keeping the rules here means an
operator gets the same validation and the same upsert behaviour whichever door they use.
A new platform's LMS family is detected here (``family.detect``) unless the operator names it.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lti_tool.lti.platforms.family import detect, family_from_text
from lti_tool.lti.roles import MAX_STAFF_ROLES, staff_role_name
from lti_tool.models import Deployment, DeploymentPolicy, LmsFamily, Platform


class PlatformError(ValueError):
    """The registration asked for is malformed (a bad URL, an empty id, an unknown policy)."""


class PlatformNotFoundError(LookupError):
    """No platform is registered under the issuer and client id given."""


@dataclass(frozen=True)
class PlatformSpec:
    """What an operator types to register an LMS; ``None`` means "leave as it is"."""

    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    deployment_ids: tuple[str, ...] = ()
    name: str | None = None
    auth_audience: str | None = None
    deployment_policy: str | None = None
    frame_origins: tuple[str, ...] | None = None
    # canvas, moodle or other; None: detected for a new platform, left as it is otherwise.
    lms_family: str | None = None
    # Sub-roles that count as staff on their own (Instructor#TeachingAssistant); None: left
    # as it is (none for a new platform); () clears them.
    staff_roles: tuple[str, ...] | None = None


@dataclass
class AddResult:
    """What ``add`` did, so the caller can tell the operator exactly that."""

    platform: Platform
    created: bool
    added_deployments: list[str] = field(default_factory=list)
    changed_fields: list[str] = field(default_factory=list)


# The sizes of the platform and deployment columns (models.py).
MAX_ID = 255
MAX_URL = 1024


def check_http_url(label: str, value: str) -> str:
    """Platform endpoints are fetched or redirected to, so anything but http(s) is a typo."""
    value = value.strip()
    if len(value) > MAX_URL:  # the column's size; a longer one was a database error
        raise PlatformError(f"{label} must be at most {MAX_URL} characters")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise PlatformError(f"{label} must be an http:// or https:// URL, not {value!r}")
    return value


_ORIGIN = re.compile(r"^https://(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")


def check_frame_origin(value: str) -> str:
    """An origin the LMS frames the tool from: ``https://host[:port]`` or a wildcard
    subdomain ``https://*.example.edu``. Anything with a path, query, quote, space or
    ``;`` could widen or break the Content-Security-Policy it is written into, so it is
    refused rather than cleaned up."""
    origin = value.strip().lower().rstrip("/")
    if not _ORIGIN.match(origin) or ".." in origin:
        raise PlatformError(
            f"frame origin must look like https://lms.example.edu or https://*.example.edu, "
            f"not {value!r}")
    return origin


def _required(label: str, value: str) -> str:
    value = value.strip()
    if not value:
        raise PlatformError(f"{label} must not be empty")
    if len(value) > MAX_ID:  # LTI caps ids at 255, and so do the columns
        raise PlatformError(f"{label} must be at most {MAX_ID} characters")
    return value


def _policy(value: str) -> DeploymentPolicy:
    try:
        return DeploymentPolicy(value)
    except ValueError:
        choices = ", ".join(p.value for p in DeploymentPolicy)
        raise PlatformError(f"deployment policy must be one of {choices}, not {value!r}") from None


def _family(value: str) -> LmsFamily:
    try:
        return family_from_text(value)
    except ValueError as exc:
        raise PlatformError(str(exc)) from None


def _staff_roles(values: Iterable[str]) -> str:
    try:
        names = _unique(staff_role_name(v) for v in values if v.strip())
    except ValueError as exc:
        raise PlatformError(str(exc)) from None
    if len(names) > MAX_STAFF_ROLES:
        raise PlatformError(f"at most {MAX_STAFF_ROLES} staff roles")
    return " ".join(names)


def platform_as_dict(platform: Platform) -> dict[str, Any]:
    """The JSON shape of ``platform list --json`` (and of the admin console's API)."""
    return {
        "id": platform.id,
        "name": platform.name,
        "issuer": platform.issuer,
        "client_id": platform.client_id,
        "auth_login_url": platform.auth_login_url,
        "auth_token_url": platform.auth_token_url,
        "key_set_url": platform.key_set_url,
        "auth_audience": platform.auth_audience,
        "frame_origins": platform.frame_origins.split(),
        "deployment_policy": DeploymentPolicy(platform.deployment_policy).value,
        "lms_family": LmsFamily(platform.lms_family).value,
        "staff_roles": platform.staff_roles.split(),
        "enabled": platform.enabled,
        "deployments": [d.deployment_id for d in
                        sorted(platform.deployments, key=lambda d: d.id)],
        "last_launch_at": (platform.last_launch_at.isoformat()
                           if platform.last_launch_at else None),
    }


class PlatformService:
    """Register, list and remove platforms inside the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def find(self, issuer: str, client_id: str) -> Platform | None:
        return self.session.scalars(
            select(Platform).where(Platform.issuer == issuer, Platform.client_id == client_id)
        ).first()

    def list(self) -> builtins.list[Platform]:
        """Every registration with its deployments loaded, in a stable order."""
        return builtins.list(self.session.scalars(
            select(Platform).options(selectinload(Platform.deployments))
            .order_by(Platform.issuer, Platform.client_id)
        ))

    def add(self, spec: PlatformSpec, default_policy: str = "strict") -> AddResult:
        """Register a platform, or update an existing issuer + client id and add deployments.

        Re-running ``add`` is the way to add a deployment or fix a URL: removing and adding
        again would cascade-delete every user and course the platform already has.
        ``default_policy`` applies only to a platform created now.
        """
        issuer = _required("issuer", spec.issuer)
        client_id = _required("client id", spec.client_id)
        values: dict[str, Any] = {
            "auth_login_url": check_http_url("auth login URL", spec.auth_login_url),
            "auth_token_url": check_http_url("auth token URL", spec.auth_token_url),
            "key_set_url": check_http_url("key set URL", spec.key_set_url),
        }
        if spec.name is not None:
            values["name"] = spec.name.strip()
            if len(values["name"]) > MAX_ID:
                raise PlatformError(f"name must be at most {MAX_ID} characters")
        if spec.auth_audience is not None:
            values["auth_audience"] = spec.auth_audience.strip() or None
            if len(spec.auth_audience) > MAX_URL:
                raise PlatformError(f"auth audience must be at most {MAX_URL} characters")
        if spec.deployment_policy is not None:
            values["deployment_policy"] = _policy(spec.deployment_policy)
        if spec.frame_origins is not None:
            values["frame_origins"] = " ".join(
                _unique(check_frame_origin(o) for o in spec.frame_origins))
        if spec.lms_family is not None:
            values["lms_family"] = _family(spec.lms_family)
        if spec.staff_roles is not None:
            values["staff_roles"] = _staff_roles(spec.staff_roles)
        deployment_ids = _unique(_required("deployment id", d) for d in spec.deployment_ids)

        platform = self.find(issuer, client_id)
        created = platform is None
        changed: list[str] = []
        if platform is None:
            values.setdefault("deployment_policy", _policy(default_policy))
            values.setdefault("name", "")
            values.setdefault("lms_family", detect(issuer, values["auth_login_url"]))
            platform = Platform(issuer=issuer, client_id=client_id, **values)
            self.session.add(platform)
            self.session.flush()
        else:
            for key, value in values.items():
                if getattr(platform, key) != value:
                    setattr(platform, key, value)
                    changed.append(key)

        known = {d.deployment_id for d in platform.deployments}
        added = [d for d in deployment_ids if d not in known]
        for deployment_id in added:
            platform.deployments.append(Deployment(deployment_id=deployment_id))
        self.session.flush()
        return AddResult(platform, created, added, changed)

    def remove(self, issuer: str, client_id: str) -> Platform:
        """Delete a registration; its deployments, users and courses go with it (cascade)."""
        platform = self.find(issuer, client_id)
        if platform is None:
            raise PlatformNotFoundError(
                f"no platform with issuer {issuer!r} and client id {client_id!r}")
        self.session.delete(platform)
        self.session.flush()
        return platform


def _unique(items: Iterable[str]) -> list[str]:
    """Order-preserving de-duplication: ``--deployment-id A --deployment-id A`` is one id."""
    return list(dict.fromkeys(items))
