"""Response headers every page gets. Framing is allowed only to the registered LMSs'
origins (see framing.py): they embed us, nobody else should."""

from __future__ import annotations

from flask import Flask, Response, abort, request

from lti_tool.runtime import runtime
from lti_tool.web.framing import FrameAncestorsCache, frame_ancestors


def _has_nul(values) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in values.items(multi=True))


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
        instead of failing deep in a query (found by the fuzz tests)."""
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
        # form-action stays open: the launch and deep-linking pages post to the LMS.
        if "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                "script-src 'self' 'unsafe-inline'; form-action *; "
                f"frame-ancestors {ancestors.get()}")
        # Pages and API answers carry a learner's data: never kept by a browser or proxy.
        if response.mimetype in {"text/html", "application/json"}:
            response.headers.setdefault("Cache-Control", "no-store")
        return response
