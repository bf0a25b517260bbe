"""config/default.toml documents every setting with the value the code uses by default.

Operators read that file to learn the defaults; if it drifted from the dataclass, it would
silently change behaviour (it is loaded) and mislead (it is documentation) at the same time.
"""

from __future__ import annotations

import tomllib
from dataclasses import fields

from cryptography.fernet import Fernet

from lti_tool.settings import _TOML_SECTIONS, PROJECT_ROOT, Settings, load_settings

DEFAULT_TOML = PROJECT_ROOT / "config" / "default.toml"
EXAMPLE_TOML = PROJECT_ROOT / "config" / "production.example.toml"


def test_default_toml_has_every_setting_with_the_dataclass_default() -> None:
    data = tomllib.loads(DEFAULT_TOML.read_text(encoding="utf-8"))
    keys = {(section, key) for section, values in data.items() for key in values}
    assert keys == set(_TOML_SECTIONS)
    defaults = Settings()
    for (section, key), name in _TOML_SECTIONS.items():
        value = data[section][key]
        assert value == getattr(defaults, name), name
        assert type(value) is type(getattr(defaults, name)), name
    assert {f.name for f in fields(Settings)} == set(_TOML_SECTIONS.values())


def test_every_setting_is_commented_with_its_environment_variable() -> None:
    text = DEFAULT_TOML.read_text(encoding="utf-8")
    for name in _TOML_SECTIONS.values():
        assert f"CPT_LTI_{name.upper()}" in text, name


def test_production_example_loads_as_a_valid_production_config() -> None:
    settings = load_settings(env={"CPT_LTI_CONFIG": str(EXAMPLE_TOML),
                                  "CPT_LTI_SECRET_KEY": "s" * 48,
                                  "CPT_LTI_SEALING_KEY": Fernet.generate_key().decode()})
    assert settings.environment == "production"
    assert settings.sandbox is False
    assert settings.is_https
    assert settings.database_url.startswith("postgresql+psycopg://")


def test_default_toml_says_production_and_keeps_secrets_out() -> None:
    """ATTACK (issue 15.5): the shipped defaults ran a fresh install in development with
    the sandbox LMS open. They now say production, sandbox off, and no sealing key."""
    data = tomllib.loads(DEFAULT_TOML.read_text(encoding="utf-8"))
    assert data["tool"]["environment"] == "production"
    assert data["tool"]["sandbox"] is False
    assert data["tool"]["sealing_key"] == ""
    example = tomllib.loads(EXAMPLE_TOML.read_text(encoding="utf-8"))
    assert "sealing_key" not in example["tool"] and "secret_key" not in example["tool"]
    assert "CPT_LTI_SEALING_KEY" in EXAMPLE_TOML.read_text(encoding="utf-8")
