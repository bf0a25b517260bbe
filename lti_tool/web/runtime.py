"""What one running app shares between requests: settings, DB engine, clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app, g, has_request_context
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.db import transaction
from lti_tool.ops.metrics import Tally
from lti_tool.settings import Settings

EXTENSION_KEY = "cpt_lti"


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Callable[[], datetime] = system_clock
    # Launch counts on their way to the shared table (see Tally): per app, since tests run
    # many apps over different databases in one process.
    tally: Tally = field(default_factory=Tally)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work; in a request, the first one continues the session in which the
        request's login was read (see ``hand_over``)."""
        with transaction(self.sessions, _take_handed_over()) as session:
            yield session

    @staticmethod
    def hand_over(session: Session) -> None:
        """Keep a session that has already read something in this request (the login) for
        the request's first ``transaction()``: on PostgreSQL that saves a connection
        checkout and a round trip on every page. ``close_handed_over`` ends it if no
        transaction takes it."""
        close_handed_over()
        setattr(g, _HANDED_OVER, session)


_HANDED_OVER = "cpt_handed_over"


def _take_handed_over() -> Session | None:
    return g.pop(_HANDED_OVER, None) if has_request_context() else None


def close_handed_over(_exc: BaseException | None = None) -> None:
    """Teardown: roll back and return the connection of a session no transaction took."""
    session = _take_handed_over()
    if session is not None:
        session.close()


def runtime() -> Runtime:
    """The Runtime of the app handling the current request."""
    return current_app.extensions[EXTENSION_KEY]
