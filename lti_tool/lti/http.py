"""The HTTP session for every call to an LMS (JWKS, token, AGS, NRPS, registration).

pylti1p3 calls ``session.get(url)`` and ``session.post(url, ...)`` with no timeout and
follows whatever URL it is given; this session is the outbound policy's
(lti_tool.delivery.outbound): checked and pinned addresses, a wall-clock deadline of
``http_timeout_seconds`` for the whole call and a cap on the answer's size.
"""

from __future__ import annotations

from lti_tool.delivery.outbound import OutboundPolicy, OutboundSession
from lti_tool.settings import Settings

# A key set is a few kilobytes; a launch must never buffer more on a platform's word.
JWKS_MAX_BYTES = 256 * 1024


def lms_session(settings: Settings, *, max_response_bytes: int | None = None
                ) -> OutboundSession:
    policy = OutboundPolicy.from_settings(settings, max_response_bytes=max_response_bytes)
    return policy.session("cpt-lti (pylti1p3)")
