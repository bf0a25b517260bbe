"""Helpers shared by the attack tests (test_attacks_*.py); this module holds no tests.

An attack needs real actors: people who launched through the sandbox LMS with signed
id_tokens (claims edited before signing where the attack is in the token), an admin who
signed in to the console, and a way to prove that a refused request wrote nothing (a
snapshot of every table that a request could change).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from flask import Flask
from lti_helpers import CLAIM, PendingLaunch, begin_launch
from sqlalchemy import select
from sqlalchemy.orm import Session
from support import LiveServer

from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.delivery.sealed import sealer_for
from lti_tool.models import Base, ToolSession
from lti_tool.ops.admin import AdminService
from lti_tool.sandbox.platforms import PLATFORMS
from lti_tool.web.runtime import system_clock

TIMEOUT = 20  # seconds for any one HTTP request: every test stays bounded in time
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ADMIN_PASSWORD = "attack-tests correct horse"
# Curriculum tables are loaded at init and never written by a request; leaving them out
# keeps a snapshot cheap enough to take around every probe.
_STATIC_TABLES = ("curriculum_", "content_release")

Edit = Callable[[dict[str, Any]], None]


@contextmanager
def db_session(server: LiveServer) -> Iterator[Session]:
    """A transaction on the live server's database, from outside the server."""
    engine = make_engine(server.settings.database_url)
    try:
        with transaction(make_session_factory(engine, sealer_for(server.settings))) as db:
            yield db
    finally:
        engine.dispose()


def snapshot(server: LiveServer) -> dict[str, list[str]]:
    """Every row of every table a request could write, in a comparable form: equal
    snapshots before and after a refused request prove it wrote nothing."""
    engine = make_engine(server.settings.database_url)
    try:
        out: dict[str, list[str]] = {}
        with engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                if table.name.startswith(_STATIC_TABLES):
                    continue
                out[table.name] = sorted(repr(tuple(row)) for row in conn.execute(
                    select(table)))
        return out
    finally:
        engine.dispose()


def changed_tables(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    return sorted(name for name in before.keys() | after.keys()
                  if before.get(name) != after.get(name))


@dataclass
class Actor:
    """Someone with a tool session: their browser (cookies), CSRF token and DB identity."""

    http: requests.Session
    csrf: str
    session_id: str
    user_id: int
    course_id: int | None
    resource_link_id: int | None
    role: str
    landing: requests.Response
    launch_id: str

    def get(self, url: str, **kw: Any) -> requests.Response:
        return self.http.get(url, timeout=TIMEOUT, **kw)

    def post(self, url: str, **kw: Any) -> requests.Response:
        return self.http.post(url, timeout=TIMEOUT, **kw)


def person_sub(platform_key: str, persona: str, index: int = 0) -> str:
    return [p.sub for p in PLATFORMS[platform_key].people if p.persona == persona][index]


def signed_launch(server: LiveServer, platform_key: str = "canvas", user: str | None = None,
                  edit: Edit | None = None,
                  message_type: str = "LtiResourceLinkRequest",
                  follow: bool = True) -> tuple[PendingLaunch, requests.Response]:
    """A real OIDC login, then an id_token built like the sandbox's, edited, signed with the
    platform's real key and posted by the same browser."""
    pending = begin_launch(server, platform_key, user)
    claims = pending.claims(message_type)
    if edit is not None:
        edit(claims)
    token = pending.sign(claims)
    response = pending.session.post(pending.redirect_uri, timeout=TIMEOUT,
                                    allow_redirects=follow,
                                    data={"id_token": token, "state": pending.state})
    return pending, response


def csrf_of(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert match, html[:1500]
    return match.group(1)


def actor(server: LiveServer, platform_key: str = "canvas", user: str | None = None,
          edit: Edit | None = None, message_type: str = "LtiResourceLinkRequest") -> Actor:
    """Launch and return the person as an Actor (the launch must succeed)."""
    pending, landing = signed_launch(server, platform_key, user, edit, message_type)
    assert landing.status_code == 200, (landing.status_code, landing.text[:1500])
    session_id = pending.session.cookies.get("cpt_session")
    assert session_id, "the launch set no session cookie"
    with db_session(server) as db:
        row = db.get(ToolSession, session_id)
        assert row is not None
        return Actor(pending.session, csrf_of(landing.text), session_id, row.user_id,
                     row.course_id, row.resource_link_id, str(row.role), landing,
                     row.launch_id)


def as_person(sub: str, given: str, family: str) -> Edit:
    """An edit that makes the token about another person of the same platform."""

    def edit(claims: dict[str, Any]) -> None:
        claims["sub"] = sub
        claims["given_name"], claims["family_name"] = given, family
        claims["name"] = f"{given} {family}"
        claims["email"] = f"{uuid.uuid5(uuid.NAMESPACE_DNS, sub).hex[:8]}@example.test"

    return edit


def in_course(context_id: str, title: str, label: str = "C2") -> Edit:
    def edit(claims: dict[str, Any]) -> None:
        claims[CLAIM + "context"] = {"id": context_id, "title": title, "label": label,
                                     "type": [LIS + "course#CourseOffering"]}

    return edit


def without_context(claims: dict[str, Any]) -> None:
    """LTI 1.3 makes the context claim optional: a link placed outside any course."""
    claims.pop(CLAIM + "context", None)
    claims.pop("https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice", None)


def combine(*edits: Edit) -> Edit:
    def edit(claims: dict[str, Any]) -> None:
        for one in edits:
            one(claims)

    return edit


def practice_attempt(server: LiveServer, student: Actor, module_id: str = "safety",
                     size: int = 3, answers: int = 1, submit: bool = False) -> dict[str, Any]:
    """Start a practice test over the API, answer some items, optionally submit."""
    headers = {"X-CSRF-Token": student.csrf}
    r = student.post(f"{server.url}/api/attempts", headers=headers,
                     json={"mode": "practice", "module_id": module_id, "size": size})
    assert r.status_code == 201, r.text
    attempt = r.json()
    first_item = None
    for n in range(answers):
        item = student.get(f"{server.url}/api/attempts/{attempt['id']}/item").json()["item"]
        first_item = first_item or item
        r = student.post(f"{server.url}/api/attempts/{attempt['id']}/answers",
                         headers=headers, json={"item_id": item["id"], "choice": n % 4,
                                                "idempotency_key": uuid.uuid4().hex})
        assert r.status_code == 201, r.text
    if submit:
        r = student.post(f"{server.url}/api/attempts/{attempt['id']}/submit", headers=headers)
        assert r.status_code == 200, r.text
    attempt["first_item"] = first_item
    return attempt


@dataclass
class AdminActor:
    http: requests.Session
    csrf: str


def admin_actor(server: LiveServer, username: str = "it-admin") -> AdminActor:
    """An administrator signed in to /admin with the console's own password sign-in."""
    with db_session(server) as db:
        AdminService(db, system_clock).create(username, ADMIN_PASSWORD)
    http = requests.Session()
    r = http.post(f"{server.url}/admin/login", timeout=TIMEOUT,
                  data={"username": username, "password": ADMIN_PASSWORD})
    assert r.status_code == 200 and "Admin console" in r.text, r.text[:800]
    token = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
    assert token
    return AdminActor(http, token.group(1))


def rules(app: Flask) -> list[tuple[str, str, frozenset[str]]]:
    """(endpoint, rule, methods) for every route, HEAD/OPTIONS left out."""
    return sorted((r.endpoint, r.rule, frozenset(r.methods or ()) - {"HEAD", "OPTIONS"})
                  for r in app.url_map.iter_rules())
