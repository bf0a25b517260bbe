"""A local LMS to launch the tool from: two platforms, real RSA keys, real JWTs.

Enabled only when ``sandbox = true``; ``Settings.validate`` refuses it in production.
"""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from lti_tool.sandbox import registration, services, views

    app.register_blueprint(views.bp)
    app.register_blueprint(services.bp)
    app.register_blueprint(registration.bp)
