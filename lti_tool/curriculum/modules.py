"""The blueprint as the pages need it, read once from the shipped data."""

from __future__ import annotations

from functools import lru_cache

import yaml

from lti_tool.curriculum.checks import DATA_DIR
from lti_tool.curriculum.schema import Blueprint, Module, Technology


@lru_cache(maxsize=1)
def blueprint() -> Blueprint:
    return Blueprint.model_validate(
        yaml.safe_load((DATA_DIR / "blueprint.yaml").read_text(encoding="utf-8")))


def modules() -> tuple[Module, ...]:
    return tuple(blueprint().modules)


def technologies() -> tuple[Technology, ...]:
    return tuple(blueprint().industry40)
