"""Course copy: a copied link starts with what the instructor chose on the link it copies.

When an LMS copies a course, every placed link gets a new resource link id (and the course
a new context id), so the tool sees a link it has never met. Deep Linking asks for two
substitutions in each placed link's ``custom`` (lti/deep_linking.py) that name where the
link came from:

- ``resource_link_history`` = ``$ResourceLink.id.history``: the link ids it was copied
  from, comma-separated, most recent first (LTI 1.3 Core, appendix on substitution
  variables). Canvas substitutes it; Moodle (4.x, 5.x) does not and sends the literal
  ``$ResourceLink.id.history``, as does Open edX.
- ``context_history`` = ``$Context.id.history``: the course ids the course was copied
  from, most recent first. Canvas and Moodle (course copy, which sets the course's
  ``originalcourseid``) substitute it.

An unsubstituted value (the literal ``$...``) or an empty one means "no history", never an
id. The first id of the link history that names a link the tool knows wins; without one,
the course history names the source course, and there the link of the same placement and
title is the source, when exactly one matches (several: nothing is guessed).

What is carried is what the instructor chose, never what students did: the grading policy
and, when the new link's own ``custom`` names no activity (a copy that dropped it), the
placed activity (``activity``, ``module``, ``size``). Attempts, scores and enrollments stay
with the old course. Carrying happens once, when the new link is first launched; a link
the tool already knows is never changed by a history. Sources are looked up only among
the links of the same deployment of the same platform: another college, or another
deployment, naming our link ids in its history finds nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import unquote

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models import Course, ResourceLink

log = logging.getLogger(__name__)

RESOURCE_LINK_HISTORY = "resource_link_history"
CONTEXT_HISTORY = "context_history"
# The custom parameters that say what a link places (lti/deep_linking.py writes them,
# practice/placement.py reads them).
PLACEMENT_KEYS = ("activity", "module", "size")
MAX_HISTORY = 20  # ids read from one history: copies of copies rarely go past a few
MAX_ID = 255


def history_ids(value: object) -> tuple[str, ...]:
    """The ids of a ``$...id.history`` value, most recent first.

    Nothing when the platform did not substitute the variable (the value still starts with
    ``$``) or sent it empty. Each id is URL-decoded (LTI 1.2 lists URL-encoded ids; Canvas
    and Moodle ids have nothing to decode); empty, over-long or repeated ids are dropped.
    """
    if not isinstance(value, str):
        return ()
    text = value.strip()
    if not text or text.startswith("$"):
        return ()
    ids: list[str] = []
    for part in text.split(",")[:MAX_HISTORY]:
        item = unquote(part.strip())
        if item and len(item) <= MAX_ID and item.isprintable() and item not in ids:
            ids.append(item)
    return tuple(ids)


def placed(custom: Mapping[str, object] | None) -> dict[str, str]:
    """The placement keys of a link's custom parameters (empty when it names no activity)."""
    if not isinstance(custom, Mapping) or not custom.get("activity"):
        return {}
    return {k: str(custom[k]) for k in PLACEMENT_KEYS if custom.get(k) not in (None, "")}


def _placement_of(row: ResourceLink) -> dict[str, str]:
    return placed(row.custom) or dict(row.carried_placement or {})


def _by_link_history(session: Session, deployment_id: int, link: ResourceLink,
                     ids: tuple[str, ...]) -> ResourceLink | None:
    if not ids:
        return None
    rows = session.scalars(
        select(ResourceLink).join(Course, Course.id == ResourceLink.course_id).where(
            Course.deployment_id == deployment_id, ResourceLink.link_id.in_(ids),
            ResourceLink.id != link.id)).all()
    # Most recent id first; should two courses of the deployment hold the same link id,
    # the row made last.
    for link_id in ids:
        matches = [row for row in rows if row.link_id == link_id]
        if matches:
            return max(matches, key=lambda row: row.id)
    return None


def _by_context_history(session: Session, deployment_id: int, link: ResourceLink,
                        ids: tuple[str, ...]) -> ResourceLink | None:
    """The link of the nearest source course with this link's placement and title, when
    exactly one matches there (several: no guess; none: the next older course)."""
    want = placed(link.custom)
    for context_id in ids:
        course = session.scalars(select(Course).where(
            Course.deployment_id == deployment_id, Course.context_id == context_id)).first()
        if course is None:
            continue
        candidates = [row for row in session.scalars(select(ResourceLink).where(
            ResourceLink.course_id == course.id, ResourceLink.id != link.id))
            if row.title == link.title
            and (_placement_of(row) == want if want else _placement_of(row))]
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            log.info("course copy: %d links of course %s match link %s; nothing carried",
                     len(candidates), course.id, link.link_id)
            return None
    return None


def carry_from_history(session: Session, deployment_id: int, link: ResourceLink,
                       custom: Mapping[str, str]) -> ResourceLink | None:
    """Give a newly seen ``link`` the choices made on the link it was copied from; the
    source, or None. ``link`` must be flushed (it has an id) and not known before."""
    source = (_by_link_history(session, deployment_id, link,
                               history_ids(custom.get(RESOURCE_LINK_HISTORY)))
              or _by_context_history(session, deployment_id, link,
                                     history_ids(custom.get(CONTEXT_HISTORY))))
    if source is None:
        return None
    link.copied_from_id = source.id
    link.grading_policy = source.grading_policy
    if not placed(link.custom):
        link.carried_placement = _placement_of(source) or None
    log.info("course copy: link %s carries the choices of link %s", link.id, source.id)
    return source
