"""Test helpers shared by every test package: settings, a live loopback server, forms."""

from __future__ import annotations

import os
from html.parser import HTMLParser

from factories import (  # noqa: F401 - tests import these names from here too
    LOOPBACK_NETWORKS,
    TEST_SEALING_KEY,
    prepare,
    served_thread,
    shipped_bank,
    stop_served,
    tool_env,
)
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from lti_tool import create_app
from lti_tool.models import Base
from lti_tool.ops.migrate import upgrade_to_head
from lti_tool.sandbox import models as _sandbox_models  # noqa: F401 - tables in metadata
from lti_tool.settings import load_settings

POSTGRES_URL = os.environ.get("CPT_LTI_TEST_POSTGRES_URL")
_migrated: set[str] = set()


def reset_postgres(url: str) -> None:
    """A clean schema: migrated once per test run (per URL), then truncated per test."""
    if url not in _migrated:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
        upgrade_to_head(url)
        _migrated.add(url)
        return
    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()



def make_settings(database_url: str, base_url: str = "http://localhost", **overrides):
    """Test settings: the environment is named explicitly (the default is production), and
    so is loopback, where the sandbox LMS, Ralph and the tests' own servers listen (the
    outbound policy refuses it otherwise)."""
    return load_settings(env=tool_env(database_url, base_url), **overrides)


class LiveServer:
    """The app on a free loopback port, in a thread; stopped by the fixture that made it."""

    def __init__(self, database_url: str, sandbox_host: str | None = None) -> None:
        self._server = make_server("127.0.0.1", 0, None, threaded=True)  # type: ignore[arg-type]
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        # With sandbox_host the LMS lives on another site than the tool (cross-site iframe).
        self.lms_url = (f"http://{sandbox_host}:{self._server.server_port}" if sandbox_host
                        else self.url)
        self.settings = make_settings(database_url, self.url, sandbox_base_url=self.lms_url)
        prepare(self.settings)
        self.app = create_app(self.settings)
        self._server.app = self.app
        self._thread = served_thread(self._server)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        stop_served(self._server, self._thread)
        self.app.extensions["cpt_lti"].engine.dispose()


class FormParser(HTMLParser):
    """Reads the first form of a page: its action and its named inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = a.get("action") or ""
            self._in_form = True
        elif tag == "input" and self._in_form and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False


def parse_form(html: str) -> tuple[str, dict[str, str]]:
    parser = FormParser()
    parser.feed(html)
    assert parser.action is not None, "page has no form"
    return parser.action, parser.fields
