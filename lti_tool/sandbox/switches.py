"""Switches that make one sandbox platform misbehave as a real LMS sometimes does, so the
launch doctor's failing lines (and the tool's handling of them) can be shown and tested.

Set by a test or a developer (``set_switch``), read by the sandbox's endpoints; a switch
is a row of ``sandbox_switch``, so every process serving the sandbox sees it. Like the
sandbox itself they exist only in development and test (``Settings.validate`` refuses the
sandbox in production).
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from lti_tool.sandbox.models import SandboxSwitch

# The client id the token endpoint accepts instead of the platform's own: the tool's
# assertions then name the wrong client (an LMS answers invalid_client).
CLIENT_ID = "client_id"
# The HTTP status the platform's key set (JWKS) answers with, e.g. "500".
JWKS_STATUS = "jwks_status"
# A scope the token endpoint leaves out of what it grants (a service not enabled).
WITHHOLD_SCOPE = "withhold_scope"
# Seconds the token endpoint's Date header is off from the real time, e.g. "-300".
CLOCK_SKEW = "clock_skew_seconds"
NAMES = (CLIENT_ID, JWKS_STATUS, WITHHOLD_SCOPE, CLOCK_SKEW)


def switch(db: Session, platform_key: str, name: str) -> str | None:
    row = db.get(SandboxSwitch, (platform_key, name))
    return row.value if row is not None else None


def set_switch(db: Session, platform_key: str, name: str, value: str | None) -> None:
    """Turn a switch on (``value``) or off (None)."""
    if name not in NAMES:
        raise ValueError(f"no sandbox switch {name!r}")
    db.execute(delete(SandboxSwitch).where(SandboxSwitch.platform_key == platform_key,
                                           SandboxSwitch.name == name))
    if value is not None:
        db.add(SandboxSwitch(platform_key=platform_key, name=name, value=value))
    db.flush()
