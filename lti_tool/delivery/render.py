"""Turn a queued learning event (an outbox payload) into the xAPI statement JSON.

The practice engine queues only ids and facts (cheap, in the answer's transaction); the
names a statement needs - the platform's issuer, the LTI ``sub``, the course's context id,
the item's stem and choices - are looked up here, once, by the worker. The resulting JSON
is frozen on the outbox row, so a retry never re-renders. One renderer per kind of event
(``RENDERERS``, keyed by the classes in events.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from lti_tool.delivery import events
from lti_tool.models import (
    ActorIdentity,
    Attempt,
    Course,
    CurriculumItem,
    CurriculumKeyActivity,
    CurriculumLesson,
    CurriculumModule,
    Deployment,
    Platform,
    ResourceLink,
    User,
)
from lti_tool.practice.modes import spec as mode_spec
from xapi import events as ev
from xapi.statements import statement_bytes


class RenderError(ValueError):
    """The event refers to rows that are gone, or is malformed: it cannot become a
    statement (parked for an operator, never silently dropped)."""


def _actor(user: User, platform: Platform, identity: ActorIdentity) -> ev.Actor:
    email = (user.email or "").strip().lower()
    if identity == ActorIdentity.MBOX and email:
        return ev.Actor(homepage=platform.issuer, name=user.sub, mbox=f"mailto:{email}")
    if identity == ActorIdentity.MBOX_SHA1SUM and email:
        digest = hashlib.sha1(f"mailto:{email}".encode()).hexdigest()  # noqa: S324 - xAPI IFI
        return ev.Actor(homepage=platform.issuer, name=user.sub, mbox_sha1sum=digest)
    return ev.Actor(homepage=platform.issuer, name=user.sub)


class RowCache:
    """Rows a rendering pass reads again and again (the same attempt, learner, course and
    items for hundreds of events). The session's identity map holds rows only weakly, so
    without this each event reloaded them."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.rows: dict[tuple[type, Any], Any] = {}

    def get(self, kind: type, key: Any) -> Any:
        if key is None:
            return None
        found = self.rows.get((kind, key))
        if found is None:
            found = self.session.get(kind, key)
            self.rows[(kind, key)] = found
        return found


def render_statement(session: Session, payload: dict[str, Any],
                     cache: RowCache | None = None
                     ) -> tuple[int, Callable[[ActorIdentity], str]]:
    """(platform id, build) where ``build(identity)`` gives the statement's JSON text for
    an LRS that names learners that way."""
    rows = cache or RowCache(session)
    try:
        verb = payload["verb"]
        attempt = rows.get(Attempt, payload["attempt_id"])
        user = rows.get(User, payload["user_id"])
    except KeyError as exc:
        raise RenderError(f"the event has no {exc.args[0]}") from exc
    if attempt is None or user is None:
        raise RenderError("the attempt or the learner no longer exists")
    platform = rows.get(Platform, user.platform_id)
    module = rows.get(CurriculumModule, attempt.module_id)
    if platform is None or module is None:
        raise RenderError("the platform or the module no longer exists")
    course = rows.get(Course, attempt.course_id) if attempt.course_id else None
    deployment = rows.get(Deployment, course.deployment_id) if course else None
    link = (rows.get(ResourceLink, attempt.resource_link_id)
            if attempt.resource_link_id else None)
    lms = ev.LmsContext(issuer=platform.issuer,
                        deployment_id=deployment.deployment_id if deployment else None,
                        context_id=course.context_id if course else None,
                        context_title=course.title if course else None,
                        resource_link_id=link.link_id if link else None)
    ka_id = payload.get("key_activity_id")
    common = dict(statement_id=payload["statement_id"],
                  timestamp=datetime.fromisoformat(payload["timestamp"]),
                  lms=lms, registration=attempt.id, mode=attempt.mode.value,
                  mode_title=mode_spec(attempt.mode).statement_title,
                  module_id=module.id, module_title=module.title, key_activity_id=ka_id)
    lesson = (rows.get(CurriculumLesson, attempt.lesson_id) if attempt.lesson_id
              else None)
    factory = _factory(rows, verb, payload, common, lesson)

    def build(identity: ActorIdentity) -> str:
        event = factory(_actor(user, platform, identity))
        return statement_bytes(event).decode()

    return platform.id, build


Factory = Callable[[ev.Actor], Any]
Renderer = Callable[[RowCache, dict[str, Any], dict[str, Any], CurriculumLesson | None],
                    Factory]
"""(rows, payload, common statement fields, the attempt's lesson) -> build(actor). It
validates the event now, so a bad one is parked before any LRS sees it."""


def _unknown(verb: str) -> RenderError:
    return RenderError(f"unknown learning event {verb!r}")


def _session_lesson(lesson: CurriculumLesson | None) -> dict[str, Any]:
    """A lesson's session names the lesson, as its experienced and completed do."""
    return (dict(lesson_id=lesson.id, lesson_title=lesson.title) if lesson is not None
            else {})


def _initialized(rows: RowCache, payload: dict[str, Any], common: dict[str, Any],
                 lesson: CurriculumLesson | None) -> Factory:
    return lambda actor: ev.SessionInitialized(actor=actor, **_session_lesson(lesson),
                                               **common)


def _terminated(rows: RowCache, payload: dict[str, Any], common: dict[str, Any],
                lesson: CurriculumLesson | None) -> Factory:
    duration = payload.get("duration_seconds")
    return lambda actor: ev.SessionTerminated(actor=actor, duration_seconds=duration or 0.0,
                                              **_session_lesson(lesson), **common)


def _experienced(rows: RowCache, payload: dict[str, Any], common: dict[str, Any],
                 lesson: CurriculumLesson | None) -> Factory:
    if lesson is None:  # only a lesson is experienced
        raise _unknown(payload["verb"])
    return lambda actor: ev.LessonExperienced(
        actor=actor, lesson_id=lesson.id, lesson_title=lesson.title, **common)


def _answered(rows: RowCache, payload: dict[str, Any], common: dict[str, Any],
              lesson: CurriculumLesson | None) -> Factory:
    item = rows.get(CurriculumItem, payload["item_id"])
    if item is None:
        raise RenderError(f"item {payload['item_id']} no longer exists")
    options = list(item.options)
    correct_index = next((n for n, o in enumerate(options) if o.get("correct")), None)
    if correct_index is None:
        raise RenderError(f"item {item.id} has no correct option")
    ms = payload.get("duration_ms")
    return lambda actor: ev.ItemAnswered(
        actor=actor, item_id=item.id, stem=item.stem,
        choices=tuple(o["text"] for o in options), correct_index=correct_index,
        chosen_index=int(payload["choice"]), success=bool(payload["correct"]),
        duration_seconds=(ms / 1000.0) if ms is not None else None,
        lesson_id=lesson.id if lesson else None,
        lesson_title=lesson.title if lesson else None, **common)


def _score(payload: dict[str, Any]) -> tuple[Any, Any]:
    raw, maximum = payload.get("score_raw"), payload.get("score_max")
    if raw is None or not maximum:
        raise RenderError("the attempt's score is missing")
    return raw, maximum


def _completed(rows: RowCache, payload: dict[str, Any], common: dict[str, Any],
               lesson: CurriculumLesson | None) -> Factory:
    """A lesson's completion, or an attempt's (with its score)."""
    duration = payload.get("duration_seconds")
    if lesson is not None:
        maximum = payload.get("score_max")
        score = (dict(score_raw=payload.get("score_raw"), score_max=maximum) if maximum
                 else {})
        return lambda actor: ev.LessonCompleted(
            actor=actor, lesson_id=lesson.id, lesson_title=lesson.title,
            duration_seconds=duration or 0.0, **score, **common)
    raw, maximum = _score(payload)
    return lambda actor: ev.AttemptCompleted(
        actor=actor, score_raw=raw, score_max=maximum, duration_seconds=duration or 0.0,
        **common)


def _judged(rows: RowCache, payload: dict[str, Any], common: dict[str, Any],
            lesson: CurriculumLesson | None) -> Factory:
    """Passed or failed: a mock exam against its pass mark."""
    duration = payload.get("duration_seconds")
    raw, maximum = _score(payload)
    passed = payload["verb"] == events.Passed.kind
    return lambda actor: ev.AttemptJudged(
        actor=actor, passed=passed, score_raw=raw, score_max=maximum,
        duration_seconds=duration or 0.0, **common)


def _progressed(rows: RowCache, payload: dict[str, Any], common: dict[str, Any],
                lesson: CurriculumLesson | None) -> Factory:
    ka = rows.get(CurriculumKeyActivity, payload["key_activity_id"])
    if ka is None:
        raise RenderError(f"key activity {payload['key_activity_id']} no longer exists")
    return lambda actor: ev.MasteryProgressed(
        actor=actor, key_activity_title=ka.title, estimate=float(payload["estimate"]),
        **common)


RENDERERS: dict[type[events.LearningEvent], Renderer] = {
    events.Initialized: _initialized,
    events.Experienced: _experienced,
    events.Answered: _answered,
    events.Completed: _completed,
    events.Passed: _judged,
    events.Failed: _judged,
    events.Terminated: _terminated,
    events.Progressed: _progressed,
}
"""Every kind of learning event (events.py) and the statement it becomes."""


def _factory(rows: RowCache, verb: str, payload: dict[str, Any], common: dict[str, Any],
             lesson: CurriculumLesson | None) -> Factory:
    """The queued row's kind is looked up by its stored ``verb``; one no kind has (a row
    from a newer version, or a hand-made one) is parked, never silently dropped."""
    kind = events.KINDS.get(verb) if isinstance(verb, str) else None
    if kind is None:
        raise _unknown(verb)
    return RENDERERS[kind](rows, payload, common, lesson)
