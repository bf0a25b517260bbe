"""The statement quality gate as a test assertion (tests/conftest.py applies it to every
statement the suite builds; tests call it on statements they hold)."""

from __future__ import annotations

from typing import Any

from xapi.quality import check


def assert_gate_passes(statement: dict[str, Any]) -> None:
    """The statement would enter the outbox: the gate (xapi/quality.py) finds nothing."""
    found = check(statement)
    assert not found, ("the statement quality gate refuses this statement: "
                       + "; ".join(str(v) for v in found))
