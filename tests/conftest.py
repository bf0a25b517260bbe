"""Shared fixtures: a real DB per test (SQLite always, PostgreSQL when CI provides one),
the app with its sandbox LMS, and a live loopback server for tests that need real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gate_support import assert_gate_passes
from lrs_support import Ralph
from support import POSTGRES_URL, LiveServer, make_settings, prepare, reset_postgres

from lti_tool import create_app
from lti_tool.ops.migrate import upgrade_to_head
from lti_tool.sandbox import models as _sandbox_models  # noqa: F401 - tables in metadata


def _backends() -> list:
    params = [pytest.param("sqlite", id="sqlite")]
    params.append(pytest.param("postgres", id="postgres", marks=pytest.mark.skipif(
        not POSTGRES_URL, reason="set CPT_LTI_TEST_POSTGRES_URL to test on PostgreSQL")))
    return params


@pytest.fixture(params=_backends())
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cpt-lti.db'}"
        upgrade_to_head(url)
        return url
    assert POSTGRES_URL
    reset_postgres(POSTGRES_URL)
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


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "gate_refusals: the test makes the statement quality "
                            "gate refuse statements on purpose")


@pytest.fixture(autouse=True)
def statement_gate(request, monkeypatch) -> Iterator[None]:
    """Every statement the suite builds passes the statement quality gate: each one
    ``xapi.statements`` turns into JSON (what the outbox freezes and tests POST to Ralph)
    is checked as it is built, and a test in which the worker's gate refused one fails.
    Tests that break statements on purpose are marked ``gate_refusals``."""
    if request.node.get_closest_marker("gate_refusals"):
        yield
        return
    from lti_tool.delivery import gate
    from xapi import statements

    built = statements.statement_json

    def checked(event):
        data = built(event)
        assert_gate_passes(data)
        return data

    refused: list[str] = []
    refuse = gate.refuse

    def recorded(session, row, found) -> None:
        refused.append("; ".join(str(v) for v in found))
        refuse(session, row, found)

    monkeypatch.setattr(statements, "statement_json", checked)
    monkeypatch.setattr(gate, "refuse", recorded)
    yield
    assert not refused, f"the statement quality gate refused statements: {refused}"
