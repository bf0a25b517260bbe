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
from lti_tool.practice import catalog

DEFAULT_PRACTICE_SIZE = 25
MAX_PRACTICE_SIZE = 100
GRADED_MODES = (AttemptMode.PRACTICE, AttemptMode.MOCK)


@dataclass(frozen=True)
class Placement:
    mode: AttemptMode
    module_id: str
    size: int

    def size_for(self, mode: AttemptMode | str, module_id: str) -> int | None:
        """The placed size when a start of ``mode`` in ``module_id`` is this activity."""
        return self.size if self.mode == mode and self.module_id == module_id else None

    def describe(self, module_title: str) -> str:
        kind = "mock exam" if self.mode == AttemptMode.MOCK else "practice test"
        return f"{module_title}: {kind} of {self.size} questions"


def placement(session: Session, link: ResourceLink | None) -> Placement | None:
    """The graded activity ``link`` places, or None when it places none."""
    if link is None:
        return None
    custom = link.custom if isinstance(link.custom, dict) else {}
    kind, module_id = custom.get("activity"), custom.get("module")
    if kind not in {m.value for m in GRADED_MODES} or not isinstance(module_id, str):
        return None
    module = catalog.module(session, module_id)
    if module is None:
        return None
    if kind == AttemptMode.MOCK:
        # A mock exam is the module's exam, whatever size it had when it was placed.
        return Placement(AttemptMode.MOCK, module_id, module.exam_items)
    size = str(custom.get("size", "")).strip()
    count = int(size) if size.isdigit() else DEFAULT_PRACTICE_SIZE
    if not 1 <= count <= MAX_PRACTICE_SIZE:
        count = DEFAULT_PRACTICE_SIZE
    return Placement(AttemptMode.PRACTICE, module_id, count)


def link_placement(session: Session, link_id: int | None) -> Placement | None:
    return placement(session, session.get(ResourceLink, link_id)) if link_id else None
