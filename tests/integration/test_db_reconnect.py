"""Dead PostgreSQL connections in the pool (a restart, a failover, an idle-kill by a
proxy) are replaced without an operator, at the cost of a ping only after idling."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from support import POSTGRES_URL

from lti_tool import db as db_module
from lti_tool.db import make_engine

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="set CPT_LTI_TEST_POSTGRES_URL")


def _kill(pid: int) -> None:
    assert POSTGRES_URL
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}
                                ).scalar() is True
    finally:
        admin.dispose()


def _pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_an_idle_dead_connection_is_replaced_before_use(monkeypatch):
    assert POSTGRES_URL
    engine = make_engine(POSTGRES_URL)
    try:
        first = _pid(engine)
        _kill(first)
        monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
        second = _pid(engine)  # pinged on checkout, found dead, replaced: no error
        assert second != first
    finally:
        engine.dispose()


def test_a_busy_connection_is_not_pinged_and_a_dead_one_fails_once(monkeypatch):
    """Within the idle window there is no ping (no extra round trip per request); if that
    connection died, its one request fails as a disconnect and the next one reconnects."""
    assert POSTGRES_URL
    engine = make_engine(POSTGRES_URL)
    statements: list[str] = []

    from sqlalchemy import event

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    try:
        monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 3600.0)
        first = _pid(engine)
        statements.clear()
        assert _pid(engine) == first
        assert statements == ["SELECT pg_backend_pid()"]  # nothing but the query itself
        _kill(first)
        with pytest.raises(OperationalError) as failure:
            _pid(engine)
        assert failure.value.connection_invalidated
        assert _pid(engine) != first
    finally:
        engine.dispose()
