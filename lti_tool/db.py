"""Engine and session factory per app, and the one transaction helper everything uses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.delivery.sealed import SEALER_INFO_KEY, Sealer


def make_engine(database_url: str) -> Engine:
    """Create the engine; SQLite gets a file directory, WAL and foreign keys on."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives an app crash; only a power cut can lose the
            # last moments. FULL would fsync every answer and cap throughput at the disk.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    engine = create_engine(url, pool_size=5, max_overflow=10)
    _ping_when_idle(engine)
    return engine


# A connection back in use within this many seconds was working a moment ago: pinging it
# would cost a round trip on every request (a launch makes 11 in all).
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling for connections that sat idle.

    A restarted PostgreSQL must not turn into errors for the next requests, so a pooled
    connection idle for over PING_AFTER_IDLE_SECONDS is pinged before use and replaced if
    dead (SQLAlchemy's ``pool_pre_ping`` pings every checkout). A connection in constant
    use that dies fails its one request with a disconnect, and SQLAlchemy then retires
    every connection the pool made before it, so the next requests reconnect.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since <= PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"idle connection is dead: {exc}") from exc


def make_session_factory(engine: Engine, sealer: Sealer | None = None
                         ) -> sessionmaker[Session]:
    """``sealer`` (lti_tool.delivery.sealed) travels in each session's ``info``: the code that signs
    with the tool's key (pylti1p3's registry, AGS, deep linking) gets a session, not the
    settings, and a session made without one can read and list but never sign."""
    return sessionmaker(bind=engine, expire_on_commit=False,
                        info={SEALER_INFO_KEY: sealer} if sealer is not None else None)


@contextmanager
def transaction(factory: sessionmaker[Session], session: Session | None = None
                ) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error, always close.
    ``session``: one already begun (it read something first) to continue instead."""
    session = session or factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def upsert_insert(session: Session, table: Any) -> Any:
    """The dialect's INSERT for ``table``, which has ``on_conflict_do_update``: a row that
    several processes may create at once is written in one statement, never read first
    (two that both read "none" would both insert, and one would fail on the unique key)."""
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
