"""Grades to the LMS gradebook: a queued score (scores.py) becomes an LTI AGS publish.

The score row holds ids and numbers; the names the LMS needs (the learner's ``sub``, the
line item URLs, the module's title for the line item's label) are read here, when it is
sent, so a retry sends what the link and the module are now. A row whose attempt, link,
learner or grade service is gone can never be sent: it fails at once, not after retries.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from lti_tool.db import transaction
from lti_tool.delivery.outbox import Claimed, Outcome
from lti_tool.delivery.provenance import Answer
from lti_tool.lti.ags import AgsClient, DeliveryError, ScoreToSend
from lti_tool.models import (
    Attempt,
    Course,
    CurriculumModule,
    Deployment,
    ResourceLink,
    User,
)
from lti_tool.practice.modes import noun as mode_noun

log = logging.getLogger(__name__)


def _score(session: Session, payload: dict[str, Any]) -> ScoreToSend:
    attempt = session.get(Attempt, payload["attempt_id"])
    link = session.get(ResourceLink, payload["resource_link_id"])
    if attempt is None or link is None:
        raise DeliveryError("the attempt or its course link no longer exists",
                            retryable=False)
    user = session.get(User, attempt.user_id)
    course = session.get(Course, link.course_id)
    deployment = session.get(Deployment, course.deployment_id) if course else None
    module = session.get(CurriculumModule, attempt.module_id)
    if user is None or deployment is None or module is None:
        raise DeliveryError("the person, course or module is gone", retryable=False)
    if not (link.ags_lineitem_url or link.ags_lineitems_url):
        raise DeliveryError("the LMS offered no grade service for this link",
                            retryable=False)
    mode = payload.get("mode", attempt.mode.value)
    given, maximum = float(payload["score_given"]), float(payload["score_maximum"])
    return ScoreToSend(
        platform_id=deployment.platform_id, user_sub=user.sub,
        lineitem_url=link.ags_lineitem_url, lineitems_url=link.ags_lineitems_url,
        scopes=list(link.ags_scopes), resource_id=f"{mode}:{module.id}",
        label=f"{module.title}: {mode_noun(mode)}", score_given=given,
        score_maximum=maximum, timestamp=payload["timestamp"],
        submitted_at=payload.get("submitted_at") or payload["timestamp"],
        comment=_comment(given, maximum, module.title, mode_noun(mode),
                         payload.get("policy", "best"), int(payload.get("attempts", 1))))


def _comment(given: float, maximum: float, module: str, activity: str, policy: str,
             attempts: int) -> str:
    """The short note the student and instructor see beside the grade."""
    text = f"{given:g} of {maximum:g} correct on the {module} {activity}."
    if attempts > 1:
        text = f"{policy.capitalize()} of {attempts} attempts: {text}"
    return text


def send_scores(sessions: sessionmaker[Session], client: AgsClient,
                claimed: list[Claimed], answers: dict[int, Answer] | None = None
                ) -> list[Outcome]:
    """Publish each claimed score, one after the other, holding no DB lock while the LMS
    answers; the outcome of each, for outbox.record_outcomes, and what the LMS answered
    each into ``answers`` (by row id), for the grade's provenance."""
    outcomes: list[Outcome] = []
    answers = {} if answers is None else answers
    for row_id, payload, attempts in claimed:
        try:
            with transaction(sessions) as session:
                score = _score(session, payload)
            said = client.publish(score)
            answers[row_id] = Answer(said.get("status"), said.get("body"))
        except DeliveryError as exc:
            answers[row_id] = Answer(exc.status, exc.body, str(exc))
            outcomes.append((row_id, attempts, exc))
        except Exception as exc:  # noqa: BLE001 - one broken row must not lose the others
            # Scores already published in this pass are recorded as sent below; an escape
            # here would leave them leased and send them again. This row is tried later.
            log.exception("outbox %s: unexpected error while sending a score", row_id)
            outcomes.append((row_id, attempts, DeliveryError(
                f"unexpected {type(exc).__name__}: {exc}", retryable=True)))
        else:
            outcomes.append((row_id, attempts, None))
    return outcomes
