"""What a placed link grades: the activity the instructor chose with Deep Linking.

A grade must mean exactly what the instructor placed. The link's custom parameters (set
by Deep Linking and kept by course copy, where resource link ids change) name it:
``activity`` (``practice`` or ``mock``), ``module`` and, for a practice test, ``size``. Only
attempts of exactly that activity - same mode, same module, the whole module, the full
size - count toward the link's grade; whatever else a student does from the link is
practice and never reaches the gradebook. A link without a gradable placement (course
navigation, the tool's home, a lessons or drill link) grades nothing, so it never creates
a line item or sends a score.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from lti_tool.models import AttemptMode, ResourceLink
from lti_tool.practice import catalog, modes
from lti_tool.practice.modes import GRADED_MODES, MAX_PLACED_SIZE

__all__ = ["GRADED_MODES", "Activity", "Placement", "activities", "link_placement",
           "placement"]


@dataclass(frozen=True)
class Placement:
    mode: AttemptMode
    module_id: str
    size: int

    def size_for(self, mode: AttemptMode | str, module_id: str) -> int | None:
        """The placed size when a start of ``mode`` in ``module_id`` is this activity."""
        return self.size if self.mode == mode and self.module_id == module_id else None

    def describe(self, module_title: str) -> str:
        kind = modes.noun(self.mode)
        return f"{module_title}: {kind} of {self.size} questions"


def placement(session: Session, link: ResourceLink | None) -> Placement | None:
    """The graded activity ``link`` places, or None when it places none."""
    if link is None:
        return None
    custom = link.custom if isinstance(link.custom, dict) else {}
    if not custom.get("activity") and isinstance(link.carried_placement, dict):
        # A course copy that dropped the link's custom: the activity carried from the
        # link it copies (lti/copies.py).
        custom = link.carried_placement
    spec, module_id = modes.by_link_kind(custom.get("activity")), custom.get("module")
    if spec is None or not spec.graded or not isinstance(module_id, str):
        return None
    module = catalog.module(session, module_id)
    if module is None:
        return None
    # A mock exam is the module's exam, whatever size it had when it was placed.
    requested = str(custom.get("size", "")).strip()
    count = int(requested) if requested.isdigit() and not spec.exam else None
    if count is not None and not 1 <= count <= MAX_PLACED_SIZE:
        count = None
    size = spec.size(module.exam_items, count)
    assert size is not None  # every graded mode has a length
    return Placement(spec.mode, module_id, size)


def link_placement(session: Session, link_id: int | None) -> Placement | None:
    return placement(session, session.get(ResourceLink, link_id)) if link_id else None


@dataclass(frozen=True)
class Activity:
    """An activity an instructor can place with Deep Linking (lti/deep_linking.py turns
    it into a content item). ``key`` is "<kind>:<module>", also the line item's
    resourceId; ``score_maximum`` is the placed size of a graded one."""

    key: str
    kind: str
    module_id: str
    title: str
    description: str
    gradable: bool
    score_maximum: int | None


def activities(session: Session) -> list[Activity]:
    """Every activity the picker offers: each module (from the curriculum tables, in
    blueprint order) in each mode, with the mode's default length."""
    offered = []
    for module in catalog.modules(session):
        for spec in modes.SPECS.values():
            size = spec.size(module.exam_items)
            offered.append(Activity(
                f"{spec.link_kind}:{module.id}", spec.link_kind, module.id,
                f"{module.title}: {spec.link_title}",
                spec.link_description.format(module=module.title, items=size,
                                             minutes=module.exam_minutes),
                spec.graded, size if spec.graded else None))
    return offered
