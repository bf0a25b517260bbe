"""What a placed link means: the activity the instructor chose with Deep Linking.

A grade must mean exactly what the instructor placed. The link's custom parameters (set
by Deep Linking and kept by course copy, where resource link ids change) name it:
``activity`` (a mode's ``link_kind``: ``lessons``, ``drill``, ``practice`` or ``mock``),
``module`` and, for a practice test, ``size``. Only attempts of exactly that activity -
same mode, same module, the whole module, the full size - count toward the link's grade;
whatever else a student does from the link is practice and never reaches the gradebook.
A link without a gradable placement (course navigation, the tool's home, a lessons or
drill link) grades nothing, so it never creates a line item or sends a score.

A link may also place one topic: a single lesson (``activity=lesson``, ``lesson``) or a
drill on one key activity (``activity=drill``, ``key_activity``), a mode's
``topic_link_kind``. Lessons and drills are practice, so a topic link grades nothing
either; ``target`` checks its topic against the curriculum (it must be live and in the
link's module) before a student's launch opens it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from lti_tool.models import AttemptMode, ResourceLink
from lti_tool.practice import catalog, modes
from lti_tool.practice.modes import GRADED_MODES, MAX_PLACED_SIZE, ModeSpec

__all__ = ["GRADED_MODES", "Activity", "ModuleMenu", "Placement", "Target", "Topic",
           "activities", "link_placement", "menu", "placement", "target"]

# The custom parameters of a placed link (Deep Linking writes them, ``target`` reads them).
ACTIVITY, MODULE, SIZE = "activity", "module", "size"
LESSON, KEY_ACTIVITY = "lesson", "key_activity"


def topic_param(spec: ModeSpec) -> str:
    """The custom parameter naming a topic link's topic: a mode of lesson checks needs
    its lesson, any other runs on a key activity."""
    return LESSON if spec.lesson_checks else KEY_ACTIVITY


@dataclass(frozen=True)
class Target:
    """What a placed link opens for a student: a mode in a module, on one lesson or key
    activity when the link placed a topic."""

    spec: ModeSpec
    module_id: str
    key_activity_id: str | None = None
    lesson_id: str | None = None

    @property
    def topic(self) -> bool:
        return self.key_activity_id is not None or self.lesson_id is not None


def _topic_target(session: Session, spec: ModeSpec, module_id: str,
                  topic_id: str) -> Target | None:
    if spec.lesson_checks:
        lesson = catalog.lesson(session, topic_id)
        if lesson is None or lesson.retired or lesson.module_id != module_id:
            return None
        return Target(spec, module_id, lesson_id=lesson.id)
    ka = catalog.key_activity(session, topic_id)
    if ka is None or ka.retired or ka.module_id != module_id:
        return None
    return Target(spec, module_id, key_activity_id=ka.id)


def target(session: Session, custom: Mapping[str, Any] | None) -> Target | None:
    """What a link's custom parameters place, checked against the curriculum; None when
    they place nothing this release has: no known activity (course navigation, the
    tool's home), no such module, or a topic that is unknown, retired or of another
    module (custom parameters can be edited in the LMS). A topic link never falls back
    to its whole module: that would be another activity than the one placed."""
    custom = custom if isinstance(custom, Mapping) else {}
    kind, module_id = custom.get(ACTIVITY), custom.get(MODULE)
    if not isinstance(module_id, str) or catalog.module(session, module_id) is None:
        return None
    spec = modes.by_topic_link_kind(kind)
    if spec is not None:
        topic_id = custom.get(topic_param(spec))
        if isinstance(topic_id, str) and topic_id:
            return _topic_target(session, spec, module_id, topic_id)
    spec = modes.by_link_kind(kind)
    return Target(spec, module_id) if spec is not None else None


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
    placed = target(session, custom)
    if placed is None or not placed.spec.graded or placed.topic:
        return None
    spec, module_id = placed.spec, placed.module_id
    module = catalog.module(session, module_id)
    assert module is not None  # target() checked it
    # A mock exam is the module's exam, whatever size it had when it was placed.
    requested = str(custom.get(SIZE, "")).strip()
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
    it into a content item). ``key`` is what the picker posts: "<kind>:<module>" for a
    whole module (also a graded one's line item resourceId) and
    "<kind>:<module>:<topic id>" for one lesson or key activity; ``score_maximum`` is
    the placed size of a graded one."""

    key: str
    kind: str
    module_id: str
    title: str
    description: str
    gradable: bool
    score_maximum: int | None
    key_activity_id: str | None = None
    lesson_id: str | None = None

    @property
    def custom(self) -> dict[str, str]:
        """The custom parameters the placed link carries (``target`` reads them back)."""
        params = {ACTIVITY: self.kind, MODULE: self.module_id}
        if self.lesson_id is not None:
            params[LESSON] = self.lesson_id
        if self.key_activity_id is not None:
            params[KEY_ACTIVITY] = self.key_activity_id
        if self.gradable and self.score_maximum:
            # The size the grade is made of: only attempts of this size count.
            params[SIZE] = str(self.score_maximum)
        return params


@dataclass(frozen=True)
class Topic:
    """One key activity in the picker: its lesson(s) and its drill, each placeable."""

    key_activity_id: str
    title: str
    activities: list[Activity]


@dataclass(frozen=True)
class ModuleMenu:
    """One module in the picker: the whole-module activities, then its topics."""

    module_id: str
    title: str
    activities: list[Activity]
    topics: list[Topic] = field(default_factory=list)


def menu(session: Session) -> list[ModuleMenu]:
    """Every activity the picker offers: each module (from the curriculum tables, in
    blueprint order) in each mode, with the mode's default length; then each live key
    activity's live lessons and drill, for the modes that run on one topic."""
    shape = catalog.outline(session)
    lessons_of: dict[str, list[catalog.CachedLesson]] = {}
    for lesson_ids in shape.lessons.values():
        for lesson_id in lesson_ids:
            lesson = shape.lesson_rows[lesson_id]
            lessons_of.setdefault(lesson.key_activity_id, []).append(lesson)
    topic_kinds = [(s, s.topic_link_kind) for s in modes.SPECS.values()
                   if s.topic_link_kind is not None]
    offered = []
    for module in catalog.modules(session):
        whole = []
        for spec in modes.SPECS.values():
            size = spec.size(module.exam_items)
            whole.append(Activity(
                f"{spec.link_kind}:{module.id}", spec.link_kind, module.id,
                f"{module.title}: {spec.link_title}",
                spec.link_description.format(module=module.title, items=size,
                                             minutes=module.exam_minutes),
                spec.graded, size if spec.graded else None))
        topics = []
        for ka in catalog.live_activities(session, module.id):
            picks = []
            for spec, kind in topic_kinds:  # practice: a topic link grades nothing
                if spec.lesson_checks:
                    picks += [Activity(f"{kind}:{module.id}:{lesson.id}", kind, module.id,
                                       f"{spec.label}: {lesson.title} ({module.title})",
                                       f"{spec.label}: {lesson.title}", False, None,
                                       lesson_id=lesson.id)
                              for lesson in lessons_of.get(ka.id, [])]
                else:
                    picks.append(Activity(f"{kind}:{module.id}:{ka.id}", kind, module.id,
                                          f"{spec.label}: {ka.title} ({module.title})",
                                          spec.label, False, None, key_activity_id=ka.id))
            topics.append(Topic(ka.id, ka.title, picks))
        offered.append(ModuleMenu(module.id, module.title, whole, topics))
    return offered


def activities(session: Session) -> list[Activity]:
    """Every activity the picker offers, in the picker's order (``menu``)."""
    return [a for m in menu(session)
            for a in [*m.activities, *(a for t in m.topics for a in t.activities)]]
