"""One Settings object, built from embedded defaults <- TOML files <- ``CPT_LTI_*`` variables.

The order matters to operators: ``config/default.toml`` documents every key, a college's own
file (``CPT_LTI_CONFIG``) overrides it, and the environment wins last so that secrets never
have to live in a file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-only-not-secret"  # noqa: S105 - refused outside development


class SettingsError(ValueError):
    """A setting is missing or has a value the tool cannot run with."""


@dataclass(frozen=True)
class Settings:
    """Every knob the tool has; see config/default.toml for the meaning of each."""

    database_url: str = "sqlite:///var/cpt-lti.db"
    secret_key: str = DEV_SECRET
    base_url: str = "http://127.0.0.1:5000"
    environment: str = "development"
    sandbox: bool = True
    sandbox_base_url: str = ""
    deployment_policy: str = "strict"
    registration_require_approval: bool = False
    registration_allow_private_hosts: bool = False
    key_overlap_hours: float = 24.0
    key_rotation_days: int = 0
    http_timeout_seconds: float = 10.0
    jwks_cache_seconds: int = 600
    launch_state_seconds: int = 600
    session_hours: int = 8
    trusted_proxies: int = 0
    embedded_worker: bool = True
    worker_interval_seconds: float = 5.0
    outbox_retention_days: int = 30
    xapi_endpoint: str = ""
    xapi_username: str = ""
    xapi_password: str = field(default="", repr=False)
    xapi_actor_identity: str = "account"
    xapi_batch_size: int = 50
    xapi_timeout_seconds: float = 15.0
    log_level: str = "INFO"
    log_format: str = "text"
    metrics_token: str = field(default="", repr=False)
    metrics_write_seconds: float = 1.0

    @property
    def is_https(self) -> bool:
        return self.base_url.startswith("https://")

    def url(self, path: str) -> str:
        """An absolute URL on this tool, as platforms must be told it."""
        return self.base_url.rstrip("/") + path

    def validate(self) -> Settings:
        if self.environment not in {"development", "test", "production"}:
            raise SettingsError(f"environment must be development, test or production, "
                                f"not {self.environment!r}")
        if self.environment == "production":
            if self.secret_key == DEV_SECRET or len(self.secret_key) < 32:
                raise SettingsError("CPT_LTI_SECRET_KEY must be set to 32+ random characters "
                                    "in production")
            if self.sandbox:
                raise SettingsError("the sandbox LMS must not be enabled in production "
                                    "(set sandbox = false)")
        if self.deployment_policy not in {"strict", "auto-register"}:
            raise SettingsError("deployment_policy must be 'strict' or 'auto-register'")
        if self.sandbox_base_url and not self.sandbox_base_url.startswith(
                ("http://", "https://")):
            raise SettingsError("sandbox_base_url must start with http:// or https://")
        if self.log_format not in {"text", "json"}:
            raise SettingsError("log_format must be text or json")
        if self.xapi_actor_identity not in {"account", "mbox_sha1sum", "mbox"}:
            raise SettingsError("xapi actor_identity must be account, mbox_sha1sum or mbox")
        if not 0 <= self.metrics_write_seconds <= 300:
            raise SettingsError("metrics_write_seconds must be between 0 and 300")
        if not 1 <= self.xapi_batch_size <= 500:
            raise SettingsError("xapi batch_size must be between 1 and 500")
        if self.xapi_endpoint and not self.xapi_endpoint.startswith(("http://", "https://")):
            raise SettingsError("xapi endpoint must start with http:// or https://")
        if not self.base_url.startswith(("http://", "https://")):
            raise SettingsError("base_url must start with http:// or https://")
        return self


_ENV_PREFIX = "CPT_LTI_"
_TOML_SECTIONS = {
    # section.key in TOML -> Settings field
    ("database", "url"): "database_url",
    ("tool", "secret_key"): "secret_key",
    ("tool", "base_url"): "base_url",
    ("tool", "environment"): "environment",
    ("tool", "sandbox"): "sandbox",
    ("tool", "sandbox_base_url"): "sandbox_base_url",
    ("tool", "log_level"): "log_level",
    ("tool", "log_format"): "log_format",
    ("tool", "metrics_token"): "metrics_token",
    ("tool", "metrics_write_seconds"): "metrics_write_seconds",
    ("tool", "trusted_proxies"): "trusted_proxies",
    ("lti", "deployment_policy"): "deployment_policy",
    ("lti", "registration_require_approval"): "registration_require_approval",
    ("lti", "registration_allow_private_hosts"): "registration_allow_private_hosts",
    ("lti", "key_overlap_hours"): "key_overlap_hours",
    ("lti", "key_rotation_days"): "key_rotation_days",
    ("lti", "http_timeout_seconds"): "http_timeout_seconds",
    ("lti", "jwks_cache_seconds"): "jwks_cache_seconds",
    ("lti", "launch_state_seconds"): "launch_state_seconds",
    ("lti", "session_hours"): "session_hours",
    ("outbox", "embedded_worker"): "embedded_worker",
    ("outbox", "worker_interval_seconds"): "worker_interval_seconds",
    ("outbox", "retention_days"): "outbox_retention_days",
    ("xapi", "endpoint"): "xapi_endpoint",
    ("xapi", "username"): "xapi_username",
    ("xapi", "password"): "xapi_password",
    ("xapi", "actor_identity"): "xapi_actor_identity",
    ("xapi", "batch_size"): "xapi_batch_size",
    ("xapi", "timeout_seconds"): "xapi_timeout_seconds",
}


def _coerce(name: str, raw: Any) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if kind in ("bool", bool):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{name} must be true or false, not {raw!r}")
    try:
        if kind in ("int", int):
            return int(raw)
        if kind in ("float", float):
            return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from exc
    return str(raw)


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read config file {path}: {exc}") from exc
    values: dict[str, Any] = {}
    for (section, key), name in _TOML_SECTIONS.items():
        if key in data.get(section, {}):
            values[name] = _coerce(name, data[section][key])
    return values


def load_settings(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings the way the running tool does; tests pass ``env`` and overrides."""
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    default_file = PROJECT_ROOT / "config" / "default.toml"
    if default_file.exists():
        values.update(_from_toml(default_file))
    if env.get("CPT_LTI_CONFIG"):
        values.update(_from_toml(Path(env["CPT_LTI_CONFIG"])))
    for f in fields(Settings):
        key = _ENV_PREFIX + f.name.upper()
        if key in env:
            values[f.name] = _coerce(f.name, env[key])
    settings = replace(Settings(), **{**values, **overrides})
    return settings.validate()
