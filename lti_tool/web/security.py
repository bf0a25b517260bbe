"""Response headers every page gets. Framing is allowed only to the registered LMSs'
origins (see framing.py): they embed us, nobody else should; forms post only to the tool
and those same origins.

The Content-Security-Policy runs only the tool's own script files (``script-src 'self'``):
no inline script, no event-handler attribute, no eval, so markup injected into a page
cannot run. Page settings a script needs travel in ``data-`` attributes or a
``<script type="application/json">`` block, which is data and never executed. Styles
come from static/app.css only (``style-src 'self'``): the tool's templates have no inline
style, and an injected one could restyle a page into a convincing fake.
"""

from __future__ import annotations

import uuid

from flask import Flask, Response, abort, g, request

from lti_tool.web.framing import FrameAncestorsCache, frame_ancestors
from lti_tool.web.runtime import runtime

# A year, the least HSTS preload lists and scanners accept. No includeSubDomains: the
# tool is usually one host of a college's domain and must not decide for its other sites.
HSTS = "max-age=31536000"


def allow_form_action(origin: str) -> None:
    """Let this response's forms also post to ``origin`` (an already validated
    ``scheme://host[:port]``): the Deep Linking return page posts the signed response to
    the URL the platform named, which may be on a host no registration lists."""
    g.setdefault("cpt_form_action", []).append(origin)


def content_security_policy(sources: str, form_action_extra: list[str] | tuple = ()) -> str:
    """The policy of every tool page. ``sources`` is the frame-ancestors list ('self' and
    the enabled platforms' origins), also the places a form may post to: the LMS frames
    the tool and receives the Deep Linking response and the launch restart."""
    form_action = " ".join([sources, *form_action_extra])
    return ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; base-uri 'none'; "
            f"form-action {form_action}; frame-ancestors {sources}")


def _has_nul(values) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in values.items(multi=True))


# Every <int:...> path parameter is a row id: an INTEGER column, which PostgreSQL compares
# only with values that fit 32 bits (a larger one was a 500, found by the fuzz tests).
MAX_ROW_ID = 2 ** 31 - 1


def _path_parameter_refusal() -> tuple[int, str] | None:
    """(status, message) for a path parameter no route can use, before any query: a
    control character (400: a malformed address; PostgreSQL cannot hold a NUL), a row
    id beyond any row (404), an attempt id that is not a UUID (404: attempt ids are
    always UUIDs, and a long one would reach the database)."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
                return 400, "The address contains a control character."
            if name == "attempt_id" and not _is_uuid(value):
                return 404, "There is no such attempt."
        elif isinstance(value, int) and not 0 <= value <= MAX_ROW_ID:
            return 404, "There is no such record."
    return None


def _is_uuid(value: str) -> bool:
    try:
        return len(value) == 36 and str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def register(app: Flask) -> None:
    def _compute() -> str:
        with runtime().transaction() as session:
            return frame_ancestors(session)

    ancestors = FrameAncestorsCache(_compute)
    app.extensions["cpt_lti_frame_ancestors"] = ancestors

    @app.before_request
    def _refuse_nul_bytes() -> None:
        """No legitimate parameter holds a NUL byte, and PostgreSQL cannot store one: a
        request carrying it is refused as malformed (400) before anything reads it,
        instead of failing deep in a query (found by the fuzz tests). Path parameters
        first: /api/attempts/%00/submit was a 500 on PostgreSQL (issue 15)."""
        refusal = _path_parameter_refusal()
        if refusal is not None:
            abort(refusal[0], description=refusal[1])
        if _has_nul(request.args) or _has_nul(request.cookies) or (
                request.method == "POST" and _has_nul(request.form)):
            abort(400, description="The request contains a NUL byte.")
        if request.is_json and b"\\u0000" in request.get_data(cache=True):
            abort(400, description="The request contains a NUL byte.")

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        # No X-Frame-Options (it cannot name several origins): frame-ancestors does that.
        if "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = content_security_policy(
                ancestors.get(), g.get("cpt_form_action", ()))
        # HSTS only when the tool is served over HTTPS (the base URL says so): over http
        # browsers ignore it, and development must stay reachable over http.
        if runtime().settings.is_https:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        # Pages and API answers carry a learner's data: never kept by a browser or proxy.
        if response.mimetype in {"text/html", "application/json"}:
            response.headers.setdefault("Cache-Control", "no-store")
        return response
