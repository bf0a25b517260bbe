"""pylti1p3 launch storage in our DB, so state, nonces and launch data are shared by every
process and instance (the library's default keeps them in the Flask cookie session)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pylti1p3.contrib.flask import FlaskSessionService
from pylti1p3.launch_data_storage.base import LaunchDataStorage
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lti_tool.db import upsert_insert
from lti_tool.models import LaunchValue

_TABLE = LaunchValue.__table__


class DbLaunchDataStorage(LaunchDataStorage[Any]):
    def __init__(self, session: Session, clock: Callable[[], datetime],
                 default_lifetime: int) -> None:
        super().__init__()
        self.session = session
        self.clock = clock
        self.default_lifetime = default_lifetime
        # Set by a login: who started it (a keyed hash of the client address), written on
        # the rows it stores so ``make_room`` can bound them per client.
        self.owner: str | None = None

    def get_session_cookie_name(self) -> str | None:
        # Keys are random (state, nonce, launch id), so they need no per-browser prefix; a
        # prefix cookie would break exactly the cookie-less launches we must support.
        return None

    def can_set_keys_expiration(self) -> bool:
        return True

    def _live(self, key: str) -> Any:
        """The live row (value, expires_at) or None. Read with Core, not the ORM identity
        map: ``set_value`` writes with an upsert the identity map would not see."""
        row = self.session.execute(
            select(_TABLE.c.value, _TABLE.c.expires_at).where(
                _TABLE.c.key == self._prepare_key(key))).first()
        if row is None or row.expires_at <= self.clock():
            return None
        return row

    def get_value(self, key: str) -> Any:
        row = self._live(key)
        return None if row is None else row.value

    def set_value(self, key: str, value: Any, exp: int | None = None) -> None:
        """One upsert statement (a merge would read the row first: a login writes two)."""
        lifetime = exp if exp else self.default_lifetime
        values = {"key": self._prepare_key(key), "value": value,
                  "expires_at": self.clock() + timedelta(seconds=lifetime),
                  "owner": self.owner}
        statement = upsert_insert(self.session, _TABLE).values(**values)
        self.session.execute(statement.on_conflict_do_update(
            index_elements=[_TABLE.c.key],
            set_={"value": statement.excluded.value,
                  "expires_at": statement.excluded.expires_at,
                  "owner": statement.excluded.owner}))

    def make_room(self, owner: str, cap: int) -> int:
        """Keep at most ``cap`` - 2 live rows of this owner, so the login about to store
        its two fits under the cap: the oldest go first. One indexed count per login;
        a delete only past the cap. Returns the number of rows forgotten."""
        now = self.clock()
        live = self.session.scalar(select(func.count()).select_from(_TABLE).where(
            _TABLE.c.owner == owner, _TABLE.c.expires_at > now)) or 0
        excess = live - (cap - 2)
        if excess <= 0:
            return 0
        oldest = select(_TABLE.c.key).where(
            _TABLE.c.owner == owner, _TABLE.c.expires_at > now).order_by(
            _TABLE.c.expires_at, _TABLE.c.key).limit(excess)
        keys = list(self.session.scalars(oldest))
        self.session.execute(delete(_TABLE).where(_TABLE.c.key.in_(keys)))
        return len(keys)

    def check_value(self, key: str) -> bool:
        return self._live(key) is not None

    def consume(self, key: str) -> bool:
        """Delete the key and say whether a live one was there: exactly one caller wins."""
        result = self.session.execute(
            delete(_TABLE).where(_TABLE.c.key == self._prepare_key(key),
                                 _TABLE.c.expires_at > self.clock())
        )
        return result.rowcount == 1

    def purge_expired(self) -> int:
        result = self.session.execute(
            delete(_TABLE).where(_TABLE.c.expires_at <= self.clock())
        )
        return result.rowcount


class OneTimeNonceSessionService(FlaskSessionService):
    """pylti1p3 only checks that a nonce exists; we also burn it, so a replay fails."""

    def check_nonce(self, nonce: str) -> bool:
        storage = self.data_storage
        assert isinstance(storage, DbLaunchDataStorage)
        return storage.consume(self._get_key("nonce", nonce))
