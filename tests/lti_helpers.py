"""Drive LTI launches over real HTTP against the live server and its sandbox LMS."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from factories import db_sessions
from sqlalchemy import select
from support import LiveServer, parse_form

from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.sandbox import lms
from lti_tool.sandbox.models import SandboxPlacedLink
from lti_tool.sandbox.platforms import PLATFORMS, SandboxPlatform

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"


def full_launch(server: LiveServer, platform_key: str, user: str,
                link: str = "cpt-practice-home",
                session: requests.Session | None = None,
                omit: tuple[str, ...] = ()) -> requests.Response:
    """Click a launch in the sandbox and follow the whole OIDC round trip like a browser;
    ``omit`` names service claims ("nrps", "ags") the LMS leaves out of this launch."""
    s = session or requests.Session()
    r = s.get(f"{server.url}/sandbox/{platform_key}/launch/frame",
              params={"user": user, "link": link, "omit": list(omit)})
    r.raise_for_status()
    action, fields = parse_form(r.text)
    r = s.post(action, data=fields)  # tool login -> 302 -> sandbox authorize
    r.raise_for_status()
    storage = storage_config(r.text)
    if storage:  # platform storage page: what its script does after storing, minus storing
        r = s.get(storage["redirect"])
        r.raise_for_status()
    action, fields = parse_form(r.text)
    return s.post(action, data=fields)


def signed_in(server: LiveServer, user: str, platform_key: str = "canvas"
              ) -> tuple[requests.Session, str]:
    """A browser after a home launch: its session (cookie) and the page's CSRF token."""
    s = requests.Session()
    r = full_launch(server, platform_key, user, session=s)
    assert r.status_code == 200, r.text[:500]
    return s, re.search(r'<meta name="csrf-token" content="([^"]+)">', r.text).group(1)


def storage_config(html: str) -> dict[str, Any] | None:
    """The settings of a platform-storage page, or None for any other page."""
    match = re.search(r'<script id="lti-storage" type="application/json">(.*?)</script>',
                      html, re.S)
    return json.loads(match.group(1)) if match else None


def instructor(platform: SandboxPlatform):
    """The sandbox platform's instructor."""
    return next(p for p in platform.people if p.persona == "instructor")


def deep_link_picker(server: LiveServer, platform: SandboxPlatform, person,
                     omit: tuple[str, ...] = ()) -> tuple[requests.Session, requests.Response]:
    """``person`` opens the LMS's "add an activity" (a Deep Linking launch): their session
    and the tool's activity picker; ``omit`` as for ``full_launch``."""
    s = requests.Session()
    r = s.get(f"{server.url}/sandbox/{platform.key}/launch/frame",
              params={"user": person.sub, "link": "deep-link", "omit": list(omit)})
    action, fields = parse_form(r.text)
    r = s.post(action, data=fields)
    storage = storage_config(r.text)
    if storage:  # Canvas platform storage page: go on as its script does
        r = s.get(storage["redirect"])
    action, fields = parse_form(r.text)
    return s, s.post(action, data=fields)


def place(server: LiveServer, platform: SandboxPlatform,
          activity: str = "practice:safety") -> int:
    """An instructor places ``activity`` with Deep Linking; the sandbox link's id."""
    s, picker = deep_link_picker(server, platform, instructor(platform))
    action, fields = parse_form(picker.text)
    fields["activity"] = activity
    back = s.post(server.url + html.unescape(action), data=fields)
    url, form = parse_form(back.text)
    assert s.post(url, data=form).status_code == 200
    engine, sessions = db_sessions(server)
    with transaction(sessions) as db:
        placed = db.scalars(select(SandboxPlacedLink).order_by(SandboxPlacedLink.id.desc())
                            ).first().id
    engine.dispose()
    return placed


@dataclass
class PendingLaunch:
    """A login the tool has answered: its state (cookie set) and nonce, no id_token yet."""

    server: LiveServer
    platform: SandboxPlatform
    session: requests.Session
    state: str
    nonce: str
    redirect_uri: str
    person_sub: str

    def claims(self, message_type: str = "LtiResourceLinkRequest") -> dict[str, Any]:
        person = self.platform.person(self.person_sub)
        assert person is not None
        return lms.id_token_claims(self.server.settings, self.platform, person,
                                   lms.DEMO_LINKS[0], message_type, self.nonce,
                                   self.redirect_uri, self.server.app.extensions[
                                       "cpt_lti"].clock())

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        engine = make_engine(self.server.settings.database_url)
        try:
            with transaction(make_session_factory(engine)) as db:
                return lms.sign(db, self.platform, claims, headers)
        finally:
            engine.dispose()

    def post(self, id_token: str, state: str | None = None,
             session: requests.Session | None = None) -> requests.Response:
        return (session or self.session).post(
            self.redirect_uri, data={"id_token": id_token,
                                     "state": self.state if state is None else state})


def begin_launch(server: LiveServer, platform_key: str = "canvas",
                 user: str | None = None) -> PendingLaunch:
    platform = PLATFORMS[platform_key]
    sub = user or next(p.sub for p in platform.people if p.persona == "learner")
    s = requests.Session()
    r = s.get(f"{server.url}/sandbox/{platform_key}/launch/frame", params={"user": sub})
    action, fields = parse_form(r.text)
    r = s.post(action, data=fields, allow_redirects=False)
    storage = storage_config(r.text)
    if storage:
        location = storage["redirect"]
    else:
        assert r.status_code == 302, r.text
        location = r.headers["Location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return PendingLaunch(server, platform, s, query["state"], query["nonce"],
                         query["redirect_uri"], sub)


def assert_refused(response: requests.Response, code: str) -> None:
    """A refusal is a 4xx page that names the error code and shows no stack trace."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    assert f"<code>{code}</code>" in response.text, response.text[:1500]
    assert "Traceback" not in response.text
    assert "For your LMS administrator" in response.text
