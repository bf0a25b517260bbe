"""What operators watch: /health with the outbox backlog, /metrics behind a token with
cluster-wide launch counters, request ids in responses and in JSON log lines."""

from __future__ import annotations

import json
import logging

import pytest
import requests
from lti_helpers import full_launch

from lti_tool.logs import JsonFormatter, RequestIdFilter
from lti_tool.sandbox.platforms import CANVAS

TOKEN = "metrics-token-for-tests"


@pytest.fixture
def watched(live_server, monkeypatch):
    import dataclasses

    rt = live_server.app.extensions["cpt_lti"]
    monkeypatch.setattr(rt, "settings", dataclasses.replace(rt.settings, metrics_token=TOKEN))
    return live_server


def _metrics(server, token=TOKEN) -> requests.Response:
    return requests.get(server.url + "/metrics", timeout=10,
                        headers={"Authorization": f"Bearer {token}"})


def test_metrics_need_the_token_and_count_launches_by_outcome(watched):
    assert _metrics(watched, "wrong").status_code == 401
    assert requests.get(watched.url + "/metrics", timeout=10).status_code == 401
    full_launch(watched, "canvas", CANVAS.people[0].sub)
    full_launch(watched, "canvas", CANVAS.people[0].sub)
    refused = requests.post(watched.url + "/lti/launch", data={"id_token": "garbage",
                                                               "state": "x"}, timeout=10)
    assert refused.status_code >= 400
    body = _metrics(watched).text
    assert 'cpt_launches_total{outcome="ok"} 2' in body
    assert "# TYPE cpt_outbox_pending gauge" in body
    refusals = [line for line in body.splitlines()
                if line.startswith("cpt_launches_total") and 'outcome="ok"' not in line]
    assert len(refusals) == 1 and refusals[0].endswith(" 1")


def test_metrics_are_off_without_a_token(live_server):
    assert requests.get(live_server.url + "/metrics", timeout=10).status_code == 404


def test_health_reports_the_outbox_backlog(live_server):
    full_launch(live_server, "canvas", CANVAS.people[0].sub)
    health = requests.get(live_server.url + "/health", timeout=10).json()
    assert health["status"] == "ok" and health["database"] == "ok"
    assert isinstance(health["outbox"], dict)


def test_request_ids_are_returned_and_taken_from_a_proxy(live_server):
    own = requests.get(live_server.url + "/ping", timeout=10).headers["X-Request-ID"]
    assert len(own) == 32
    given = requests.get(live_server.url + "/ping", timeout=10,
                         headers={"X-Request-ID": "lb-1234abcd"}).headers["X-Request-ID"]
    assert given == "lb-1234abcd"
    junk = requests.get(live_server.url + "/ping", timeout=10,
                        headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"]
    assert junk != "<script>" and len(junk) == 32


def test_json_log_lines_carry_the_request_id(app):
    record = logging.LogRecord("lti_tool.test", logging.WARNING, __file__, 1,
                               "launch refused: %s", ("bad_signature",), None)
    with app.test_request_context("/lti/launch"):
        from flask import g

        g.request_id = "req-0001abcd"
        RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-0001abcd"
    assert line["message"] == "launch refused: bad_signature" and line["level"] == "WARNING"
