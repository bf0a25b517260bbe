"""Settings: defaults <- TOML <- environment, and refusals that protect production."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lti_tool.settings import DEV_SECRET, Settings, SettingsError, load_settings

SEALING_KEY = "ADAjInbqolDwtaC2XBgi8KhENVTW4NmeqI9TBgYyxZs="  # Fernet.generate_key()
OLD_SEALING_KEY = "55CCqSDfB9E7bOpzTcoxG7tB-16v2QIDyxN1YzwOSkI="
SECRET = "s" * 48
PRODUCTION = {"CPT_LTI_SECRET_KEY": SECRET, "CPT_LTI_SEALING_KEY": SEALING_KEY}


def test_defaults_match_config_default_toml():
    """config/default.toml documents the defaults; loading it must not change any."""
    assert load_settings(env=PRODUCTION) == replace(Settings(), secret_key=SECRET,
                                                    sealing_key=SEALING_KEY)


def test_nothing_configured_is_production_and_refuses_to_start():
    """ATTACK (issue 15.5): with nothing configured the tool ran in development, with the
    public development secret and the sandbox LMS open. Now the default is production, and
    production without its secrets is refused with one message naming every variable."""
    assert Settings().environment == "production" and Settings().sandbox is False
    with pytest.raises(SettingsError) as refused:
        load_settings(env={})
    message = str(refused.value)
    assert "CPT_LTI_SECRET_KEY" in message and "CPT_LTI_SEALING_KEY" in message
    assert "\n" not in message


def test_development_only_when_asked(tmp_path):
    """Development (and with it the sandbox LMS) is on only when named, by the
    environment or by a config file; the test environment is explicit too."""
    dev = load_settings(env={"CPT_LTI_ENVIRONMENT": "development"})
    assert dev.environment == "development" and dev.sandbox is True
    assert dev.secret_key == DEV_SECRET  # allowed in development only
    cfg = tmp_path / "dev.toml"
    cfg.write_text('[tool]\nenvironment = "development"\n')
    assert load_settings(env={"CPT_LTI_CONFIG": str(cfg)}).sandbox is True
    cfg.write_text('[tool]\nenvironment = "development"\nsandbox = false\n')
    assert load_settings(env={"CPT_LTI_CONFIG": str(cfg)}).sandbox is False
    test = load_settings(env={"CPT_LTI_ENVIRONMENT": "test"})
    assert test.sandbox is False  # only when a test asks for it
    assert load_settings(env={"CPT_LTI_ENVIRONMENT": "test",
                              "CPT_LTI_SANDBOX": "true"}).sandbox is True
    assert load_settings(env=PRODUCTION).sandbox is False


def test_production_needs_a_separate_sealing_key():
    with pytest.raises(SettingsError, match="CPT_LTI_SEALING_KEY"):
        load_settings(env={"CPT_LTI_SECRET_KEY": SECRET})
    with pytest.raises(SettingsError, match="not a Fernet key"):
        load_settings(env={"CPT_LTI_SECRET_KEY": SECRET, "CPT_LTI_SEALING_KEY": "not-a-key"})
    with pytest.raises(SettingsError, match="entry 2"):
        load_settings(env={"CPT_LTI_SECRET_KEY": SECRET,
                           "CPT_LTI_SEALING_KEY": SEALING_KEY + ",short"})
    two = load_settings(env={"CPT_LTI_SECRET_KEY": SECRET,
                             "CPT_LTI_SEALING_KEY": f" {SEALING_KEY} , {OLD_SEALING_KEY}"})
    assert two.environment == "production"
    assert SEALING_KEY not in repr(two)  # never in a log line


def test_environment_overrides_toml(tmp_path):
    cfg = tmp_path / "college.toml"
    cfg.write_text('[tool]\nbase_url = "https://from-file.example"\n'
                   '[lti]\njwks_cache_seconds = 60\n')
    s = load_settings(env={**PRODUCTION, "CPT_LTI_CONFIG": str(cfg),
                           "CPT_LTI_BASE_URL": "https://from-env.example",
                           "CPT_LTI_SANDBOX": "false"})
    assert s.base_url == "https://from-env.example"
    assert s.jwks_cache_seconds == 60
    assert s.sandbox is False
    assert s.is_https


def test_production_refuses_the_development_secret():
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        load_settings(env={"CPT_LTI_ENVIRONMENT": "production", "CPT_LTI_SANDBOX": "false",
                           "CPT_LTI_SEALING_KEY": SEALING_KEY})
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        load_settings(env={"CPT_LTI_SECRET_KEY": DEV_SECRET, "CPT_LTI_SEALING_KEY": SEALING_KEY})
    assert Settings().secret_key == DEV_SECRET


def test_production_refuses_the_sandbox():
    with pytest.raises(SettingsError, match="sandbox"):
        load_settings(env={**PRODUCTION, "CPT_LTI_ENVIRONMENT": "production",
                           "CPT_LTI_SANDBOX": "true"})


def test_bad_values_are_named():
    with pytest.raises(SettingsError, match="sandbox"):
        load_settings(env={**PRODUCTION, "CPT_LTI_SANDBOX": "maybe"})
    with pytest.raises(SettingsError, match="jwks_cache_seconds"):
        load_settings(env={**PRODUCTION, "CPT_LTI_JWKS_CACHE_SECONDS": "soon"})
    with pytest.raises(SettingsError, match="deployment_policy"):
        load_settings(env={**PRODUCTION, "CPT_LTI_DEPLOYMENT_POLICY": "anything"})


def test_unreadable_config_file_is_an_error(tmp_path):
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(env={**PRODUCTION, "CPT_LTI_CONFIG": str(tmp_path / "missing.toml")})
