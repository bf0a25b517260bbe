"""Which Learning Record Stores a platform's statements go to, and their registration.

A college's statements go to every enabled LRS registered for its platform (each one
delivered independently: one being down does not hold back the others). A platform with
none falls back to the default LRS from the settings (``CPT_LTI_XAPI_*``), if set. One
college's statements therefore never reach another college's LRS unless the operator
configured a shared default on purpose.

The CLI (and the admin console, later) register LRSs through here, so the rules are the
same whichever door is used. Passwords are sealed at rest and never listed.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.delivery.outbound import OutboundPolicy, OutboundRefused, OutboundSession
from lti_tool.delivery.sealed import Sealer, UnsealError, sealer_for
from lti_tool.models import ActorIdentity, LrsEndpoint, Platform
from lti_tool.settings import Settings

DEFAULT_KEY = "default"


class LrsConfigError(ValueError):
    """The LRS asked for is malformed, or its platform cannot be found."""


@dataclass(frozen=True)
class Destination:
    """One LRS as the worker needs it. ``key`` is stored on each outbox row. The password
    is unsealed only when a POST needs it (routing statements does not)."""

    key: str
    name: str
    url: str
    username: str
    actor_identity: ActorIdentity
    _plain: str | None = field(default=None, repr=False)
    _sealed: str | None = field(default=None, repr=False)
    _sealer: Sealer | None = field(default=None, repr=False)

    @property
    def password(self) -> str:
        if self._plain is not None:
            return self._plain
        assert self._sealer is not None
        try:
            return self._sealer.unseal(self._sealed or "")
        except UnsealError as exc:
            raise UnsealError(f"the password of LRS {self.key} cannot be opened with "
                              "CPT_LTI_SEALING_KEY: if the key was replaced, list the "
                              "previous one after it and run `cpt-lti sealing rotate`; "
                              "otherwise add the LRS again (cpt-lti lrs add)") from exc

    def __repr__(self) -> str:  # the password must never reach a log line
        return f"Destination({self.key!r}, {self.url!r})"


def destination_key(row: LrsEndpoint) -> str:
    return f"lrs:{row.id}"


def default_destination(settings: Settings) -> Destination | None:
    if not settings.xapi_endpoint:
        return None
    return Destination(DEFAULT_KEY, "default", settings.xapi_endpoint, settings.xapi_username,
                       ActorIdentity(settings.xapi_actor_identity),
                       _plain=settings.xapi_password)


def _destination(settings: Settings, row: LrsEndpoint) -> Destination:
    return Destination(destination_key(row), row.name, row.url, row.username,
                       row.actor_identity, _sealed=row.password_sealed,
                       _sealer=sealer_for(settings))


def destinations_for(session: Session, settings: Settings,
                     platform_id: int) -> list[Destination]:
    """Every LRS a statement from this platform goes to, in a stable order."""
    rows = session.scalars(select(LrsEndpoint).where(
        LrsEndpoint.platform_id == platform_id, LrsEndpoint.enabled.is_(True))
        .order_by(LrsEndpoint.id))
    found = [_destination(settings, row) for row in rows]
    if found:
        return found
    default = default_destination(settings)
    return [default] if default else []


def destination_by_key(session: Session, settings: Settings, key: str) -> Destination | None:
    """The LRS behind an outbox row's destination (None once it was removed or disabled)."""
    if key == DEFAULT_KEY:
        return default_destination(settings)
    if not key.startswith("lrs:") or not key[4:].isdigit():
        return None
    row = session.get(LrsEndpoint, int(key[4:]))
    if row is None or not row.enabled:
        return None
    return _destination(settings, row)


def lrs_session(settings: Settings) -> OutboundSession:
    """The session statements travel in: the outbound policy (no private or loopback LRS
    unless outbound_allow_networks names it, https outside development and test) with
    xapi timeout_seconds as the deadline of each POST."""
    policy = OutboundPolicy.from_settings(settings,
                                          deadline_seconds=settings.xapi_timeout_seconds)
    return policy.session("cpt-lti (xAPI)")


def check_lrs_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise LrsConfigError(f"the LRS endpoint must be an http:// or https:// URL, "
                             f"not {value!r}")
    if parts.username or parts.password:
        raise LrsConfigError("put the LRS user name and password in their own options, "
                             "not in the URL")
    return value if value.endswith("/") else value + "/"


def find_platform(session: Session, issuer: str, client_id: str | None) -> Platform:
    query = select(Platform).where(Platform.issuer == issuer)
    if client_id:
        query = query.where(Platform.client_id == client_id)
    found = list(session.scalars(query))
    if not found:
        raise LrsConfigError(f"no platform is registered with issuer {issuer!r}"
                             + (f" and client id {client_id!r}" if client_id else ""))
    if len(found) > 1:
        raise LrsConfigError(f"{len(found)} platforms share issuer {issuer!r}; "
                             "say which with --client-id")
    return found[0]


def add_lrs(session: Session, settings: Settings, platform: Platform, *, name: str,
            url: str, username: str, password: str,
            actor_identity: str = "account") -> tuple[LrsEndpoint, bool]:
    """Register an LRS for a platform, or update the one with the same name."""
    name = name.strip()
    if not name or len(name) > 100:
        raise LrsConfigError("the LRS name must be 1 to 100 characters")
    if not username or not password:
        raise LrsConfigError("the LRS user name and password must not be empty")
    # The columns' sizes: longer was a database error (a 500 on PostgreSQL).
    if len(username) > 255:
        raise LrsConfigError("the LRS user name must be at most 255 characters")
    try:
        identity = ActorIdentity(actor_identity)
    except ValueError as exc:
        raise LrsConfigError("actor identity must be account, mbox_sha1sum or mbox") from exc
    url = check_lrs_url(url)
    if len(url) > 1024:
        raise LrsConfigError("the LRS endpoint URL must be at most 1024 characters")
    try:  # the URL's own rules now; its addresses are checked at each call
        OutboundPolicy.from_settings(settings).check_url(url)
    except OutboundRefused as exc:
        raise LrsConfigError(f"the LRS endpoint is refused: {exc}") from exc
    row = session.scalars(select(LrsEndpoint).where(
        LrsEndpoint.platform_id == platform.id, LrsEndpoint.name == name)).first()
    created = row is None
    if row is None:
        row = LrsEndpoint(platform_id=platform.id, name=name)
        session.add(row)
    row.url, row.username, row.actor_identity, row.enabled = url, username, identity, True
    row.password_sealed = sealer_for(settings).seal(password)
    session.flush()
    return row, created


def list_lrs(session: Session) -> builtins.list[dict[str, Any]]:
    """What an operator may see: never the password."""
    out = []
    for row, platform in session.execute(
            select(LrsEndpoint, Platform).join(Platform, Platform.id == LrsEndpoint.platform_id)
            .order_by(Platform.issuer, LrsEndpoint.id)):
        out.append({"id": row.id, "destination": destination_key(row), "name": row.name,
                    "platform_issuer": platform.issuer, "platform_client_id": platform.client_id,
                    "endpoint": row.url, "username": row.username,
                    "actor_identity": row.actor_identity.value, "enabled": row.enabled})
    return out


def remove_lrs(session: Session, lrs_id: int) -> LrsEndpoint:
    """Stop sending to an LRS. Statements still waiting for it stay in the outbox (shown
    by ``outbox status``) in case it is added back; nothing is deleted."""
    row = session.get(LrsEndpoint, lrs_id)
    if row is None:
        raise LrsConfigError(f"no LRS with id {lrs_id}")
    row.enabled = False
    return row
