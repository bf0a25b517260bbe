"""Learning event -> xAPI statement, modelled with tincan, serialized once.

tincan builds and serializes the statement; ``statement_json`` then corrects what tincan
1.0.0 gets wrong for us: it stamps ``"version": "1.0.3"`` on every statement (the LRS must
set that; a client-sent version is allowed but pins statements to one spec revision, and
Ralph and others store it as if the client had chosen it), and it writes timestamps with
whatever precision and offset the datetime had (we send UTC with milliseconds, so equal
events compare equal as text). The bytes from ``statement_bytes`` are deterministic: the
outbox stores them and every retry resends exactly them.
"""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from typing import Any

from tincan import (
    Activity,
    ActivityDefinition,
    ActivityList,
    Agent,
    AgentAccount,
    Context,
    ContextActivities,
    Extensions,
    InteractionComponent,
    InteractionComponentList,
    LanguageMap,
    Result,
    Score,
    Statement,
    Verb,
)

from xapi import events as ev
from xapi import vocabulary as v

CHOICE_IDS = "abcdefghij"


def _lang(event: ev.Event, text: str) -> LanguageMap:
    return LanguageMap({event.language: text})


def _activity(event: ev.Event, iri: str, kind: v.Concept, name: str,
              description: str | None = None) -> Activity:
    definition = ActivityDefinition(type=kind.iri, name=_lang(event, name))
    if description:
        definition.description = _lang(event, description)
    return Activity(id=iri, definition=definition)


def _duration(seconds: float) -> timedelta:
    """xAPI durations to hundredths of a second (ISO 8601 allows more, but SCORM-era
    consumers and Ralph's own models compare at 0.01 s)."""
    return timedelta(seconds=round(seconds, 2))


def _actor(actor: ev.Actor) -> Agent:
    if actor.mbox:
        return Agent(mbox=actor.mbox)
    if actor.mbox_sha1sum:
        return Agent(mbox_sha1sum=actor.mbox_sha1sum)
    return Agent(account=AgentAccount(home_page=actor.homepage, name=actor.name))


def _verb(concept: v.Concept) -> Verb:
    return Verb(id=concept.iri, display=LanguageMap({"en-US": concept.label}))


def _module(event: ev.Event) -> Activity:
    return _activity(event, v.module_activity_id(event.module_id), v.MODULE,
                     f"CPT 4.0 {event.module_title}")


def _assessment(event: ev.Event) -> Activity:
    mode = event.mode_title or event.mode
    scope = f" ({event.key_activity_id})" if event.key_activity_id else ""
    return _activity(event, v.assessment_activity_id(event.mode, event.module_id,
                                                     event.key_activity_id),
                     v.ASSESSMENT, f"{mode}: {event.module_title}{scope}")


def _lesson(event: ev.Event, lesson_id: str, title: str) -> Activity:
    return _activity(event, v.lesson_activity_id(lesson_id), v.LESSON, title)


def _context(event: ev.Event, parent: list[Activity]) -> Context:
    grouping = [_module(event),
                _activity(event, v.CPT_COURSE_ID, v.COURSE,
                          "MSSC Certified Production Technician (CPT 4.0)")]
    if event.lms.context_id:
        grouping.append(_activity(
            event, v.lms_course_activity_id(event.lms.issuer, event.lms.context_id),
            v.COURSE, event.lms.context_title or event.lms.context_id))
    extensions: dict[str, Any] = {v.LTI_ISSUER.iri: event.lms.issuer,
                                  v.ATTEMPT_MODE.iri: event.mode}
    for concept, value in ((v.LTI_DEPLOYMENT, event.lms.deployment_id),
                           (v.LTI_CONTEXT, event.lms.context_id),
                           (v.LTI_RESOURCE_LINK, event.lms.resource_link_id),
                           (v.KEY_ACTIVITY, event.key_activity_id)):
        if value:
            extensions[concept.iri] = value
    profile = Activity(id=v.PROFILE_VERSION,
                       definition=ActivityDefinition(type=v.PROFILE_TYPE.iri))
    activities = ContextActivities(grouping=ActivityList(grouping),
                                   category=ActivityList([profile]))
    if parent:
        activities.parent = ActivityList(parent)
    return Context(registration=event.registration, context_activities=activities,
                   platform=v.PLATFORM_NAME, language=event.language,
                   extensions=Extensions(extensions))


def _score(event: ev.AttemptCompleted) -> Score:
    return Score(scaled=event.scaled, raw=event.score_raw, min=0, max=event.score_max)


def _session_object(event: ev.SessionInitialized) -> Activity:
    """What a session is about: a lesson's is the lesson (the activity its "experienced"
    and "completed" name too), any other attempt's the assessment."""
    if event.lesson_id:
        return _lesson(event, event.lesson_id, event.lesson_title or event.lesson_id)
    return _assessment(event)


def build_statement(event: ev.Event) -> Statement:
    """The tincan Statement for an event (see the profile for what each one means).

    Every statement has a parent: an answer's is the assessment or lesson it was part of,
    every other statement's the module its activity belongs to."""
    parent: list[Activity] = [_module(event)]
    result: Result | None = None
    if isinstance(event, ev.SessionTerminated):
        verb, obj = v.TERMINATED, _session_object(event)
        result = Result(duration=_duration(event.duration_seconds))
    elif isinstance(event, ev.SessionInitialized):
        verb, obj = v.INITIALIZED, _session_object(event)
    elif isinstance(event, ev.LessonCompleted):
        verb, obj = v.COMPLETED, _lesson(event, event.lesson_id, event.lesson_title)
        result = Result(completion=True, duration=_duration(event.duration_seconds))
        if event.scaled is not None:
            result.score = Score(scaled=event.scaled, raw=event.score_raw, min=0,
                                 max=event.score_max)
    elif isinstance(event, ev.LessonExperienced):
        verb, obj = v.EXPERIENCED, _lesson(event, event.lesson_id, event.lesson_title)
    elif isinstance(event, ev.ItemAnswered):
        verb, obj = v.ANSWERED, _item(event)
        parent = [_lesson(event, event.lesson_id, event.lesson_title or event.lesson_id)
                  if event.lesson_id else _assessment(event)]
        result = Result(response=CHOICE_IDS[event.chosen_index], success=event.success)
        if event.duration_seconds is not None:
            result.duration = _duration(event.duration_seconds)
    elif isinstance(event, ev.AttemptJudged):
        verb = v.PASSED if event.passed else v.FAILED
        obj = _assessment(event)
        result = Result(score=_score(event), success=event.passed, completion=True,
                        duration=_duration(event.duration_seconds))
    elif isinstance(event, ev.AttemptCompleted):
        verb, obj = v.COMPLETED, _assessment(event)
        result = Result(score=_score(event), completion=True,
                        duration=_duration(event.duration_seconds))
    elif isinstance(event, ev.MasteryProgressed):
        verb = v.PROGRESSED
        obj = _activity(event, v.key_activity_activity_id(str(event.key_activity_id)),
                        v.OBJECTIVE, event.key_activity_title)
        result = Result(extensions=Extensions({v.MASTERY.iri: round(event.estimate, 4)}))
    else:
        raise TypeError(f"not a learning event: {type(event).__name__}")
    statement = Statement(id=event.statement_id, actor=_actor(event.actor), verb=_verb(verb),
                          object=obj, context=_context(event, parent),
                          timestamp=event.timestamp)
    if result is not None:
        statement.result = result
    return statement


NAME_LENGTH = 80


def short_stem(stem: str, limit: int = NAME_LENGTH) -> str:
    """An item's name for people: its stem, cut at a word boundary with an ellipsis when
    longer than ``limit`` characters (the full stem is the description, the item id is in
    the activity id)."""
    text = " ".join(stem.split())
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    if " " in cut and not text[limit - 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-") + "\u2026"


def _item(event: ev.ItemAnswered) -> Activity:
    _require_choices(event)
    choices = InteractionComponentList([
        InteractionComponent(id=CHOICE_IDS[n], description=_lang(event, text))
        for n, text in enumerate(event.choices)])
    definition = ActivityDefinition(
        type=v.INTERACTION.iri, name=_lang(event, short_stem(event.stem)),
        description=_lang(event, event.stem), interaction_type="choice",
        correct_responses_pattern=[CHOICE_IDS[event.correct_index]], choices=choices)
    return Activity(id=v.item_activity_id(event.item_id), definition=definition)


def _require_choices(event: ev.ItemAnswered) -> None:
    if len(event.choices) > len(CHOICE_IDS):
        raise ValueError(f"at most {len(CHOICE_IDS)} choices per item")


def _timestamp(event: ev.Event) -> str:
    return event.timestamp.astimezone(UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def statement_json(event: ev.Event) -> dict[str, Any]:
    """The statement as the LRS will get it: tincan's JSON, without ``version``, with
    a UTC millisecond timestamp."""
    data = json.loads(build_statement(event).to_json())
    data.pop("version", None)
    data["timestamp"] = _timestamp(event)
    return data


def canonical_bytes(data: dict[str, Any]) -> bytes:
    """Canonical JSON (sorted keys, no spaces, UTF-8): equal statements, equal bytes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def statement_bytes(event: ev.Event) -> bytes:
    """What the outbox stores and every retry resends: the same event, the same bytes."""
    return canonical_bytes(statement_json(event))
