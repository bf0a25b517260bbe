"""Security headers on real pages: framing limited to the registered LMSs, no caching of
anything that carries a learner's data, no MIME sniffing."""

from __future__ import annotations

import requests
from lti_helpers import full_launch
from support import make_settings, prepare

from lti_tool import create_app
from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.lti.platforms import PlatformService, PlatformSpec
from lti_tool.models import Platform
from lti_tool.sandbox.platforms import CANVAS


def _frame_ancestors(response) -> list[str]:
    policy = response.headers["Content-Security-Policy"]
    directive = next(d.strip() for d in policy.split(";")
                     if d.strip().startswith("frame-ancestors"))
    return directive.split()[1:]


def test_launched_page_may_be_framed_only_by_registered_lms_origins(live_server):
    person = next(p for p in CANVAS.people if p.persona == "learner")
    page = full_launch(live_server, CANVAS.key, person.sub)
    assert page.status_code == 200
    sources = _frame_ancestors(page)
    assert "*" not in sources
    assert sources[0] == "'self'"
    # The sandbox LMS's own origin (where its course page frames us), and every Canvas
    # Cloud school, because the sandbox Canvas uses Canvas's shared issuer.
    assert live_server.lms_url in sources
    assert "https://*.instructure.com" in sources
    assert "https://canvas.instructure.com" in sources
    assert not any("evil" in s for s in sources)
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"


def test_registering_disabling_a_platform_changes_who_may_frame(database_url):
    settings = make_settings(database_url)
    prepare(settings)
    app = create_app(settings)
    client = app.test_client()
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    try:
        with transaction(sessions) as db:
            PlatformService(db).add(PlatformSpec(
                issuer="https://lms.college.edu", client_id="abc",
                auth_login_url="https://login.college.edu:8443/auth",
                auth_token_url="https://lms.college.edu/token",
                key_set_url="https://lms.college.edu/jwks",
                frame_origins=("https://canvas.college.edu",)))
        app.extensions["cpt_lti_frame_ancestors"].clear()
        sources = _frame_ancestors(client.get("/"))
        assert {"https://lms.college.edu", "https://login.college.edu:8443",
                "https://canvas.college.edu"} <= set(sources)

        with transaction(sessions) as db:
            row = db.query(Platform).filter_by(issuer="https://lms.college.edu").one()
            row.enabled = False
        app.extensions["cpt_lti_frame_ancestors"].clear()
        sources = _frame_ancestors(client.get("/"))
        assert "https://lms.college.edu" not in sources
        assert "https://canvas.college.edu" not in sources
    finally:
        engine.dispose()
        app.extensions["cpt_lti"].engine.dispose()


def test_json_api_answers_are_not_cached(live_server):
    person = next(p for p in CANVAS.people if p.persona == "learner")
    s = requests.Session()
    assert full_launch(live_server, CANVAS.key, person.sub, session=s).status_code == 200
    answer = s.get(f"{live_server.url}/api/mastery")
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.headers["Cache-Control"] == "no-store"
