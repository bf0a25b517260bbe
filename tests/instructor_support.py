"""Helpers for the instructor page tests (integration and browser): an instructor's
session, URLs that keep the session query, and finished tests written the way the engine
writes them, for item analysis to read."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import requests
from factories import db_sessions
from lti_helpers import full_launch, instructor, place  # noqa: F401 - tests import place here
from sqlalchemy import select

from lti_tool.db import transaction
from lti_tool.models import (
    Attempt,
    AttemptMode,
    AttemptStatus,
    Course,
    CurriculumItem,
    Response,
    User,
)


def staff(server, platform, link: str = "cpt-practice-home"):
    """An instructor's session: (requests session, CSRF token, class overview URL)."""
    person = instructor(platform)
    s = requests.Session()
    landing = full_launch(server, platform.key, person.sub, link=link, session=s)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', landing.text).group(1)
    href = re.search(r'href="([^"]*/instructor/class[^"]*)"', landing.text).group(1)
    return s, csrf, server.url + html.unescape(href)


def at(class_url: str, path: str, **params) -> str:
    """``path`` on the tool with the session query the class overview URL carries (the
    session id rides in the URL when the cookie does not come back) plus ``params``."""
    parts = urlsplit(class_url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return f"{parts.scheme}://{parts.netloc}{path}" + (f"?{query}" if query else "")


def ids(server, platform, *people) -> tuple[int, list[int]]:
    engine, sessions = db_sessions(server)
    with transaction(sessions) as db:
        course = db.scalars(select(Course).where(
            Course.context_id == platform.context_id)).one().id
        users = [db.scalars(select(User).where(User.sub == p.sub)).one().id for p in people]
    engine.dispose()
    return course, users


def seed(server, course_id: int, user_id: int, answers: dict[str, int],
          when: datetime | None = None) -> str:
    """One finished practice test in the course with these answers (item id -> choice),
    written as the engine writes it: what item analysis reads."""
    now = when or datetime.now(UTC)
    engine, sessions = db_sessions(server)
    with transaction(sessions) as db:
        bank = {i.id: i for i in db.scalars(select(CurriculumItem).where(
            CurriculumItem.id.in_(list(answers))))}
        right = sum(1 for i, c in answers.items() if bank[i].options[c]["correct"])
        attempt = Attempt(id=str(uuid.uuid4()), user_id=user_id, course_id=course_id,
                          mode=AttemptMode.PRACTICE, status=AttemptStatus.SUBMITTED,
                          module_id=bank[next(iter(answers))].module_id,
                          item_ids=list(answers), started_at=now - timedelta(minutes=20),
                          submitted_at=now, score_raw=right, score_max=len(answers),
                          updated_at=now)
        db.add(attempt)
        db.flush()
        for n, (item_id, choice) in enumerate(answers.items(), start=1):
            db.add(Response(attempt_id=attempt.id, item_id=item_id,
                            item_revision=bank[item_id].revision, position=n, choice=choice,
                            correct=bool(bank[item_id].options[choice]["correct"]),
                            idempotency_key=uuid.uuid4().hex, answered_at=now))
        attempt_id = attempt.id
    engine.dispose()
    return attempt_id


def bank_items(server, module_id: str, n: int) -> list[CurriculumItem]:
    engine, sessions = db_sessions(server)
    with transaction(sessions) as db:
        found = list(db.scalars(select(CurriculumItem).where(
            CurriculumItem.module_id == module_id, CurriculumItem.retired.is_(False))
            .order_by(CurriculumItem.id).limit(n)))
        db.expunge_all()
    engine.dispose()
    return found


def key_of(item) -> int:
    return next(n for n, o in enumerate(item.options) if o["correct"])
