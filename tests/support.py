"""Test helpers shared by every test package: settings, a live loopback server, forms."""

from __future__ import annotations

import os
import threading
from html.parser import HTMLParser

from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from lti_tool import create_app
from lti_tool.curriculum.checks import load_bank
from lti_tool.curriculum.loader import sync_curriculum
from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.delivery.sealed import sealer_for
from lti_tool.lti.keys import KeyService
from lti_tool.models import Base
from lti_tool.ops.migrate import upgrade_to_head
from lti_tool.sandbox import models as _sandbox_models  # noqa: F401 - tables in metadata
from lti_tool.sandbox.setup import ensure_sandbox_platforms
from lti_tool.settings import load_settings
from lti_tool.web.runtime import system_clock

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



# One sealing key for the whole test run, so a `cpt-lti` process a test starts (see
# fault_support.tool_env) opens what the test process sealed; never a development key file.
TEST_SEALING_KEY = "WFG0Gt2qXZ1tbbqCumHYBpHkYF4tMbq45J3N_S3cSdU="  # Fernet.generate_key()


# The sandbox LMS and every test server listen here: allowed by name, never by default.
LOOPBACK_NETWORKS = "127.0.0.0/8, ::1/128"


def make_settings(database_url: str, base_url: str = "http://localhost", **overrides):
    """Test settings: the environment is named explicitly (the default is production), and
    so is loopback, where the sandbox LMS, Ralph and the tests' own servers listen (the
    outbound policy refuses it otherwise)."""
    env = {"CPT_LTI_DATABASE_URL": database_url, "CPT_LTI_BASE_URL": base_url,
           "CPT_LTI_ENVIRONMENT": "test", "CPT_LTI_SANDBOX": "true",
           "CPT_LTI_SEALING_KEY": TEST_SEALING_KEY,
           "CPT_LTI_OUTBOUND_ALLOW_NETWORKS": LOOPBACK_NETWORKS}
    return load_settings(env=env, **overrides)


_BANK = []


def shipped_bank():
    """The shipped curriculum, parsed once per test run."""
    if not _BANK:
        _BANK.append(load_bank())
    return _BANK[0]


def prepare(settings) -> None:
    """What `cpt-lti init` does after migrating: a tool key, the sandbox platforms and the
    curriculum."""
    engine = make_engine(settings.database_url)
    with transaction(make_session_factory(engine, sealer_for(settings))) as db:
        KeyService(db).ensure_key()
        ensure_sandbox_platforms(db, settings)
        sync_curriculum(db, shipped_bank(), system_clock)
    engine.dispose()


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
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
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
