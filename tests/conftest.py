"""Shared fixtures: a real DB per test (SQLite always, PostgreSQL when CI provides one),
the app with its sandbox LMS, and a live loopback server for tests that need real HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from lrs_support import Ralph
from sqlalchemy import create_engine, text
from support import LiveServer, make_settings, prepare

from lti_tool import create_app
from lti_tool.migrate import upgrade_to_head
from lti_tool.models import Base
from lti_tool.sandbox import models as _sandbox_models  # noqa: F401 - tables in metadata

POSTGRES_URL = os.environ.get("CPT_LTI_TEST_POSTGRES_URL")
_migrated: set[str] = set()


def _backends() -> list:
    params = [pytest.param("sqlite", id="sqlite")]
    params.append(pytest.param("postgres", id="postgres", marks=pytest.mark.skipif(
        not POSTGRES_URL, reason="set CPT_LTI_TEST_POSTGRES_URL to test on PostgreSQL")))
    return params


def _reset_postgres(url: str) -> None:
    if url not in _migrated:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
        upgrade_to_head(url)
        _migrated.add(url)
        return
    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=_backends())
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cpt-lti.db'}"
        upgrade_to_head(url)
        return url
    assert POSTGRES_URL
    _reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture
def settings(database_url):
    s = make_settings(database_url)
    prepare(s)
    return s


@pytest.fixture
def app(settings):
    application = create_app(settings)
    application.config["TESTING"] = True
    yield application
    application.extensions["cpt_lti"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live_server(database_url) -> Iterator[LiveServer]:
    server = LiveServer(database_url).start()
    yield server
    server.stop()


@pytest.fixture
def ralph(tmp_path) -> Iterator[Ralph]:
    """A real Ralph LRS with a fresh data directory (it rereads its whole file per write)."""
    lrs = Ralph(tmp_path / "ralph").start()
    yield lrs
    lrs.stop()
