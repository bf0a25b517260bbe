"""Grade provenance: why a grade sent to the LMS is what it is, and what the LMS said.

Every grade queued for the gradebook (scores.py) gets a ``GradeRecord`` in the same
transaction: the grading policy, the attempts that counted with their scores, the score
and when it was queued. Every delivery try the worker makes (worker.py, after
outbox.record_outcomes) adds a ``GradeDeliveryTry`` with the LMS's HTTP status and the
start of its answer, and moves the record to sent, retrying or failed; ``cpt-lti outbox
retry`` puts it back to retrying. The records are the tool's own and are not purged with
delivered outbox rows: an instructor asking in May why a February grade is 72% gets the
answer. They go when the person is erased or the link deleted (foreign keys cascade).

The same story in plain words feeds the instructor's grades page and ``cpt-lti grades
explain`` (``headline``, ``try_line``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.models import (
    Course,
    Deployment,
    GradeDeliveryTry,
    GradeRecord,
    LmsFamily,
    Outbox,
    OutboxStatus,
    Platform,
    ResourceLink,
    User,
)

if TYPE_CHECKING:
    from lti_tool.delivery.scores import LinkScore

BODY_CHARS = 500  # of the LMS's answer kept per try
SHORT_BODY = 100  # of it in a one-line headline

SENT, RETRYING, FAILED, QUEUED = "sent", "retrying", "failed", "queued"


@dataclass(frozen=True)
class Answer:
    """What the LMS answered one try: HTTP status and the start of the body (None when it
    could not be reached), and the tool's reason when it failed."""

    http_status: int | None = None
    body: str | None = None
    reason: str | None = None


@dataclass
class GradeStory:
    """One queued grade with its tries, oldest try first."""

    record: GradeRecord
    tries: list[GradeDeliveryTry] = field(default_factory=list)


# --- Writing ----------------------------------------------------------------------------


def record_queued(session: Session, now: datetime, outbox_key: str, score: LinkScore) -> None:
    """The provenance of a grade being queued (same transaction as its outbox row)."""
    session.add(GradeRecord(
        outbox_key=outbox_key, user_id=score.user_id,
        resource_link_id=score.resource_link_id, policy=score.policy,
        attempts=[dict(a) for a in score.counted], score_given=score.score_given,
        score_maximum=score.score_maximum, queued_at=now, state=QUEUED,
        next_try_at=now, updated_at=now))


def record_tries(session: Session, now: datetime, row_ids: Iterable[int],
                 answers: dict[int, Answer]) -> None:
    """One try per delivered outbox row, with the state its outcome left the row in
    (call after outbox.record_outcomes, in its transaction)."""
    ids = list(row_ids)
    if not ids:
        return
    rows = {r.id: r for r in session.scalars(select(Outbox).where(Outbox.id.in_(ids)))}
    records = {r.outbox_key: r for r in session.scalars(select(GradeRecord).where(
        GradeRecord.outbox_key.in_([r.dedupe_key for r in rows.values()])))}
    for row_id in ids:
        row = rows.get(row_id)
        record = records.get(row.dedupe_key) if row is not None else None
        if row is None or record is None:
            continue  # queued before provenance existed
        answer = answers.get(row_id, Answer())
        if row.status == OutboxStatus.SENT:
            outcome, record.next_try_at = SENT, None
        elif row.status == OutboxStatus.FAILED:
            outcome, record.next_try_at = FAILED, None
        else:
            outcome, record.next_try_at = RETRYING, row.next_attempt_at
        record.state, record.updated_at = outcome, now
        session.add(GradeDeliveryTry(
            grade_record_id=record.id, at=now, http_status=answer.http_status,
            body=_stored(answer.body), outcome=outcome,
            reason=_stored(answer.reason or row.last_error) if outcome != SENT else None))


def _stored(text: str | None) -> str | None:
    """The start of an LMS's answer as kept: PostgreSQL refuses NUL in text, and a body is
    whatever the LMS sent."""
    return (text or "").replace("\x00", "")[:BODY_CHARS] or None


def record_requeued(session: Session, now: datetime, outbox_keys: Sequence[str]) -> None:
    """Failed grades put back in the queue by an operator (``cpt-lti outbox retry``)."""
    if not outbox_keys:
        return
    for record in session.scalars(select(GradeRecord).where(
            GradeRecord.outbox_key.in_(list(outbox_keys)))):
        record.state, record.next_try_at, record.updated_at = RETRYING, now, now


# --- Reading ----------------------------------------------------------------------------


def _with_tries(session: Session, records: list[GradeRecord]) -> list[GradeStory]:
    stories = {r.id: GradeStory(r) for r in records}
    if stories:
        for attempt in session.scalars(select(GradeDeliveryTry).where(
                GradeDeliveryTry.grade_record_id.in_(list(stories)))
                .order_by(GradeDeliveryTry.id)):
            stories[attempt.grade_record_id].tries.append(attempt)
    return list(stories.values())


def latest_for_link(session: Session, link_id: int) -> dict[int, GradeStory]:
    """Each student's newest grade on one link with its tries: one query, whatever the
    class size (the instructor's grades page)."""
    newest = (select(func.max(GradeRecord.id)).where(GradeRecord.resource_link_id == link_id)
              .group_by(GradeRecord.user_id))
    stories: dict[int, GradeStory] = {}
    for record, attempt in session.execute(
            select(GradeRecord, GradeDeliveryTry)
            .outerjoin(GradeDeliveryTry, GradeDeliveryTry.grade_record_id == GradeRecord.id)
            .where(GradeRecord.id.in_(newest)).order_by(GradeRecord.id, GradeDeliveryTry.id)):
        story = stories.setdefault(record.user_id, GradeStory(record))
        if attempt is not None:
            story.tries.append(attempt)
    return stories


def for_person(session: Session, user_id: int, link_ids: Sequence[int]) -> list[GradeStory]:
    """Every grade of one person on the given links, oldest first (``grades explain``)."""
    records = list(session.scalars(select(GradeRecord).where(
        GradeRecord.user_id == user_id, GradeRecord.resource_link_id.in_(list(link_ids)))
        .order_by(GradeRecord.id)))
    return _with_tries(session, records)


# --- In words -----------------------------------------------------------------------------


def _time(at: datetime | None) -> str:
    return f"{at:%H:%M} UTC" if at else "?"


def _short(text: str | None) -> str:
    """One line, printable only (an LMS's answer reaches a terminal), at most SHORT_BODY."""
    printable = "".join(c if c.isprintable() else " " for c in text or "")
    one_line = " ".join(printable.split())
    return one_line if len(one_line) <= SHORT_BODY else one_line[:SHORT_BODY - 1] + "…"


def _percent(record: GradeRecord) -> str:
    if not record.score_maximum:
        return "no score"
    return f"{100 * record.score_given / record.score_maximum:.0f}%"


def counted_phrase(record: GradeRecord) -> str:
    """'Best of 3 attempts' / 'Latest of 2 attempts' / 'One attempt'."""
    count = len(record.attempts)
    if count <= 1:
        return "One attempt"
    return f"{record.policy.capitalize()} of {count} attempts"


def deciding(record: GradeRecord) -> list[bool]:
    """For each counted attempt, whether it made the grade: the best one (the first, on a
    tie), the latest one, or every one for an average."""
    fractions = [(a.get("score") or 0) / a["max"] if a.get("max") else -1.0
                 for a in record.attempts]
    if not fractions:
        return []
    if record.policy == "average":
        return [f >= 0 for f in fractions]
    pick = len(fractions) - 1 if record.policy == "latest" else fractions.index(max(fractions))
    return [n == pick for n in range(len(fractions))]


def attempts_made(record: GradeRecord) -> list[str]:
    """Every counted attempt in words, oldest first, saying which made the grade."""
    return [attempt_line(a, d)
            for a, d in zip(record.attempts, deciding(record), strict=True)]


def attempt_line(attempt: dict[str, Any], decided: bool) -> str:
    """'20 of 25, submitted 2026-12-04 14:02 UTC (made the grade) - attempt 3af2...'."""
    when = attempt.get("submitted_at")
    try:
        when = f"{datetime.fromisoformat(when):%Y-%m-%d %H:%M} UTC" if when else "?"
    except ValueError:
        pass
    return (f"{attempt.get('score')} of {attempt.get('max')}, submitted {when}"
            + (" (made the grade)" if decided else "") + f" - attempt {attempt.get('id')}")


def lms_name(family: LmsFamily | str, platform_name: str = "") -> str:
    return LmsFamily(family).spoken(platform_name)


def state_phrase(story: GradeStory, lms: str) -> str:
    """Where the grade stands, in words an instructor can act on."""
    record, last = story.record, (story.tries[-1] if story.tries else None)
    if record.state == SENT:
        return f"sent {_time(last.at if last else record.updated_at)}, {lms} accepted"
    if record.state == FAILED:
        if last is not None and last.http_status is not None:
            said = f"{last.http_status} {_short(last.body)}".strip()
            return f"{lms} refused it: {said} - ask your LMS admin"
        why = _short(last.reason if last else None) or "it could not be sent"
        return f"not sent: {why} - ask your LMS admin"
    queued = f"queued {_time(record.queued_at)}"
    if last is None or last.outcome == SENT:
        waiting = f"{queued}, {lms} has not answered yet"
    elif last.http_status is not None:
        said = f"{last.http_status} {_short(last.body)}".strip()
        waiting = f"{queued}, {lms} has not taken it yet ({said})"
    else:
        waiting = f"{queued}, {lms} has not answered yet ({_short(last.reason)})"
    if record.next_try_at is not None and last is not None:
        waiting += f" - trying again at {_time(record.next_try_at)}"
    return waiting


def headline(story: GradeStory, lms: str) -> str:
    """'Best of 3 attempts: 72%, sent 14:02 UTC, Canvas accepted'."""
    return f"{counted_phrase(story.record)}: {_percent(story.record)}, {state_phrase(story, lms)}"


def try_line(number: int, attempt: GradeDeliveryTry) -> str:
    """'try 1: 2026-12-04 14:02:10 UTC - HTTP 200 - sent'."""
    if attempt.http_status is not None:
        said = f"HTTP {attempt.http_status}" + (f": {_short(attempt.body)}"
                                                if attempt.body else "")
    else:
        said = f"no answer: {_short(attempt.reason)}"
    then = {SENT: "sent", RETRYING: "will try again", FAILED: "gave up"}.get(
        attempt.outcome, attempt.outcome)
    return f"try {number}: {attempt.at:%Y-%m-%d %H:%M:%S} UTC - {said} - {then}"


def as_json(story: GradeStory, lms: str) -> dict[str, Any]:
    record = story.record
    return {
        "summary": headline(story, lms), "policy": record.policy, "state": record.state,
        "score_given": record.score_given, "score_maximum": record.score_maximum,
        "queued_at": record.queued_at.isoformat(),
        "next_try_at": record.next_try_at.isoformat() if record.next_try_at else None,
        "attempts": record.attempts,
        "tries": [{"at": t.at.isoformat(), "http_status": t.http_status, "body": t.body,
                   "outcome": t.outcome, "reason": t.reason} for t in story.tries]}


# --- One person's grades on one link, by the names the LMS uses (``grades explain``) ---


class ExplainError(LookupError):
    """No such platform, learner or link."""


def explain(session: Session, issuer: str, sub: str, link_id: str,
            client_id: str | None = None) -> tuple[str, list[GradeStory]]:
    """The LMS's name and every grade of the learner ``sub`` on the resource link
    ``link_id`` (the LMS's ids), on the platform(s) of ``issuer`` - only that platform's
    courses: the same ids on another platform are another person and another link."""
    query = select(Platform).where(Platform.issuer == issuer)
    if client_id:
        query = query.where(Platform.client_id == client_id)
    platforms = list(session.scalars(query))
    if not platforms:
        raise ExplainError(f"no platform with issuer {issuer}"
                           + (f" and client id {client_id}" if client_id else ""))
    stories: list[GradeStory] = []
    known_person = known_link = False
    for platform in platforms:
        user = session.scalars(select(User).where(User.platform_id == platform.id,
                                                  User.sub == sub)).first()
        links = list(session.scalars(
            select(ResourceLink.id).join(Course, Course.id == ResourceLink.course_id)
            .join(Deployment, Deployment.id == Course.deployment_id)
            .where(Deployment.platform_id == platform.id, ResourceLink.link_id == link_id)))
        known_person, known_link = known_person or user is not None, known_link or bool(links)
        if user is not None and links:
            stories += for_person(session, user.id, links)
    if not known_person:
        raise ExplainError("no learner with that sub on that platform")
    if not known_link:
        raise ExplainError(f"no link {link_id} on that platform")
    return lms_name(platforms[0].lms_family, platforms[0].name), stories
