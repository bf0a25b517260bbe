"""Issue 15, point 6 (sessions), attacked as it was reproduced:

- every launch put the session id in the URL (``?s=``), where the access log recorded it;
- the id alone worked from any client for 8 hours;
- a relaunch revoked nothing, and there was no way to sign out.

Each test drives real launches (the sandbox LMS signs real id_tokens) against a live
server; the log tests read what the real servers wrote (``cpt-lti serve``'s built-in
server, gunicorn with config/gunicorn.conf.py, the tool's own log handler).
"""

from __future__ import annotations

import io
import logging
import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from fault_support import OffsetClock, dev_server, gunicorn, tool_env
from lti_helpers import full_launch
from support import make_settings, prepare
from test_attacks_common import TIMEOUT, Actor, actor, db_session, person_sub

from lti_tool.models import ToolSession
from lti_tool.ops.migrate import upgrade_to_head
from lti_tool.sandbox.ralph_lrs import free_port

ANA = person_sub("canvas", "learner", 0)
BEN = person_sub("canvas", "learner", 1)
CARLA = person_sub("canvas", "instructor")
ENDED = "Open CPT Practice again from your course"


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def _home(server, http: requests.Session | None = None, **kw) -> requests.Response:
    return (http or requests).get(f"{server.url}/home", timeout=TIMEOUT, **kw)


def _ended(response: requests.Response) -> bool:
    """Refused as a person can act on: 401, a page that says to launch again, no trace."""
    return (response.status_code == 401 and ENDED in response.text
            and "Traceback" not in response.text)


# -- the id leaves the URL once the cookie works --------------------------------------------

def test_a_working_cookie_takes_the_session_id_out_of_the_url(live_server):
    """The launch still redirects with ``?s=`` (the LMS iframe may drop the cookie), but a
    landing request that brings the cookie back with the same id is sent on to the same
    URL without it; the page then carries the id nowhere."""
    ana = actor(live_server, "canvas", ANA)
    assert "s" not in _query(ana.landing.url), ana.landing.url
    assert any("s" in _query(r.headers.get("Location", "")) for r in ana.landing.history)
    assert ana.session_id not in ana.landing.text
    assert urlsplit(ana.landing.url).path == "/home"


def test_an_instructor_page_drops_the_id_on_the_first_click_with_the_cookie(live_server):
    """The instructor's launch renders its page at once, links carrying the id (the
    cookie's fate is unknown then); the first link followed with the cookie lands on the
    same page without it."""
    carla = actor(live_server, "canvas", CARLA)
    href = re.search(r'href="(/instructor/class\?[^"]+)"', carla.landing.text).group(1)
    assert "s" in _query(href.replace("&amp;", "&"))
    page = carla.get(live_server.url + href.replace("&amp;", "&"))
    assert page.status_code == 200 and "s" not in _query(page.url)
    assert carla.session_id not in page.text


def test_without_the_cookie_the_id_keeps_riding_in_links(live_server):
    """Where the iframe drops the cookie, the URL is all there is: pages keep the id."""
    ana = actor(live_server, "canvas", ANA)
    page = _home(live_server, params={"s": ana.session_id})
    assert page.status_code == 200 and f"s={ana.session_id}" in page.text


# -- the id never reaches a log ---------------------------------------------------------------

def _launch_and_probe(base_url: str) -> list[str]:
    """A real launch against a running tool, then the id sent every way a client can:
    query string, header and a same-origin Referer. Returns the ids it used."""

    class Server:
        url = base_url

    http = requests.Session()
    landing = full_launch(Server, "canvas", ANA, session=http)  # type: ignore[arg-type]
    assert landing.status_code == 200, landing.text[:500]
    sid = http.cookies["cpt_session"]
    requests.get(f"{base_url}/home", params={"s": sid}, timeout=TIMEOUT,
                 headers={"Referer": f"{base_url}/mastery?s={sid}"})
    requests.get(f"{base_url}/api/mastery", headers={"X-CPT-Session": sid}, timeout=TIMEOUT)
    return [sid]


def _tool_db(tmp_path, base_url: str) -> str:
    """A migrated database whose sandbox LMS lives at ``base_url`` (its launch URLs)."""
    url = f"sqlite:///{tmp_path}/tool.db"
    upgrade_to_head(url)
    prepare(make_settings(url, base_url))
    return url


def test_the_built_in_servers_access_log_never_holds_the_session_id(tmp_path):
    """``cpt-lti serve`` (what ``make run`` starts): werkzeug's access lines showed
    ``GET /home?s=<id>``."""
    port = free_port()
    tool_db = _tool_db(tmp_path, f"http://127.0.0.1:{port}")
    log = tmp_path / "serve.log"
    with dev_server(tool_db, tmp_path, log, port, CPT_LTI_LOG_LEVEL="INFO") as (base, _):
        ids = _launch_and_probe(base)
    written = log.read_text(errors="replace")
    assert "GET /home?s=" in written, written[-3000:]  # the lines are there, redacted
    for sid in ids:
        assert sid not in written, written[-3000:]


def test_gunicorns_access_log_never_holds_the_session_id(tmp_path):
    """``cpt-lti serve --workers N`` (gunicorn, config/gunicorn.conf.py) with its access
    log on: the request line, the Referer and the session header are redacted."""
    port = free_port()
    tool_db = _tool_db(tmp_path, f"http://127.0.0.1:{port}")
    access = tmp_path / "access.log"
    # Threads: the launch fetches the sandbox LMS's keys from this same server.
    env = tool_env(tool_db, CPT_LTI_ACCESS_LOG=str(access), CPT_LTI_EMBEDDED_WORKER="false",
                   CPT_LTI_GUNICORN_THREADS="4")
    with gunicorn(env, tmp_path / "gunicorn.log", workers=1, port=port) as server:
        ids = _launch_and_probe(server.url)
        deadline = time.monotonic() + 10
        while "/api/mastery" not in (access.read_text() if access.exists() else ""):
            assert time.monotonic() < deadline, "gunicorn wrote no access line"
            time.sleep(0.1)
    written = access.read_text(errors="replace")
    assert "GET /home?s=" in written, written[-3000:]
    for sid in ids:
        assert sid not in written, written[-3000:]


def test_the_tools_own_log_lines_never_hold_the_session_id(app):
    """Anything the tool logs (a URL in a warning, a header echoed by a library) goes
    through its handler, which redacts ``s=`` values and the session header."""
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_cpt_lti", False))
    buffer = io.StringIO()
    old = handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        log = logging.getLogger("lti_tool.test")
        log.warning("slow page %s", "/home?module=safety&s=SECRETID123&x=1")
        log.warning("headers: X-CPT-Session: SECRETID456")
        log.warning("cookie cpt_session=SECRETID789; other=1")
    finally:
        handler.setStream(old)  # type: ignore[attr-defined]
    written = buffer.getvalue()
    assert "/home?module=safety&s=" in written and "x=1" in written
    for secret in ("SECRETID123", "SECRETID456", "SECRETID789"):
        assert secret not in written, written


# -- an id from the URL is not a key to the session from anywhere, for 8 hours ----------------

def test_a_relaunch_ends_the_older_session_of_that_person_and_link(live_server):
    """Launching the same link again (another tab, another device, a shared computer's
    next student) ends the session the older launch started; other people and other
    links keep theirs."""
    first = actor(live_server, "canvas", ANA)
    ben = actor(live_server, "canvas", BEN)
    carla = actor(live_server, "canvas", CARLA)
    dl = actor(live_server, "canvas", CARLA, message_type="LtiDeepLinkingRequest")
    second = actor(live_server, "canvas", ANA)
    assert first.session_id != second.session_id
    assert _ended(_home(live_server, first.http))
    assert _ended(_home(live_server, headers={"X-CPT-Session": first.session_id}))
    assert _ended(_home(live_server, params={"s": first.session_id}))
    assert _home(live_server, second.http).status_code == 200
    assert _home(live_server, ben.http).status_code == 200
    # Carla's deep-linking launch (no resource link) left her grades page's session alone.
    assert carla.get(f"{live_server.url}/instructor/grades").status_code == 200
    assert dl.get(f"{live_server.url}/home").status_code == 200
    with db_session(live_server) as db:
        assert db.get(ToolSession, first.session_id) is None


@pytest.fixture
def clocked(live_server, monkeypatch):
    clock = OffsetClock()
    monkeypatch.setattr(live_server.app.extensions["cpt_lti"], "clock", clock)
    return live_server, clock


def test_a_session_ends_after_an_hour_without_a_request(clocked):
    server, clock = clocked
    ana = actor(server, "canvas", ANA)
    clock.advance(minutes=55)
    assert _home(server, ana.http).status_code == 200  # in use: the idle time restarts
    clock.advance(minutes=55)
    assert _home(server, ana.http).status_code == 200
    clock.advance(minutes=61)
    assert _ended(_home(server, ana.http))
    assert _ended(_home(server, headers={"X-CPT-Session": ana.session_id}))


def test_a_session_in_use_still_ends_at_eight_hours(clocked):
    server, clock = clocked
    ana = actor(server, "canvas", ANA)
    for _ in range(9):  # a request every 50 minutes: never idle
        clock.advance(minutes=50)
        assert _home(server, ana.http).status_code == 200
    clock.advance(minutes=31)  # 8 h 01 min after the launch
    assert _ended(_home(server, ana.http))


def test_an_id_copied_to_another_browser_does_not_open_the_session(live_server):
    """A URL with ``?s=`` pasted into another browser (a chat, a screenshot, a proxy log):
    the session is bound to the browser that launched it (its User-Agent)."""
    ana = actor(live_server, "canvas", ANA)
    elsewhere = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"}
    assert _ended(_home(live_server, params={"s": ana.session_id}, headers=elsewhere))
    assert _ended(requests.get(f"{live_server.url}/api/mastery", timeout=TIMEOUT, headers={
        **elsewhere, "X-CPT-Session": ana.session_id, "Accept": "text/html"}))
    # The launching browser, with or without its cookie, still gets in.
    assert _home(live_server, params={"s": ana.session_id}).status_code == 200


# -- logout -----------------------------------------------------------------------------------

def _logout(server, who: Actor, token: str | None) -> requests.Response:
    data = {} if token is None else {"csrf_token": token}
    return who.post(f"{server.url}/logout", data=data)


def test_sign_out_ends_the_session_and_clears_the_cookie(live_server):
    ana = actor(live_server, "canvas", ANA)
    assert 'action="/logout"' in ana.landing.text  # every signed-in page offers it
    assert _logout(live_server, ana, None).status_code == 403
    assert _logout(live_server, ana, "forged").status_code == 403
    assert _home(live_server, ana.http).status_code == 200
    done = _logout(live_server, ana, ana.csrf)
    assert done.status_code == 200, done.text[:500]
    assert "signed out" in done.text and "from your course" in done.text
    cleared = done.headers["Set-Cookie"]
    assert cleared.startswith("cpt_session=;") and ("Max-Age=0" in cleared
                                                   or "1970" in cleared)
    assert "cpt_session" not in ana.http.cookies
    assert _ended(_home(live_server, headers={"X-CPT-Session": ana.session_id}))
    with db_session(live_server) as db:
        assert db.get(ToolSession, ana.session_id) is None


def test_sign_out_works_where_the_cookie_does_not(live_server):
    """In an iframe that drops the cookie the form carries the id; sign-out still ends
    the session behind it."""
    ana = actor(live_server, "canvas", ANA)
    page = _home(live_server, params={"s": ana.session_id})
    action = re.search(r'<form method="post" action="(/logout[^"]*)"', page.text).group(1)
    done = requests.post(live_server.url + action.replace("&amp;", "&"),
                         data={"csrf_token": ana.csrf}, timeout=TIMEOUT)
    assert done.status_code == 200 and "signed out" in done.text
    assert _ended(_home(live_server, params={"s": ana.session_id}))


def test_the_idle_limit_is_a_setting(database_url):
    settings = make_settings(database_url, session_idle_minutes=15)
    assert settings.session_idle_minutes == 15
    assert make_settings(database_url).session_idle_minutes == 60
    from lti_tool.settings import SettingsError, load_settings

    env = {"CPT_LTI_DATABASE_URL": database_url, "CPT_LTI_ENVIRONMENT": "test",
           "CPT_LTI_SESSION_IDLE_MINUTES": "20"}
    assert load_settings(env=env).session_idle_minutes == 20
    with pytest.raises(SettingsError):
        load_settings(env={**env, "CPT_LTI_SESSION_IDLE_MINUTES": "0"})


def test_touching_a_session_is_at_most_one_write_a_minute(clocked):
    """Idle expiry needs a last-seen time; it is written when it is a minute old, not on
    every request (each write is a round trip and a lock on PostgreSQL)."""
    server, clock = clocked
    ana = actor(server, "canvas", ANA)
    with db_session(server) as db:
        seen = db.get(ToolSession, ana.session_id).last_seen_at
    for _ in range(3):
        clock.advance(seconds=10)
        assert _home(server, ana.http).status_code == 200
    with db_session(server) as db:
        assert db.get(ToolSession, ana.session_id).last_seen_at == seen
    clock.advance(seconds=40)
    assert _home(server, ana.http).status_code == 200
    with db_session(server) as db:
        assert db.get(ToolSession, ana.session_id).last_seen_at - seen >= timedelta(
            seconds=60)
