"""A throwaway database of learners with the curriculum loaded: the world the practice
engine's tests and benchmarks run in.

One home for it so a schema change (a new required platform column, a new curriculum
table) is made once, not in every benchmark and test that needs students to exist.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.curriculum.checks import Bank
from lti_tool.curriculum.loader import sync_curriculum
from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.models import Platform, User
from lti_tool.ops.migrate import upgrade_to_head


def learner_world(database_url: str, bank: Bank, clock: Callable[[], datetime],
                  subs: Sequence[str], issuer: str = "https://lms.test"
                  ) -> tuple[Engine, sessionmaker[Session], list[int]]:
    """Migrate, load ``bank``, add one platform with a learner per ``sub``.

    Returns the engine (the caller disposes of it), a session factory and the users' ids
    in the order of ``subs``.
    """
    upgrade_to_head(database_url)
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    with transaction(sessions) as db:
        sync_curriculum(db, bank, clock)
        platform = Platform(issuer=issuer, client_id="learners", name="learners",
                            auth_login_url=f"{issuer}/auth", auth_token_url=f"{issuer}/token",
                            key_set_url=f"{issuer}/jwks")
        db.add(platform)
        db.flush()
        users = [User(platform_id=platform.id, sub=sub) for sub in subs]
        db.add_all(users)
        db.flush()
        ids = [user.id for user in users]
    return engine, sessions, ids
