"""One Settings object, built from embedded defaults <- TOML files <- ``CPT_LTI_*`` variables.

The order matters to operators: ``config/default.toml`` documents every key, a college's own
file (``CPT_LTI_CONFIG``) overrides it, and the environment wins last so that secrets never
have to live in a file.

Safe by default (issue 15): the environment is production unless development (or test) is
named, and production refuses to start without its own secrets, so a forgotten variable
stops the tool instead of running it with the public development secret and the sandbox.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from lti_tool.delivery.sealed import SealingKeyError, parse_keys

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-only-not-secret"  # noqa: S105 - refused outside development


class SettingsError(ValueError):
    """A setting is missing or has a value the tool cannot run with."""


@dataclass(frozen=True)
class Settings:
    """Every knob the tool has; see config/default.toml for the meaning of each."""

    database_url: str = "sqlite:///var/cpt-lti.db"
    secret_key: str = field(default=DEV_SECRET, repr=False)
    # Fernet keys, comma separated, newest first (see delivery.sealed); never the secret_key.
    sealing_key: str = field(default="", repr=False)
    base_url: str = "http://127.0.0.1:5000"
    environment: str = "production"
    # Unless set (CPT_LTI_SANDBOX or the CPT_LTI_CONFIG file), load_settings turns it on
    # exactly in development.
    sandbox: bool = False
    sandbox_base_url: str = ""
    deployment_policy: str = "strict"
    registration_require_approval: bool = True
    key_overlap_hours: float = 24.0
    key_rotation_days: int = 0
    http_timeout_seconds: float = 10.0
    # CIDRs the tool may call although they are not public (lti_tool.delivery.outbound); none by
    # default. The tests and `make run` allow loopback, where their sandbox LMS listens.
    outbound_allow_networks: str = ""
    outbound_max_response_bytes: int = 4194304
    jwks_cache_seconds: int = 600
    launch_state_seconds: int = 600
    session_hours: int = 8
    session_idle_minutes: int = 60
    # The instructor's pages fetch the course roster (NRPS) in the background when it is
    # older than this; 0 = only when someone presses "Refresh roster" (lti/roster.py).
    roster_max_age_minutes: int = 60
    trusted_proxies: int = 0
    embedded_worker: bool = True
    worker_interval_seconds: float = 5.0
    outbox_retention_days: int = 30
    drill_idle_minutes: int = 30
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
        try:
            sealing_keys = parse_keys(self.sealing_key)
        except SealingKeyError as exc:
            raise SettingsError(str(exc)) from exc
        if self.environment == "production":
            missing = []
            if self.secret_key == DEV_SECRET or len(self.secret_key) < 32:
                missing.append("CPT_LTI_SECRET_KEY (32+ random characters)")
            if not sealing_keys:
                missing.append("CPT_LTI_SEALING_KEY (`cpt-lti sealing new-key` makes one)")
            if missing:
                # One line for everything, so an operator fixes it in one go.
                raise SettingsError(
                    f"production needs {' and '.join(missing)}; for a local demo set "
                    "CPT_LTI_ENVIRONMENT=development")
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
        if not 1 <= self.session_idle_minutes <= 24 * 60:
            raise SettingsError("session_idle_minutes must be between 1 and 1440")
        if not 1 <= self.drill_idle_minutes <= 24 * 60:
            raise SettingsError("drill_idle_minutes must be between 1 and 1440")
        if not 0 <= self.roster_max_age_minutes <= 30 * 24 * 60:
            raise SettingsError("roster max_age_minutes must be between 0 (off) and 43200")
        if not 1 <= self.xapi_batch_size <= 500:
            raise SettingsError("xapi batch_size must be between 1 and 500")
        if self.xapi_endpoint and not self.xapi_endpoint.startswith(("http://", "https://")):
            raise SettingsError("xapi endpoint must start with http:// or https://")
        if not self.base_url.startswith(("http://", "https://")):
            raise SettingsError("base_url must start with http:// or https://")
        # Imported here, not at the top: outbound.py loads requests, and importing the
        # practice engine (which loads this module) must not (lti_tool/delivery/__init__.py).
        from lti_tool.delivery.outbound import parse_networks

        try:
            parse_networks(self.outbound_allow_networks)
        except ValueError as exc:
            raise SettingsError(str(exc)) from exc
        if not 1024 <= self.outbound_max_response_bytes <= 256 * 1024 * 1024:
            raise SettingsError("outbound max_response_bytes must be between 1024 and "
                                "268435456")
        if not 0 < self.http_timeout_seconds <= 300:
            raise SettingsError("http_timeout_seconds must be more than 0 and at most 300")
        return self


_ENV_PREFIX = "CPT_LTI_"
_TOML_SECTIONS = {
    # section.key in TOML -> Settings field
    ("database", "url"): "database_url",
    ("tool", "secret_key"): "secret_key",
    ("tool", "sealing_key"): "sealing_key",
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
    ("lti", "key_overlap_hours"): "key_overlap_hours",
    ("lti", "key_rotation_days"): "key_rotation_days",
    ("lti", "http_timeout_seconds"): "http_timeout_seconds",
    ("outbound", "allow_networks"): "outbound_allow_networks",
    ("outbound", "max_response_bytes"): "outbound_max_response_bytes",
    ("lti", "jwks_cache_seconds"): "jwks_cache_seconds",
    ("lti", "launch_state_seconds"): "launch_state_seconds",
    ("lti", "session_hours"): "session_hours",
    ("lti", "session_idle_minutes"): "session_idle_minutes",
    ("roster", "max_age_minutes"): "roster_max_age_minutes",
    ("outbox", "embedded_worker"): "embedded_worker",
    ("outbox", "worker_interval_seconds"): "worker_interval_seconds",
    ("outbox", "retention_days"): "outbox_retention_days",
    ("outbox", "drill_idle_minutes"): "drill_idle_minutes",
    ("xapi", "endpoint"): "xapi_endpoint",
    ("xapi", "username"): "xapi_username",
    ("xapi", "password"): "xapi_password",
    ("xapi", "actor_identity"): "xapi_actor_identity",
    ("xapi", "batch_size"): "xapi_batch_size",
    ("xapi", "timeout_seconds"): "xapi_timeout_seconds",
}


def _coerce(name: str, raw: Any) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if isinstance(raw, list):  # a TOML list of CIDRs (outbound.allow_networks)
        raw = " ".join(str(item) for item in raw)
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
    chosen: dict[str, Any] = {}  # what the operator set, as opposed to the shipped defaults
    if env.get("CPT_LTI_CONFIG"):
        chosen.update(_from_toml(Path(env["CPT_LTI_CONFIG"])))
    for f in fields(Settings):
        key = _ENV_PREFIX + f.name.upper()
        if key in env:
            chosen[f.name] = _coerce(f.name, env[key])
    chosen.update(overrides)
    values.update(chosen)
    if "sandbox" not in chosen:
        # The sandbox follows the environment: on in development (make run), off anywhere
        # else unless asked for (the test suite asks; production refuses it).
        values["sandbox"] = values.get("environment", Settings.environment) == "development"
    settings = replace(Settings(), **values)
    return settings.validate()
