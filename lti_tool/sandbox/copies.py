"""Course copy in the sandbox LMS, as Canvas and Moodle do it.

A copy is a new course (a new context id: Canvas's 40-hex id, Moodle's next course number)
holding a new resource link for each placed link of the source course: new link ids, the
same title and (as both LMSs keep them) the same custom parameters, and a new gradebook
column of the same label, maximum, ``resourceId`` and tag, with no results. Each new link
remembers its source, so its launches substitute ``$ResourceLink.id.history`` (Canvas only)
and ``$Context.id.history`` with the chain it came from (lms.substituted_custom).
Enrollments are not copied; the sandbox's people are enrolled in every course.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.sandbox import lms
from lti_tool.sandbox.models import SandboxLineItem, SandboxPlacedLink
from lti_tool.sandbox.platforms import SandboxPlatform

# What the tool asks for at the tool level too: a copy that drops a link's own custom
# parameters (``keep_custom=False``) still sends these.
HISTORY_KEYS = ("resource_link_history", "context_history")


def course_ids(session: Session, platform: SandboxPlatform) -> set[str]:
    """Every course of the platform: its own and each copy."""
    rows = session.scalars(select(SandboxPlacedLink.context_id).where(
        SandboxPlacedLink.platform_key == platform.key).distinct())
    return {platform.context_id, *rows}


def _new_context_id(session: Session, platform: SandboxPlatform) -> str:
    if platform.shape == "canvas":
        return secrets.token_hex(20)
    known = [int(c) for c in course_ids(session, platform) if c.isdigit()]
    return str(max(known, default=0) + 1)


def copy_course(session: Session, platform: SandboxPlatform, context_id: str | None = None,
                *, keep_custom: bool = True) -> tuple[str, dict[str, str]]:
    """Copy the course ``context_id`` (the platform's own by default): the new course's
    context id and {old resource link id: new resource link id}."""
    source_context = context_id or platform.context_id
    new_context = _new_context_id(session, platform)
    rows = list(session.scalars(select(SandboxPlacedLink).where(
        SandboxPlacedLink.platform_key == platform.key,
        SandboxPlacedLink.context_id == source_context).order_by(SandboxPlacedLink.id)))
    mapping: dict[str, str] = {}
    for row in rows:
        custom = dict(row.custom) if keep_custom else {
            k: v for k, v in row.custom.items() if k in HISTORY_KEYS}
        link = SandboxPlacedLink(platform_key=platform.key, context_id=new_context,
                                 title=row.title, url=row.url, custom=custom,
                                 copied_from_id=row.id)
        session.add(link)
        session.flush()
        item = session.get(SandboxLineItem, row.line_item_id) if row.line_item_id else None
        if item is not None:
            copy = SandboxLineItem(platform_key=platform.key, context_id=new_context,
                                   label=item.label, score_maximum=item.score_maximum,
                                   resource_id=item.resource_id, tag=item.tag,
                                   resource_link_id=f"{lms.PLACED_PREFIX}{link.id}")
            session.add(copy)
            session.flush()
            link.line_item_id = copy.id
        mapping[f"{lms.PLACED_PREFIX}{row.id}"] = f"{lms.PLACED_PREFIX}{link.id}"
    return new_context, mapping


