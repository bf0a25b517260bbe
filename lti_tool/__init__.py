"""CPT Practice: an LTI 1.3 tool for MSSC CPT 4.0 exam preparation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from lti_tool.db import make_engine, make_session_factory
from lti_tool.delivery.sealed import sealer_for
from lti_tool.ops import logs
from lti_tool.ops.metrics import Tally
from lti_tool.settings import Settings, load_settings
from lti_tool.web.runtime import EXTENSION_KEY, Runtime, system_clock


def create_app(settings: Settings | None = None,
               clock: Callable[[], datetime] = system_clock) -> Flask:
    """Build the app: the composition root that wires the web, LTI and sandbox blueprints."""
    settings = settings or load_settings()
    logs.configure(settings.log_level, settings.log_format)
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        TEMPLATES_AUTO_RELOAD=settings.environment == "development",
    )
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies,  # type: ignore
                                x_proto=settings.trusted_proxies,
                                x_host=settings.trusted_proxies)
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine, sealer_for(settings))
    app.extensions[EXTENSION_KEY] = Runtime(settings, engine, sessions,
                                            clock, Tally(settings.metrics_write_seconds))

    from lti_tool.web import register as register_web

    register_web(app)
    logs.register(app)
    if settings.sandbox:
        from lti_tool.sandbox import register as register_sandbox

        register_sandbox(app)
    return app
