"""What the admin console shows about one platform (issue 20): its deployments, its LRSs
(never their credentials), and its outbox backlog per destination.

Outbox rows carry no platform column: a row belongs to the platform of the learner it is
about (``payload.user_id``, as delivery/render.py routes statements), so every count is
kept to that platform's rows, whatever destination they share ("default"). Everything is
read in a fixed number of queries, however many deployments, LRSs or rows there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.models import (
    Course,
    Deployment,
    Enrollment,
    LrsEndpoint,
    Outbox,
    OutboxKind,
    OutboxStatus,
    Platform,
    User,
)

ERROR_CHARS = 200  # an LRS's or LMS's error text, as the page shows it
WAITING = (OutboxStatus.PENDING, OutboxStatus.FAILED)


@dataclass(frozen=True)
class DeploymentRow:
    id: int
    deployment_id: str
    enabled: bool
    auto_registered: bool
    first_seen: datetime  # registered by hand, or first launched (auto-registered)
    last_launch: datetime | None  # the latest launch into one of its courses, if any


@dataclass(frozen=True)
class BacklogRow:
    """Work waiting (``pending``) or given up and kept for an operator (``failed``) for one
    destination: "lms" (grades), "lrs:<id>", "default" or "unrouted" (xAPI, no LRS yet)."""

    kind: str
    destination: str
    label: str
    pending: int
    failed: int
    oldest_pending_at: datetime | None
    last_error: str | None

    def oldest_pending_age(self, now: datetime) -> str:
        if self.oldest_pending_at is None:
            return "-"
        return age_text((now - self.oldest_pending_at).total_seconds())


@dataclass(frozen=True)
class PlatformPage:
    deployments: list[DeploymentRow]
    lrs: list[dict[str, Any]]  # id, name, url, enabled: no user name, no password
    backlog: list[BacklogRow]


def age_text(seconds: float) -> str:
    """A short age for people: "40 s", "12 min", "3 h", "2 days"."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def trimmed(text: str | None, limit: int = ERROR_CHARS) -> str | None:
    if not text:
        return None
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _owner():
    """Outbox rows of the learner's platform: the join every backlog query makes."""
    return User.id == Outbox.payload["user_id"].as_integer()


def backlog_by_platform(session: Session) -> dict[int, tuple[int, int]]:
    """platform id -> (waiting, failed) over every destination: the console's summary
    line, in one query."""
    out: dict[int, list[int]] = {}
    for platform_id, status, count in session.execute(
            select(User.platform_id, Outbox.status, func.count())
            .select_from(Outbox).join(User, _owner())
            .where(Outbox.status.in_(WAITING))
            .group_by(User.platform_id, Outbox.status)):
        out.setdefault(platform_id, [0, 0])[0 if status == OutboxStatus.PENDING else 1] = count
    return {k: (v[0], v[1]) for k, v in out.items()}


def platform_page(session: Session, platform: Platform) -> PlatformPage:
    """Five queries: deployments, their last launches, LRSs, backlog counts, last errors."""
    pid = platform.id
    deployments = list(session.scalars(select(Deployment).where(
        Deployment.platform_id == pid).order_by(Deployment.id)))
    last_launch = dict(session.execute(
        select(Course.deployment_id, func.max(Enrollment.last_launch_at))
        .join(Enrollment, Enrollment.course_id == Course.id)
        .join(Deployment, Deployment.id == Course.deployment_id)
        .where(Deployment.platform_id == pid).group_by(Course.deployment_id)).all())
    lrs_rows = list(session.scalars(select(LrsEndpoint).where(
        LrsEndpoint.platform_id == pid).order_by(LrsEndpoint.id)))

    mine = (Outbox.status.in_(WAITING), User.platform_id == pid)
    counts: dict[tuple[OutboxKind, str | None], dict[str, Any]] = {}
    for kind, destination, status, count, oldest in session.execute(
            select(Outbox.kind, Outbox.destination, Outbox.status, func.count(),
                   func.min(Outbox.created_at))
            .select_from(Outbox).join(User, _owner()).where(*mine)
            .group_by(Outbox.kind, Outbox.destination, Outbox.status)):
        entry = counts.setdefault((kind, destination), {"pending": 0, "failed": 0,
                                                         "oldest": None, "error": None})
        entry[status.value] = count
        if status == OutboxStatus.PENDING:
            entry["oldest"] = oldest
    newest_error = (select(func.max(Outbox.id)).select_from(Outbox).join(User, _owner())
                    .where(*mine, Outbox.last_error.is_not(None))
                    .group_by(Outbox.kind, Outbox.destination))
    if counts:
        for kind, destination, error in session.execute(
                select(Outbox.kind, Outbox.destination, Outbox.last_error)
                .where(Outbox.id.in_(newest_error))):
            if (kind, destination) in counts:
                counts[(kind, destination)]["error"] = trimmed(error)

    names = {f"lrs:{row.id}": row.name for row in lrs_rows}
    backlog = [BacklogRow(kind=kind.value, destination=_key(kind, destination),
                          label=_label(kind, destination, names), pending=entry["pending"],
                          failed=entry["failed"], oldest_pending_at=entry["oldest"],
                          last_error=entry["error"])
               for (kind, destination), entry in counts.items()]
    backlog.sort(key=lambda r: (r.kind != "ags", r.destination))
    return PlatformPage(
        deployments=[DeploymentRow(d.id, d.deployment_id, d.enabled, d.auto_registered,
                                   d.created_at, last_launch.get(d.id))
                     for d in deployments],
        lrs=[{"id": r.id, "name": r.name, "url": r.url, "enabled": r.enabled}
             for r in lrs_rows],
        backlog=backlog)


def _key(kind: OutboxKind, destination: str | None) -> str:
    if destination:
        return destination
    return "lms" if kind == OutboxKind.AGS else "unrouted"


def _label(kind: OutboxKind, destination: str | None, names: dict[str, str]) -> str:
    if kind == OutboxKind.AGS:
        return "Grades to the LMS gradebook"
    if destination is None:
        return "Statements waiting for an LRS (none configured yet, or being prepared)"
    if destination == "default":
        return "Default LRS (from the tool's settings)"
    name = names.get(destination)
    return f"LRS {name}" if name else f"A removed LRS ({destination})"
