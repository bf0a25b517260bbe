"""Response headers (issue 15, point 8): no HSTS, ``script-src 'unsafe-inline'``,
``form-action *`` and the server's version in a header.

- Over HTTPS every answer carries Strict-Transport-Security (a year); over http none.
- The Content-Security-Policy runs only the tool's own script files: no inline script,
  no inline event handler, no eval; and no page of the tool or the sandbox relies on one.
- Forms may post only to the tool and the registered, enabled platforms.
- Neither server (the built-in one of ``cpt-lti serve`` nor gunicorn) names its version.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests
from fault_support import dev_server, gunicorn, tool_env
from lti_helpers import full_launch, storage_config
from support import make_settings, parse_form, prepare
from test_attacks_common import TIMEOUT, person_sub, signed_launch

from lti_tool import create_app
from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.lti.platforms import PlatformService, PlatformSpec
from lti_tool.models import Platform
from lti_tool.ops.migrate import upgrade_to_head

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "lti_tool" / "web" / "templates"
SANDBOX_TEMPLATES = ROOT / "lti_tool" / "sandbox" / "templates"
YEAR = 365 * 24 * 3600


def directives(response: requests.Response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


class InlineCode(HTMLParser):
    """What a strict CSP refuses in a page: executable inline scripts, event-handler
    attributes, ``javascript:`` URLs; and (for the tool's pages) inline styles."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.styles: list[str] = []
        self._script_inline = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if value and name in {"href", "src", "action", "formaction"} and \
                    value.strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value}>")
            if name == "style":
                self.styles.append(f"<{tag} style=...>")
        if tag == "style":
            self.styles.append("<style>")
        if tag == "script":
            data_block = (a.get("type") or "").lower() == "application/json"
            self._script_inline = not a.get("src") and not data_block

    def handle_data(self, data: str) -> None:
        if self._script_inline and data.strip():
            self.found.append(f"<script>{data.strip()[:60]}</script>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script_inline = False


def inline_code(html: str) -> InlineCode:
    parser = InlineCode()
    parser.feed(html)
    return parser


def assert_strict_scripts(response: requests.Response) -> None:
    policy = directives(response)
    assert policy["script-src"] == ["'self'"], policy
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    for sources in policy.values():
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, policy
    if "html" in response.headers.get("Content-Type", ""):
        found = inline_code(response.text)
        assert not found.found, found.found


def test_hsts_over_https_only(database_url):
    """Every answer of a tool served over HTTPS tells the browser to use HTTPS only, for
    a year (no includeSubDomains: the tool's host says nothing for the college's other
    sites); over plain http (development) the header is never sent."""
    settings = make_settings(database_url, "https://cpt.college.edu")
    prepare(settings)
    for base, sent in (("https://cpt.college.edu", True), ("http://127.0.0.1:5000", False)):
        app = create_app(make_settings(database_url, base))
        try:
            client = app.test_client()
            for path in ("/", "/health", "/lti/jwks", "/no-such-page", "/static/app.css",
                         "/sandbox/"):
                answer = client.get(path, base_url=base)
                header = answer.headers.get("Strict-Transport-Security")
                if not sent:
                    assert header is None, (path, header)
                    continue
                assert header, path
                match = re.fullmatch(r"max-age=(\d+)", header)
                assert match and int(match.group(1)) >= YEAR, header
        finally:
            app.extensions["cpt_lti"].engine.dispose()


def test_every_kind_of_page_runs_only_the_tools_own_scripts(live_server):
    """script-src 'self' on the student, instructor, Deep Linking, platform-storage,
    error and static answers, and none of those pages carries inline script."""
    learner = requests.Session()
    landed = full_launch(live_server, "canvas", person_sub("canvas", "learner"),
                         session=learner)
    assert landed.status_code == 200
    pages = [landed, learner.get(f"{live_server.url}/no-such-page", timeout=TIMEOUT),
             learner.get(f"{live_server.url}/static/timer.js", timeout=TIMEOUT)]
    staff = full_launch(live_server, "moodle", person_sub("moodle", "instructor"))
    pages.append(staff)
    pending, picker = signed_launch(live_server, "moodle", person_sub("moodle", "instructor"),
                                    message_type="LtiDeepLinkingRequest")
    pages.append(picker)
    action, fields = parse_form(picker.text)
    fields["activity"] = "lessons:safety"
    returned = pending.session.post(live_server.url + action.replace("&amp;", "&"),
                                    data=fields, timeout=TIMEOUT)
    assert 'name="JWT"' in returned.text
    pages.append(returned)
    # Canvas login: the platform-storage page (state and nonce into the LMS's frame).
    s = requests.Session()
    frame = s.get(f"{live_server.url}/sandbox/canvas/launch/frame", timeout=TIMEOUT,
                  params={"user": person_sub("canvas", "learner")})
    action, fields = parse_form(frame.text)
    storage_page = s.post(action, data=fields, timeout=TIMEOUT)
    assert storage_config(storage_page.text)
    pages.append(storage_page)
    pages.append(requests.post(f"{live_server.url}/lti/launch", timeout=TIMEOUT,
                               data={"id_token": "x", "state": "y"}))
    for page in pages:
        assert page.status_code < 500, (page.url, page.status_code)
        assert_strict_scripts(page)


def test_no_template_relies_on_inline_script():
    """Every template, the tool's and the sandbox LMS's: scripts come from static files
    (a JSON data block is allowed: it is never executed), no on*= handlers, no
    javascript: URLs; the tool's own pages use no inline style either (style-src 'self')."""
    for folder in (TEMPLATES, SANDBOX_TEMPLATES):
        for path in sorted(folder.rglob("*.html")):
            found = inline_code(path.read_text(encoding="utf-8"))
            assert not found.found, (path.name, found.found)
            if folder is TEMPLATES:
                assert not found.styles, (path.name, found.styles)


def test_forms_post_only_to_the_tool_and_registered_platforms(database_url):
    """form-action names the tool and the enabled platforms' origins (the same list as
    frame-ancestors), never ``*``; disabling a platform takes its origin out."""
    settings = make_settings(database_url)
    prepare(settings)
    app = create_app(settings)
    client = app.test_client()
    engine = make_engine(database_url)
    try:
        with transaction(make_session_factory(engine)) as db:
            PlatformService(db).add(PlatformSpec(
                issuer="https://lms.college.edu", client_id="abc",
                auth_login_url="https://login.college.edu:8443/auth",
                auth_token_url="https://lms.college.edu/token",
                key_set_url="https://lms.college.edu/jwks"))
        app.extensions["cpt_lti_frame_ancestors"].clear()
        policy = directives(client.get("/"))
        assert policy["form-action"][0] == "'self'"
        assert "*" not in policy["form-action"]
        assert {"https://lms.college.edu", "https://login.college.edu:8443"} <= set(
            policy["form-action"])
        assert policy["form-action"] == policy["frame-ancestors"]
        with transaction(make_session_factory(engine)) as db:
            db.query(Platform).filter_by(issuer="https://lms.college.edu").one().enabled = False
        app.extensions["cpt_lti_frame_ancestors"].clear()
        policy = directives(client.get("/"))
        assert "https://lms.college.edu" not in policy["form-action"]
    finally:
        engine.dispose()
        app.extensions["cpt_lti"].engine.dispose()


def _assert_no_version(server_header: str | None) -> None:
    assert server_header is not None
    assert not re.search(r"\d", server_header), server_header
    assert "Python" not in server_header and "/" not in server_header, server_header


@pytest.fixture
def tool_db(tmp_path) -> str:
    url = f"sqlite:///{tmp_path}/tool.db"
    upgrade_to_head(url)
    prepare(make_settings(url))
    return url


def test_builtin_server_sends_no_version(tool_db, tmp_path):
    """``cpt-lti serve`` (what ``make run`` starts) answered ``Server: Werkzeug/3.x
    Python/3.y``: it names no version."""
    with dev_server(tool_db, tmp_path, tmp_path / "serve.log") as (base, _):
        _assert_no_version(requests.get(f"{base}/ping", timeout=5).headers.get("Server"))
        _assert_no_version(requests.get(f"{base}/no-such-page", timeout=5).headers.get(
            "Server"))


def test_gunicorn_sends_no_version(tool_db, tmp_path):
    """``cpt-lti serve --workers N`` runs gunicorn with config/gunicorn.conf.py."""
    with gunicorn(tool_env(tool_db), tmp_path / "gunicorn.log", workers=1) as server:
        _assert_no_version(requests.get(f"{server.url}/ping", timeout=5).headers.get(
            "Server"))
