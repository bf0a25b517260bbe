"""The JSON API the pages use. Contract: every error is ``{"error_code", "message"}`` with
a 4xx status; every write needs ``X-CSRF-Token``; a student reaches only their own attempts
(anyone else's attempt id answers 404, as if it did not exist)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from random import Random
from typing import Any

from flask import Blueprint, Response, abort, g, jsonify, request

from lti_tool.models import Attempt, AttemptMode
from lti_tool.practice import catalog, modes
from lti_tool.practice.service import PracticeService
from lti_tool.web import inputs
from lti_tool.web.auth import login_required
from lti_tool.web.runtime import runtime

bp = Blueprint("api", __name__, url_prefix="/api")
OPENAPI_FILE = Path(__file__).with_name("openapi.json")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Field by field: dataclasses.asdict deep-copies everything first, then we would
        # walk it again (this runs on every answer).
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    return value


def attempt_json(attempt: Attempt, now: datetime) -> dict[str, Any]:
    remaining = None
    if attempt.deadline_at is not None and attempt.status == "open":
        remaining = max(0, int((attempt.deadline_at - now).total_seconds()))
    return {"id": attempt.id, "mode": attempt.mode.value, "status": attempt.status.value,
            "module_id": attempt.module_id, "key_activity_id": attempt.key_activity_id,
            "lesson_id": attempt.lesson_id, "items": len(attempt.item_ids) or None,
            "started_at": _plain(attempt.started_at),
            "deadline_at": _plain(attempt.deadline_at), "seconds_left": remaining,
            "time_multiplier": attempt.time_multiplier}


def service(db) -> PracticeService:
    return PracticeService(db, runtime().clock, Random())


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, description="Send a JSON object.")
    return data


@bp.post("/attempts")
@login_required
def start_attempt():
    data = _body()
    try:
        mode = AttemptMode(str(data.get("mode")))
    except ValueError:
        abort(400, description=f"mode must be {modes.VALUES_TEXT}.")
    size = inputs.json_number(data, "size", 1, modes.MAX_PLACED_SIZE)
    for name in ("module_id", "key_activity_id", "lesson_id"):
        inputs.json_id(data, name)
    rt = runtime()
    viewer = g.viewer
    with rt.transaction() as db:
        attempt = service(db).start(
            viewer.user_id, mode, str(data.get("module_id", "")), course_id=viewer.course_id,
            resource_link_id=viewer.resource_link_id,
            key_activity_id=data.get("key_activity_id"), lesson_id=data.get("lesson_id"),
            size=size)
        body = attempt_json(attempt, rt.clock())
    return jsonify(body), 201


@bp.get("/attempts/<attempt_id>")
@login_required
def get_attempt(attempt_id: str):
    rt = runtime()
    with rt.transaction() as db:
        svc = service(db)
        svc.results(attempt_id, g.viewer.user_id)  # ownership check + timeout handling
        attempt = db.get(Attempt, attempt_id)
        return jsonify(attempt_json(attempt, rt.clock()))


@bp.get("/attempts/<attempt_id>/item")
@login_required
def next_item(attempt_id: str):
    position = inputs.form_number(request.args, "position", *inputs.POSITION)
    with runtime().transaction() as db:
        item = service(db).item(attempt_id, g.viewer.user_id, position)
    return jsonify(item=_plain(item))


@bp.post("/attempts/<attempt_id>/answers")
@login_required
def answer(attempt_id: str):
    data = _body()
    item_id, choice, key = data.get("item_id"), data.get("choice"), data.get("idempotency_key")
    if not isinstance(item_id, str) or not isinstance(choice, int) or isinstance(choice, bool):
        abort(400, description="item_id (text) and choice (0-3) are required.")
    inputs.json_number(data, "choice", *inputs.CHOICE)
    if len(item_id) > inputs.MAX_ID_TEXT:
        abort(400, description="item_id names no item.")
    if not isinstance(key, str) or not 8 <= len(key) <= 64:
        abort(400, description="idempotency_key (8-64 characters) is required.")
    duration = inputs.json_number(data, "duration_ms", 0, inputs.MAX_DURATION_MS)
    # The next item rides along: one round trip per question on a slow campus network.
    with runtime().transaction() as db:
        result = service(db).answer(attempt_id, g.viewer.user_id, item_id, choice, key,
                                    duration, with_next=True)
    upcoming = result.next_item
    if not result.recorded and not result.attempt_closed:  # a repeat: show where they are
        with runtime().transaction() as db:
            upcoming = service(db).item(attempt_id, g.viewer.user_id)
    body = _plain(dataclasses.replace(result, next_item=None))
    body["next_item"] = _plain(upcoming)
    return jsonify(body), 201 if result.recorded else 200


@bp.post("/attempts/<attempt_id>/submit")
@login_required
def submit(attempt_id: str):
    with runtime().transaction() as db:
        result = service(db).submit(attempt_id, g.viewer.user_id)
    return jsonify(_plain(result))


@bp.get("/attempts/<attempt_id>/results")
@login_required
def results(attempt_id: str):
    with runtime().transaction() as db:
        result = service(db).results(attempt_id, g.viewer.user_id)
    return jsonify(_plain(result))


@bp.get("/mastery")
@login_required
def mastery():
    with runtime().transaction() as db:
        result = service(db).mastery(g.viewer.user_id)
    body = _plain(result)
    for activity, source in zip(body["activities"], result.activities, strict=True):
        activity["level"] = source.level
        activity["p_medium"] = round(source.p_medium, 3)
    return jsonify(body)


@bp.get("/catalog", endpoint="catalog")
@login_required
def list_catalog():
    """The ids the other operations take: each module (blueprint order) with its live key
    activities (in order) and each one's live lessons, and the attempt modes. Read-only,
    the same for everyone; ids stay stable across content releases."""
    with runtime().transaction() as db:
        shape = catalog.outline(db)
        lessons: dict[str, list[dict[str, str]]] = {}
        for lesson_ids in shape.lessons.values():
            for lesson_id in lesson_ids:
                lesson = shape.lesson_rows[lesson_id]
                lessons.setdefault(lesson.key_activity_id, []).append(
                    {"id": lesson.id, "title": lesson.title})
        body = {"modules": [
            {"id": m.id, "title": m.title, "required": m.required,
             "exam_items": m.exam_items, "exam_minutes": m.exam_minutes,
             "key_activities": [{"id": ka.id, "title": ka.title,
                                 "lessons": lessons.get(ka.id, [])}
                                for ka in catalog.live_activities(db, m.id)]}
            for m in catalog.modules(db)],
            "modes": [mode.value for mode in modes.SPECS]}
    return jsonify(body)


@bp.get("/openapi.json")
def openapi():
    return Response(OPENAPI_FILE.read_text(encoding="utf-8"), mimetype="application/json")

