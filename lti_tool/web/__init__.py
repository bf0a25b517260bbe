"""Student and instructor pages, the LTI routes' views, and the error pages."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from lti_tool.practice import modes
    from lti_tool.web import (
        admin,
        api,
        errors,
        instructor,
        lti_views,
        pages,
        security,
        sessions,
        student,
    )
    from lti_tool.web.runtime import close_handed_over

    security.register(app)
    sessions.register(app)  # after the NUL-byte refusal: it reads the query string
    app.teardown_request(close_handed_over)
    app.register_blueprint(lti_views.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(student.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(instructor.bp)
    app.register_blueprint(admin.bp)
    errors.register(app)
    # The pages name and branch on attempt modes through their specs (practice/modes.py).
    app.add_template_global(modes.label, "mode_label")
    app.add_template_global(modes.spec, "mode_spec")
    app.add_template_global(modes.by_link_kind, "mode_of_link")
