"""What one running app shares between requests: settings, DB engine, clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.db import transaction
from lti_tool.metrics import Tally
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
        with transaction(self.sessions) as session:
            yield session


def runtime() -> Runtime:
    """The Runtime of the app handling the current request."""
    return current_app.extensions[EXTENSION_KEY]
