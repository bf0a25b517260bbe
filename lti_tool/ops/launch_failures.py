"""The last refused launch of each platform, for the admin console (issue 20).

A refused launch can only be tied to a platform by the issuer and audience its id_token
*claims*: the token failed validation, so anyone can make any registered platform show a
failure. So the row gets only what the tool itself decided - the time, the error code and
the error's fixed title - never a claim of the token (a name, a deployment id, a message
text), and at most one write per platform per ``STEP``, with one guarded UPDATE and no
read: a flood of forged launches costs one write a minute, and a failure naming no
registered platform matches no row and writes nothing (it is counted in /metrics only).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.db import transaction
from lti_tool.lti.errors import LaunchError
from lti_tool.models import Platform

log = logging.getLogger(__name__)

STEP = timedelta(minutes=1)
REASON_CHARS = 200
CODE_CHARS = 40


def record_failed_launch(session: Session, error: LaunchError, now: datetime) -> bool:
    """Note ``error`` on the platform its issuer and client id name, unless that platform
    noted one less than ``STEP`` ago. True when a row was written."""
    if not error.issuer or not error.client_id:
        return False
    written = session.execute(
        update(Platform)
        .where(Platform.issuer == error.issuer[:255], Platform.client_id == error.client_id[:255],
               or_(Platform.last_failed_launch_at.is_(None),
                   Platform.last_failed_launch_at <= now - STEP))
        .values(last_failed_launch_at=now, last_failed_launch_code=error.code[:CODE_CHARS],
                last_failed_launch_reason=type(error).title[:REASON_CHARS])
        .execution_options(synchronize_session=False)).rowcount
    return bool(written)


def note_failed_launch(sessions: sessionmaker[Session], error: LaunchError,
                       now: datetime) -> None:
    """``record_failed_launch`` in a transaction of its own (the launch's rolled back);
    never raises: a refusal page must not turn into a 500 because this could not be noted."""
    try:
        with transaction(sessions) as db:
            record_failed_launch(db, error, now)
    except SQLAlchemyError:
        log.warning("could not note the refused launch on its platform", exc_info=True)


def hint_for(code: str | None, reason: str | None) -> str | None:
    """What an admin checks for a recorded failure: the admin hint of the error class with
    that code (and title, where several share a code), from lti/errors.py."""
    if not code:
        return None
    found: list[type[LaunchError]] = []
    pending: list[type[LaunchError]] = [LaunchError]
    while pending:
        cls = pending.pop()
        if cls.code == code:
            found.append(cls)
        pending.extend(cls.__subclasses__())
    for cls in found:
        if cls.title == reason:
            return cls.admin_hint
    return found[0].admin_hint if found else None
