"""The JSON API can be used from its OpenAPI document alone (issue 19, defect 9): one
operation lists the modules, key activities and lessons with their ids, every route is
documented, and every request body has examples that fit its schema and that the server
accepts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from lti_helpers import full_launch

from lti_tool.sandbox.platforms import CANVAS
from lti_tool.web.api import OPENAPI_FILE

DOC: dict[str, Any] = json.loads(Path(OPENAPI_FILE).read_text(encoding="utf-8"))
METHODS = ("get", "post", "put", "patch", "delete")
# The JSON Schema words the document uses; check() refuses any other, so a schema never
# holds a rule this small checker would silently skip.
KNOWN = {"type", "enum", "required", "properties", "additionalProperties", "minimum",
         "maximum", "minLength", "maxLength", "items", "format", "description", "$ref",
         "title", "examples"}
TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool,
         "object": dict, "array": list, "null": type(None)}


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = DOC
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def check(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """What is wrong with ``value`` against ``schema`` (the subset in KNOWN)."""
    schema = _resolve(schema)
    unknown = set(schema) - KNOWN
    assert not unknown, f"{where}: schema words this checker does not know: {unknown}"
    problems: list[str] = []
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        fits = any(isinstance(value, TYPES[n]) and not (
            n in ("integer", "number") and isinstance(value, bool)) for n in names)
        if not fits:
            return [f"{where}: {value!r} is not {names}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            problems.append(f"{where}: shorter than {schema['minLength']}")
        if len(value) > schema.get("maxLength", len(value)):
            problems.append(f"{where}: longer than {schema['maxLength']}")
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                problems.append(f"{where}: {name} is required")
        properties = schema.get("properties", {})
        for name, item in value.items():
            if name in properties:
                problems += check(item, properties[name], f"{where}.{name}")
            elif schema.get("additionalProperties") is False:
                problems.append(f"{where}: {name} is not a documented field")
    if isinstance(value, list) and "items" in schema:
        for n, item in enumerate(value):
            problems += check(item, schema["items"], f"{where}[{n}]")
    return problems


def _operations():
    for path, operations in DOC["paths"].items():
        for method, operation in operations.items():
            if method in METHODS:
                yield path, method, operation


def _examples(media: dict[str, Any]) -> dict[str, Any]:
    return {name: example["value"] for name, example in media.get("examples", {}).items()}


def _student(server) -> requests.Session:
    s = requests.Session()
    r = full_launch(server, "canvas", CANVAS.people[0].sub, session=s)
    assert r.status_code == 200, r.text[:500]
    s.headers["X-CSRF-Token"] = re.search(
        r'<meta name="csrf-token" content="([^"]+)">', r.text).group(1)
    return s


def test_every_request_body_has_examples_that_fit_its_schema():
    bodies = 0
    for path, method, operation in _operations():
        body = operation.get("requestBody")
        if body is None:
            continue
        for media_type, media in body["content"].items():
            bodies += 1
            examples = _examples(media)
            assert examples, f"{method.upper()} {path} ({media_type}) has no examples"
            for name, value in examples.items():
                assert check(value, media["schema"]) == [], (path, name)
    assert bodies >= 2
    # The checker is not a rubber stamp: it refuses what the schema refuses.
    start = DOC["paths"]["/api/attempts"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert check({"mode": "quiz", "module_id": "safety"}, start)
    assert check({"mode": "practice", "module_id": "safety", "size": 0}, start)
    assert check({"mode": "practice"}, start)


def test_every_api_route_is_documented(live_server):
    """Each route under /api/ is in the document with its method, and nothing else is."""
    routes = set()
    for rule in live_server.app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, method, _ in _operations()}
    assert routes == documented


def test_catalog_lists_modules_key_activities_and_lessons_with_ids(live_server):
    s = _student(live_server)
    r = s.get(f"{live_server.url}/api/catalog")
    assert r.status_code == 200, r.text[:500]
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    schema = DOC["paths"]["/api/catalog"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    assert check(body, schema) == []
    modules = {m["id"]: m for m in body["modules"]}
    assert list(modules)[:2] == ["safety", "quality"]  # blueprint order
    safety = modules["safety"]
    assert safety["title"] == "Safety" and safety["exam_items"] > 0
    activities = {ka["id"]: ka for ka in safety["key_activities"]}
    emergency = activities["safety.emergency"]
    assert emergency["title"] == ("Take part in emergency drills and emergency response "
                                  "teams")
    assert emergency["lessons"] == [{"id": "LES-safety-emergency",
                                     "title": "Emergency plans, drills and first response"}]
    assert body["modes"] == ["lesson", "drill", "practice", "mock"]
    # Its documented example has the same shape.
    example = DOC["paths"]["/api/catalog"]["get"]["responses"]["200"]["content"][
        "application/json"]["example"]
    assert check(example, schema) == []


def test_catalog_needs_a_session(live_server):
    r = requests.get(f"{live_server.url}/api/catalog")
    assert r.status_code == 401 and r.json()["error_code"]


@pytest.mark.parametrize("name", sorted(_examples(
    DOC["paths"]["/api/attempts"]["post"]["requestBody"]["content"]["application/json"])))
def test_the_documented_start_examples_start_attempts(live_server, name):
    """The examples name real ids (those /api/catalog lists): the server accepts each."""
    s = _student(live_server)
    media = DOC["paths"]["/api/attempts"]["post"]["requestBody"]["content"][
        "application/json"]
    body = _examples(media)[name]
    catalog = s.get(f"{live_server.url}/api/catalog").json()
    module = next(m for m in catalog["modules"] if m["id"] == body["module_id"])
    activities = {ka["id"]: ka for ka in module["key_activities"]}
    if "key_activity_id" in body:
        assert body["key_activity_id"] in activities
    if "lesson_id" in body:
        assert body["lesson_id"] in {lesson["id"] for ka in activities.values()
                                     for lesson in ka["lessons"]}
    r = s.post(f"{live_server.url}/api/attempts", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["mode"] == body["mode"]


def test_the_documented_answer_example_is_accepted(live_server):
    """The answer example's shape is what the server takes (its item id is the first item
    of a drill the test starts, as any real item id would be)."""
    s = _student(live_server)
    media = DOC["paths"]["/api/attempts/{attempt_id}/answers"]["post"]["requestBody"][
        "content"]["application/json"]
    attempt = s.post(f"{live_server.url}/api/attempts", json={
        "mode": "drill", "module_id": "safety", "key_activity_id": "safety.emergency"}).json()
    for example in _examples(media).values():
        item = s.get(f"{live_server.url}/api/attempts/{attempt['id']}/item").json()["item"]
        r = s.post(f"{live_server.url}/api/attempts/{attempt['id']}/answers",
                   json={**example, "item_id": item["id"]})
        assert r.status_code == 201, r.text
