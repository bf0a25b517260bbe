"""Bounds on the numbers and ids a request may carry, checked at the top of a view.

Every integer a student sends is bounded before it reaches the engine or the database:
PostgreSQL refuses an integer beyond its column (``duration_ms`` of 2^63 was a 500,
issue 15 point 7), and no honest page sends one. Out of range is a 400 whose message
names the field and its range; the views answer it as JSON or as a page (web/errors.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import abort

# A day: an answer that took longer is a stopped clock, not a measurement (the column is
# a 32-bit INTEGER, so this also keeps it far from overflowing).
MAX_DURATION_MS = 24 * 3600 * 1000
CHOICE = (0, 9)  # an option's index; items have four
POSITION = (1, 1000)  # an item's place in an attempt; the longest exam has 80
MAX_ID_TEXT = 80  # the longest curriculum id column (key activities, lessons)
_DIGITS = 12  # more digits than any bound above has: not worth parsing
_WHOLE = re.compile(r"-?[0-9]+")


def _out_of_range(name: str, low: int, high: int) -> None:
    abort(400, description=f"{name} must be a whole number from {low:,} to {high:,}.")


def json_number(data: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    """A JSON body's integer field within [low, high], None when absent or null."""
    value = data.get(name)
    if value is None:
        return None
    # bool is an int in Python; 1.0 is a float: neither is what the field means.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _out_of_range(name, low, high)
    return value


def form_number(source: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    """A form field's or query parameter's integer within [low, high], None when absent
    or empty (a page may send an empty field)."""
    raw = (source.get(name) or "").strip()
    if not raw:
        return None
    if len(raw) > _DIGITS or not _WHOLE.fullmatch(raw):
        _out_of_range(name, low, high)
    value = int(raw)
    if not low <= value <= high:
        _out_of_range(name, low, high)
    return value


def json_id(data: Mapping[str, Any], name: str) -> str | None:
    """A JSON body's curriculum id field: text of at most ``MAX_ID_TEXT`` characters, or
    None when absent or null. Anything else names no module, lesson or activity."""
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_ID_TEXT:
        abort(400, description=f"{name} must be an id of at most {MAX_ID_TEXT} characters.")
    return value
