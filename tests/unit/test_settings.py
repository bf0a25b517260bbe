"""Settings: defaults <- TOML <- environment, and refusals that protect production."""

from __future__ import annotations

import pytest

from lti_tool.settings import DEV_SECRET, Settings, SettingsError, load_settings


def test_defaults_match_config_default_toml():
    """config/default.toml documents the defaults; loading it must not change any."""
    assert load_settings(env={}) == Settings()


def test_environment_overrides_toml(tmp_path):
    cfg = tmp_path / "college.toml"
    cfg.write_text('[tool]\nbase_url = "https://from-file.example"\n'
                   '[lti]\njwks_cache_seconds = 60\n')
    s = load_settings(env={"CPT_LTI_CONFIG": str(cfg),
                           "CPT_LTI_BASE_URL": "https://from-env.example",
                           "CPT_LTI_SANDBOX": "false"})
    assert s.base_url == "https://from-env.example"
    assert s.jwks_cache_seconds == 60
    assert s.sandbox is False
    assert s.is_https


def test_production_refuses_the_development_secret():
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        load_settings(env={"CPT_LTI_ENVIRONMENT": "production", "CPT_LTI_SANDBOX": "false"})
    assert Settings().secret_key == DEV_SECRET


def test_production_refuses_the_sandbox():
    with pytest.raises(SettingsError, match="sandbox"):
        load_settings(env={"CPT_LTI_ENVIRONMENT": "production",
                           "CPT_LTI_SECRET_KEY": "x" * 40})


def test_bad_values_are_named():
    with pytest.raises(SettingsError, match="sandbox"):
        load_settings(env={"CPT_LTI_SANDBOX": "maybe"})
    with pytest.raises(SettingsError, match="jwks_cache_seconds"):
        load_settings(env={"CPT_LTI_JWKS_CACHE_SECONDS": "soon"})
    with pytest.raises(SettingsError, match="deployment_policy"):
        load_settings(env={"CPT_LTI_DEPLOYMENT_POLICY": "anything"})


def test_unreadable_config_file_is_an_error(tmp_path):
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(env={"CPT_LTI_CONFIG": str(tmp_path / "missing.toml")})
