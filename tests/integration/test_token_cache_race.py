"""Two workers that fetch a token for the same platform and scopes at the same moment
both keep it: neither pass fails on the cache's unique key (CI found this on PostgreSQL,
where one worker's whole pass died on ``uq_access_token_platform_id_scope_key`` and left
its claimed rows leased for five minutes)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import requests
from sqlalchemy import event, select

from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.delivery.sealed import sealer_for
from lti_tool.lti.ags import CachingConnector
from lti_tool.lti.registry import DbToolConf
from lti_tool.models import AccessToken
from lti_tool.sandbox.platforms import AGS_SCOPES, CANVAS


def test_two_connectors_storing_the_same_token_at_once_both_succeed(settings, monkeypatch):
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine, sealer_for(settings))
    with transaction(sessions) as db:
        registration = DbToolConf(db).find_registration_by_params(
            CANVAS.issuer(settings), CANVAS.client_id)
    assert registration is not None
    clock = lambda: datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # noqa: E731

    # Both workers have asked the LMS for a token; hold each one right after it looks
    # for a cached row to replace, so both find none before either writes.
    fetched = threading.local()
    both_looked = threading.Barrier(2, timeout=5)

    def held(_conn, _cursor, statement, *_args) -> None:
        if getattr(fetched, "done", False) and statement.lstrip().upper().startswith(
                "SELECT") and "access_token" in statement:
            both_looked.wait()

    event.listen(engine, "after_cursor_execute", held)

    def fake_request(self, scopes):
        fetched.done = True
        return f"token-{threading.get_ident()}", 3600

    monkeypatch.setattr(CachingConnector, "_request_token", fake_request)
    errors: list[BaseException] = []
    tokens: list[str] = []

    def fetch() -> None:
        connector = CachingConnector(registration, sessions, clock, requests.Session())
        try:
            tokens.append(connector.get_access_token(list(AGS_SCOPES)))
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    event.remove(engine, "after_cursor_execute", held)
    try:
        assert errors == []
        assert len(tokens) == 2
        with transaction(sessions) as db:
            stored = db.scalars(select(AccessToken.token)).all()
        assert len(stored) == 1 and stored[0] in tokens
    finally:
        engine.dispose()
