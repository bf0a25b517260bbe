"""The sandbox platform's services: OAuth2 token endpoint, AGS line items/scores, NRPS.

The token endpoint verifies the tool's client assertion against the tool's published JWKS,
fetched over HTTP like a real LMS does, so grade passback tests exercise the real path.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from flask import Blueprint, Response, abort, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.http import http_date

from lti_tool.sandbox import switches
from lti_tool.sandbox.copies import course_ids
from lti_tool.sandbox.models import (
    SandboxAssertion,
    SandboxLineItem,
    SandboxResult,
    SandboxScore,
    SandboxToken,
)
from lti_tool.sandbox.platforms import AGS_SCOPES, NRPS_SCOPE, PLATFORMS, SandboxPlatform
from lti_tool.web.runtime import runtime

bp = Blueprint("sandbox_services", __name__, url_prefix="/sandbox")

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SCOPE_LINEITEM = AGS_SCOPES[0]
SCOPE_LINEITEM_RO = AGS_SCOPES[1]
SCOPE_RESULT_RO = AGS_SCOPES[2]
SCOPE_SCORE = AGS_SCOPES[3]
LINEITEM_MT = "application/vnd.ims.lis.v2.lineitem+json"
CONTAINER_MT = "application/vnd.ims.lis.v2.lineitemcontainer+json"
RESULTS_MT = "application/vnd.ims.lis.v2.resultcontainer+json"
NRPS_MT = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"

# Extra enrolled learners who never launch the tool: the roster must still show them.
ROSTER_ONLY = (("rcc-900001", "Eli", "Walker"), ("rcc-900002", "Fatima", "Hassan"),
               ("rcc-900003", "Gus", "Moreno"))


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    return response


def _tool_jwks() -> dict[str, Any]:
    rt = runtime()
    resp = requests.get(rt.settings.url("/lti/jwks"), timeout=rt.settings.http_timeout_seconds)
    resp.raise_for_status()
    return resp.json()


@bp.route("/<key>/token", methods=["POST"])
@bp.route("/<key>/login/oauth2/token", methods=["POST"], endpoint="canvas_token")
@bp.route("/moodle/mod/lti/token.php", methods=["POST"], defaults={"key": "moodle"},
          endpoint="moodle_token")
def token(key: str):
    """OAuth 2.0 client credentials with a JWT client assertion (RFC 7523, LTI Security 4.1)."""
    rt = runtime()
    platform = PLATFORMS.get(key) or abort(404)
    with rt.transaction() as db:
        client_id = switches.switch(db, platform.key, switches.CLIENT_ID) or platform.client_id
        withheld = switches.switch(db, platform.key, switches.WITHHOLD_SCOPE)
        skew = switches.switch(db, platform.key, switches.CLOCK_SKEW)
    response = _token(rt, platform, client_id, withheld)
    if skew:
        # The LMS's clock is off: its Date header says so (the launch doctor reads it).
        stamp = rt.clock() + timedelta(seconds=float(skew))
        response.headers["Date"] = http_date(stamp)
    return response


def _token(rt, platform: SandboxPlatform, client_id: str, withheld: str | None) -> Response:
    form = request.form
    if form.get("grant_type") != "client_credentials":
        return _oauth_error("unsupported_grant_type", "grant_type must be client_credentials")
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        return _oauth_error("invalid_request", "client_assertion_type must be jwt-bearer")
    assertion = form.get("client_assertion", "")
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        return _oauth_error("invalid_client", "client_assertion is not a JWT", 401)
    try:
        keys = _tool_jwks()["keys"]
    except (requests.RequestException, ValueError, KeyError):
        return _oauth_error("invalid_client", "the tool's JWKS could not be fetched", 401)
    jwk = next((k for k in keys if k.get("kid") == header.get("kid")), None)
    if jwk is None:
        return _oauth_error("invalid_client", "unknown kid in client_assertion", 401)
    token_url = request.base_url
    try:
        claims = jwt.decode(assertion, jwt.PyJWK(jwk).key, algorithms=["RS256"],
                            audience=token_url, issuer=client_id,
                            options={"require": ["exp", "iat", "jti", "sub"]})
    except jwt.PyJWTError as exc:
        return _oauth_error("invalid_client", f"client_assertion rejected: {exc}", 401)
    if claims["sub"] != client_id:
        return _oauth_error("invalid_client", "sub must be the client id", 401)
    requested = form.get("scope", "").split()
    allowed = set(AGS_SCOPES) | {NRPS_SCOPE}
    if not requested or not set(requested) <= allowed:
        return _oauth_error("invalid_scope", "scope must be AGS/NRPS scopes")
    granted = [s for s in requested if s != withheld]  # a service the LMS has not enabled
    if not granted:
        return _oauth_error("invalid_scope", "none of the requested scopes is enabled")
    now = rt.clock()
    with rt.transaction() as db:
        if db.get(SandboxAssertion, str(claims["jti"])) is not None:
            return _oauth_error("invalid_client", "client_assertion jti was already used", 401)
        db.add(SandboxAssertion(jti=str(claims["jti"]), expires_at=now + timedelta(hours=1)))
        access = SandboxToken(token=secrets.token_urlsafe(32), platform_key=platform.key,
                              client_id=platform.client_id, scopes=granted,
                              expires_at=now + timedelta(hours=1))
        db.add(access)
    return jsonify(access_token=access.token, token_type="Bearer", expires_in=3600,
                   scope=" ".join(granted))


def _require_token(db: Session, platform: SandboxPlatform, *scopes: str) -> None:
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        abort(401, description="missing bearer token")
    row = db.get(SandboxToken, auth[len("Bearer "):])
    if row is None or row.platform_key != platform.key or row.expires_at <= runtime().clock():
        abort(401, description="unknown or expired access token")
    if not set(scopes) & set(row.scopes):
        abort(403, description=f"token lacks scope {' or '.join(scopes)}")


def _item_url(platform: SandboxPlatform, item: SandboxLineItem) -> str:
    base = platform.base(runtime().settings)
    if platform.shape == "canvas":
        return f"{base}/api/lti/courses/{item.context_id}/line_items/{item.id}"
    return f"{base}/mod/lti/services.php/{item.context_id}/lineitems/{item.id}/lineitem"


def _item_json(platform: SandboxPlatform, item: SandboxLineItem) -> dict[str, Any]:
    data: dict[str, Any] = {"id": _item_url(platform, item), "label": item.label,
                            "scoreMaximum": item.score_maximum}
    for field, value in (("resourceId", item.resource_id), ("tag", item.tag),
                         ("resourceLinkId", item.resource_link_id)):
        if value:
            data[field] = value
    return data


def _line_items(key: str, context_id: str):
    rt = runtime()
    platform = PLATFORMS.get(key) or abort(404)
    with rt.transaction() as db:
        if request.method == "POST":
            _require_token(db, platform, SCOPE_LINEITEM)
            body = request.get_json(force=True, silent=True) or {}
            label = body.get("label")
            maximum = body.get("scoreMaximum")
            if not isinstance(label, str) or not label or not isinstance(
                    maximum, int | float) or maximum <= 0:
                abort(400, description="label and a positive scoreMaximum are required")
            item = SandboxLineItem(platform_key=platform.key, context_id=context_id,
                                   label=label, score_maximum=float(maximum),
                                   resource_id=body.get("resourceId"), tag=body.get("tag"),
                                   resource_link_id=body.get("resourceLinkId"))
            db.add(item)
            db.flush()
            response = jsonify(_item_json(platform, item))
            response.status_code = 201
            response.mimetype = LINEITEM_MT
            return response
        _require_token(db, platform, SCOPE_LINEITEM, SCOPE_LINEITEM_RO)
        query = select(SandboxLineItem).where(SandboxLineItem.platform_key == platform.key,
                                              SandboxLineItem.context_id == context_id)
        for param, column in (("resource_id", SandboxLineItem.resource_id),
                              ("resource_link_id", SandboxLineItem.resource_link_id),
                              ("tag", SandboxLineItem.tag)):
            if request.args.get(param):
                query = query.where(column == request.args[param])
        items = [_item_json(platform, i) for i in db.scalars(query.order_by(SandboxLineItem.id))]
    response = jsonify(items)
    response.mimetype = CONTAINER_MT
    return response


def _get_item(db: Session, platform: SandboxPlatform, context_id: str, item_id: int
              ) -> SandboxLineItem:
    item = db.get(SandboxLineItem, item_id)
    if item is None or item.platform_key != platform.key or item.context_id != context_id:
        abort(404, description="no such line item")
    return item


def _line_item(key: str, context_id: str, item_id: int):
    rt = runtime()
    platform = PLATFORMS.get(key) or abort(404)
    with rt.transaction() as db:
        item = _get_item(db, platform, context_id, item_id)
        if request.method == "DELETE":
            _require_token(db, platform, SCOPE_LINEITEM)
            db.delete(item)
            return Response(status=204)
        if request.method == "PUT":
            _require_token(db, platform, SCOPE_LINEITEM)
            body = request.get_json(force=True, silent=True) or {}
            if isinstance(body.get("label"), str) and body["label"]:
                item.label = body["label"]
            if isinstance(body.get("scoreMaximum"), int | float) and body["scoreMaximum"] > 0:
                item.score_maximum = float(body["scoreMaximum"])
        else:
            _require_token(db, platform, SCOPE_LINEITEM, SCOPE_LINEITEM_RO)
        response = jsonify(_item_json(platform, item))
    response.mimetype = LINEITEM_MT
    return response


def _parse_timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        abort(400, description="timestamp is required (ISO 8601 with offset)")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        abort(400, description="timestamp is not ISO 8601")
    if parsed.tzinfo is None:
        abort(400, description="timestamp needs a UTC offset")
    return parsed


def _scores(key: str, context_id: str, item_id: int):
    """AGS 2.0 score publish: a score older than the stored one is recorded, not applied."""
    rt = runtime()
    platform = PLATFORMS.get(key) or abort(404)
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        abort(400, description="score body must be a JSON object")
    with rt.transaction() as db:
        _require_token(db, platform, SCOPE_SCORE)
        item = _get_item(db, platform, context_id, item_id)
        user_id = body.get("userId")
        if not isinstance(user_id, str) or not user_id:
            abort(400, description="userId is required")
        for field in ("activityProgress", "gradingProgress"):
            if not isinstance(body.get(field), str):
                abort(400, description=f"{field} is required")
        timestamp = _parse_timestamp(body.get("timestamp"))
        given, maximum = body.get("scoreGiven"), body.get("scoreMaximum")
        if given is not None and (not isinstance(given, int | float) or not isinstance(
                maximum, int | float) or given < 0 or maximum <= 0):
            abort(400, description="scoreGiven needs a positive scoreMaximum")
        result = db.scalars(select(SandboxResult).where(
            SandboxResult.line_item_id == item.id, SandboxResult.user_id == user_id)).first()
        applied = result is None or timestamp > result.timestamp
        db.add(SandboxScore(line_item_id=item.id, user_id=user_id, score_given=given,
                            score_maximum=maximum, activity_progress=body["activityProgress"],
                            grading_progress=body["gradingProgress"],
                            comment=body.get("comment"), timestamp=timestamp, body=body,
                            applied=applied, received_at=rt.clock()))
        if applied:
            if result is None:
                result = SandboxResult(line_item_id=item.id, user_id=user_id,
                                       timestamp=timestamp)
                db.add(result)
            result.timestamp = timestamp
            result.comment = body.get("comment")
            if given is not None:
                # Normalise to the line item's maximum, as Canvas and Moodle do.
                result.score_given = float(given) * item.score_maximum / float(maximum)
                result.score_maximum = item.score_maximum
    return Response(status=200)


def _results(key: str, context_id: str, item_id: int):
    rt = runtime()
    platform = PLATFORMS.get(key) or abort(404)
    with rt.transaction() as db:
        _require_token(db, platform, SCOPE_RESULT_RO)
        item = _get_item(db, platform, context_id, item_id)
        query = select(SandboxResult).where(SandboxResult.line_item_id == item.id)
        if request.args.get("user_id"):
            query = query.where(SandboxResult.user_id == request.args["user_id"])
        url = _item_url(platform, item)
        data = [{"id": f"{url}/results/{r.id}", "scoreOf": url, "userId": r.user_id,
                 "resultScore": r.score_given, "resultMaximum": r.score_maximum,
                 "comment": r.comment} for r in db.scalars(query.order_by(SandboxResult.id))]
    response = jsonify(data)
    response.mimetype = RESULTS_MT
    return response


def _memberships(key: str, context_id: str):
    """NRPS 2.0 membership container, paged with ``limit`` and a ``Link: rel=next`` header."""
    rt = runtime()
    platform = PLATFORMS.get(key) or abort(404)
    with rt.transaction() as db:
        _require_token(db, platform, NRPS_SCOPE)
        known = context_id == platform.context_id or context_id in course_ids(db, platform)
    if not known:
        abort(404, description="no such course")
    members = [{"status": "Active", "name": p.name, "given_name": p.given_name,
                "family_name": p.family_name, "email": p.email, "user_id": p.sub,
                "roles": list(platform.roles[p.persona])} for p in platform.people]
    members += [{"status": "Active", "name": f"{g} {f}", "given_name": g, "family_name": f,
                 "user_id": sub, "roles": list(platform.roles["learner"])}
                for sub, g, f in ROSTER_ONLY]
    try:
        limit = max(1, int(request.args.get("limit", 100)))
        offset = max(0, int(request.args.get("offset", 0)))
    except ValueError:
        abort(400, description="limit and offset must be integers")
    page = members[offset:offset + limit]
    response = jsonify({
        "id": request.base_url,
        "context": {"id": context_id, "label": platform.context_label,
                    "title": platform.context_title},
        "members": page})
    response.mimetype = NRPS_MT
    if offset + limit < len(members):
        nxt = request.base_url + "?" + urlencode({"limit": limit, "offset": offset + limit})
        response.headers["Link"] = f'<{nxt}>; rel="next"'
    return response


def _route(rule: str, view, methods: list[str], key: str, name: str) -> None:
    bp.add_url_rule(rule, endpoint=f"{key}_{name}", view_func=view, methods=methods,
                    defaults={"key": key})


# Canvas-shaped and Moodle-shaped service URLs, one set of handlers.
for _key in [p.key for p in PLATFORMS.values() if p.shape == "canvas"]:
    _route(f"/{_key}/api/lti/courses/<context_id>/line_items", _line_items, ["GET", "POST"],
           _key, "line_items")
    _route(f"/{_key}/api/lti/courses/<context_id>/line_items/<int:item_id>", _line_item,
           ["GET", "PUT", "DELETE"], _key, "line_item")
    _route(f"/{_key}/api/lti/courses/<context_id>/line_items/<int:item_id>/scores", _scores,
           ["POST"], _key, "scores")
    _route(f"/{_key}/api/lti/courses/<context_id>/line_items/<int:item_id>/results",
           _results, ["GET"], _key, "results")
    _route(f"/{_key}/api/lti/courses/<context_id>/names_and_roles", _memberships, ["GET"],
           _key, "memberships")
_route("/moodle/mod/lti/services.php/<context_id>/lineitems", _line_items, ["GET", "POST"],
       "moodle", "line_items")
_route("/moodle/mod/lti/services.php/<context_id>/lineitems/<int:item_id>/lineitem",
       _line_item, ["GET", "PUT", "DELETE"], "moodle", "line_item")
_route("/moodle/mod/lti/services.php/<context_id>/lineitems/<int:item_id>/lineitem/scores",
       _scores, ["POST"], "moodle", "scores")
_route("/moodle/mod/lti/services.php/<context_id>/lineitems/<int:item_id>/lineitem/results",
       _results, ["GET"], "moodle", "results")
_route("/moodle/mod/lti/services.php/CourseSection/<context_id>/bindings/4/memberships",
       _memberships, ["GET"], "moodle", "memberships")
