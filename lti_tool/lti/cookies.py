"""The one cookie policy for a tool that lives in an LMS iframe (FIELD-NOTES: launches).

Over HTTPS: ``SameSite=None; Secure; Partitioned`` (CHIPS), so the cookie is sent inside
the cross-site frame where browsers still allow it. Over plain http (development only)
``SameSite=None`` is refused by browsers; leaving SameSite unset lets Chromium's
"Lax + POST" grace period carry a fresh cookie through a launch's cross-site form_post.
"""

from __future__ import annotations

from typing import Any


def iframe_cookie(secure: bool) -> dict[str, Any]:
    """Keyword arguments for ``Response.set_cookie``."""
    return {"path": "/", "httponly": True, "secure": secure,
            "samesite": "None" if secure else None, "partitioned": secure}
