"""Tool administrators: accounts, sign-in with a backoff, sessions, and what the
console (and the CLI) may change.

The backoff never lets a stranger lock the real admin out (issue 15): failed passwords
pause only the (client address, account) pair that made them. Guessing spread over many
addresses is bounded by the account as a whole and by each address: past a number of
failures every further try is held a little longer (at most ``MAX_DELAY_SECONDS``),
never refused, so the admin at their own desk is slowed at worst.

Kept apart from LTI on purpose: an LTI launch - even an LMS administrator's - never opens
the admin console; only a password made with `cpt-lti admin create` does.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from lti_tool.models import (
    AdminLoginFailure,
    AdminSession,
    AdminUser,
    Deployment,
    LmsFamily,
    LrsEndpoint,
    Outbox,
    OutboxKind,
    OutboxStatus,
    Platform,
)
from lti_tool.ops.platform_page import backlog_by_platform

MIN_PASSWORD = 12
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5  # per (address, user name) within the window: then that pair waits
ACCOUNT_SLOW_AFTER = 10  # failures for one user name, from every address, within the window
ADDRESS_SLOW_AFTER = 20  # failures from one address, for every user name, within the window
DELAY_STEP_SECONDS = 0.25  # held per failure past those counts...
MAX_DELAY_SECONDS = 2.0  # ...up to this (a held request holds a server thread)
SESSION_HOURS = 8


class AdminError(ValueError):
    """Something an admin asked for cannot be done (message says why)."""


class TooManyAttempts(AdminError):
    """Sign-in is paused for this user name from this address (only)."""


@dataclass(frozen=True)
class SignedIn:
    admin_id: int
    username: str
    session_id: str
    csrf_token: str


class AdminService:
    def __init__(self, session: Session, clock: Callable[[], datetime]) -> None:
        self.session = session
        self.clock = clock

    # -- accounts ------------------------------------------------------------------------
    def create(self, username: str, password: str) -> tuple[AdminUser, bool]:
        """Create an admin, or set a new password for an existing one."""
        username = username.strip()
        if not username or len(username) > 100 or not username.isprintable():
            raise AdminError("the user name must be 1 to 100 printable characters")
        if len(password) < MIN_PASSWORD:
            raise AdminError(f"the password must be at least {MIN_PASSWORD} characters")
        row = self.session.scalars(select(AdminUser).where(
            AdminUser.username == username)).first()
        created = row is None
        if row is None:
            row = AdminUser(username=username, created_at=self.clock())
            self.session.add(row)
        row.password_hash = generate_password_hash(password)
        if not created:  # a new password ends every open session
            self.session.execute(delete(AdminSession).where(AdminSession.admin_id == row.id))
        self.session.flush()
        return row, created

    # -- sign-in -------------------------------------------------------------------------
    def _failures(self, *where: Any) -> int:
        since = self.clock() - FAILURE_WINDOW
        return self.session.scalar(select(func.count()).select_from(AdminLoginFailure).where(
            AdminLoginFailure.at > since, *where)) or 0

    def _check_pair(self, username: str, address: str) -> None:
        if self._failures(AdminLoginFailure.username == username[:100],
                          AdminLoginFailure.address == address[:64]) >= MAX_FAILURES:
            raise TooManyAttempts("Too many failed sign-ins for this user name from here. "
                                  "Wait 15 minutes and try again.")

    def backoff(self, username: str, address: str) -> float:
        """Before a password is checked: TooManyAttempts when this address has failed
        for this user name too often; otherwise the seconds to hold this try (0 unless
        the account, or this address, is being guessed at). Read-only: the caller waits
        outside any transaction, then calls ``sign_in``."""
        self._check_pair(username, address)
        excess = max(
            self._failures(AdminLoginFailure.username == username[:100])
            - ACCOUNT_SLOW_AFTER,
            self._failures(AdminLoginFailure.address == address[:64]) - ADDRESS_SLOW_AFTER)
        if excess < 0:
            return 0.0
        return min(MAX_DELAY_SECONDS, DELAY_STEP_SECONDS * (excess + 1))

    def sign_in(self, username: str, password: str, address: str) -> SignedIn | None:
        """None for a wrong user name or password (the failure is recorded: commit it)."""
        now = self.clock()
        self._check_pair(username, address)
        row = self.session.scalars(select(AdminUser).where(
            AdminUser.username == username)).first()
        # Hash even for an unknown name, so timing does not tell which names exist.
        valid = check_password_hash(row.password_hash if row else _DUMMY_HASH, password)
        if row is None or not valid:
            self.session.add(AdminLoginFailure(username=username[:100], address=address[:64],
                                               at=now))
            return None
        # This address's failures for this name are forgiven; the account's failures from
        # elsewhere are not (they would let a spread-out guesser go full speed again).
        self.session.execute(delete(AdminLoginFailure).where(
            AdminLoginFailure.username == username[:100],
            AdminLoginFailure.address == address[:64]))
        row.last_login_at = now
        signed = AdminSession(id=secrets.token_urlsafe(32), admin_id=row.id,
                              csrf_token=secrets.token_urlsafe(32), created_at=now,
                              expires_at=now + timedelta(hours=SESSION_HOURS))
        self.session.add(signed)
        self.session.flush()
        return SignedIn(row.id, row.username, signed.id, signed.csrf_token)

    def current(self, session_id: str | None) -> SignedIn | None:
        if not session_id:
            return None
        row = self.session.get(AdminSession, session_id)
        if row is None or row.expires_at <= self.clock():
            return None
        user = self.session.get(AdminUser, row.admin_id)
        if user is None:
            return None
        return SignedIn(user.id, user.username, row.id, row.csrf_token)

    def sign_out(self, session_id: str) -> None:
        self.session.execute(delete(AdminSession).where(AdminSession.id == session_id))

    # -- what the console changes ---------------------------------------------------------
    def set_platform_enabled(self, platform_id: int, enabled: bool) -> Platform:
        row = self.session.get(Platform, platform_id)
        if row is None:
            raise AdminError(f"no platform {platform_id}")
        row.enabled = enabled
        return row

    def set_deployment_enabled(self, deployment_id: int, enabled: bool) -> Deployment:
        row = self.session.get(Deployment, deployment_id)
        if row is None:
            raise AdminError(f"no deployment {deployment_id}")
        row.enabled = enabled
        return row

    def overview(self) -> list[dict[str, Any]]:
        """Per platform: deployments, last launch, its LRSs and their delivery health."""
        health: dict[str | None, dict[str, int]] = {}
        for destination, status, count in self.session.execute(
                select(Outbox.destination, Outbox.status, func.count())
                .where(Outbox.kind == OutboxKind.XAPI,
                       Outbox.status.in_([OutboxStatus.PENDING, OutboxStatus.FAILED]))
                .group_by(Outbox.destination, Outbox.status)):
            health.setdefault(destination, {})[status.value] = count
        backlog = backlog_by_platform(self.session)
        out = []
        for platform in self.session.scalars(select(Platform).order_by(Platform.issuer,
                                                                      Platform.client_id)):
            lrss = []
            for lrs in self.session.scalars(select(LrsEndpoint).where(
                    LrsEndpoint.platform_id == platform.id).order_by(LrsEndpoint.id)):
                counts = health.get(f"lrs:{lrs.id}", {})
                lrss.append({"id": lrs.id, "name": lrs.name, "url": lrs.url,
                             "username": lrs.username, "enabled": lrs.enabled,
                             "actor_identity": lrs.actor_identity.value,
                             "pending": counts.get("pending", 0),
                             "failed": counts.get("failed", 0)})
            deployments = [{"id": d.id, "deployment_id": d.deployment_id,
                            "enabled": d.enabled, "auto_registered": d.auto_registered}
                           for d in sorted(platform.deployments, key=lambda d: d.id)]
            out.append({"id": platform.id, "name": platform.name, "issuer": platform.issuer,
                        "client_id": platform.client_id, "enabled": platform.enabled,
                        "lms_family": LmsFamily(platform.lms_family).value,
                        "staff_roles": platform.staff_roles.split(),
                        "last_launch_at": platform.last_launch_at,
                        "last_failed_launch_at": platform.last_failed_launch_at,
                        "last_failed_launch_code": platform.last_failed_launch_code,
                        "backlog": backlog.get(platform.id, (0, 0)),
                        "deployments": deployments, "lrs": lrss})
        return out

    def unrouted(self) -> int:
        """xAPI events waiting for any LRS (none configured for their platform)."""
        return self.session.scalar(select(func.count()).select_from(Outbox).where(
            Outbox.kind == OutboxKind.XAPI, Outbox.status == OutboxStatus.PENDING,
            Outbox.destination.is_(None))) or 0


_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))
