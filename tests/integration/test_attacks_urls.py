"""URLs the tool writes for others to follow (issue 15, point 8).

- The launch URL placed in the LMS by a Deep Linking response, and the OIDC redirect_uri
  sent at login, come from the configured base URL: a request whose Host header names
  another site must not make the tool sign that site's address into a JWT (the LMS would
  place a link to it) or send the id_token there.
- The Deep Linking return URL is where the tool's page posts the signed response: it is
  written into a form action, so a ``javascript:`` (or ``data:``...) URL in a signed
  Deep Linking request ran script on the tool's origin. It must be https (http only in
  development and the tests) and is refused with a 4xx page at the launch, before the
  picker is shown, and again when the response is built.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from lti_helpers import assert_refused, storage_config
from support import parse_form
from test_attacks_common import TIMEOUT, db_session, person_sub, signed_launch

from lti_tool.lti.launch import DL_CLAIM
from lti_tool.models import LaunchValue
from lti_tool.sandbox.platforms import PLATFORMS
from lti_tool.settings import Settings

EVIL_HOST = "evil.example"
ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
# Every one must be refused: scripts, documents, other schemes, relative and user-info
# URLs, and tricks a browser strips before it reads the scheme.
BAD_RETURN_URLS: list[Any] = [
    "javascript:alert(document.domain)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "javascript://lms.example/%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "ftp://lms.example/return",
    "//evil.example/return",
    "/courses/1/deep_linking_response",
    "https://user:pw@lms.example/return",
    "https://lms.example\\@evil.example/return",
    "https:///no-host",
    "",
    12345,
    None,
]


def _instructor(platform_key: str) -> str:
    return person_sub(platform_key, "instructor")


def _deep_link_launch(server, platform_key: str = "canvas", return_url: Any = "keep"):
    """A signed LtiDeepLinkingRequest from an instructor, its return URL replaced unless
    ``keep``; returns the browser session and the tool's answer."""
    def edit(claims: dict[str, Any]) -> None:
        if return_url != "keep":
            claims[DL_CLAIM]["deep_link_return_url"] = return_url

    pending, answer = signed_launch(server, platform_key, _instructor(platform_key), edit,
                                    "LtiDeepLinkingRequest")
    return pending.session, answer


def _pick(server, session: requests.Session, picker: requests.Response,
          headers: dict[str, str] | None = None) -> requests.Response:
    action, fields = parse_form(picker.text)
    fields["activity"] = "mock:safety"
    return session.post(server.url + action.replace("&amp;", "&"), data=fields,
                        headers=headers or {}, timeout=TIMEOUT)


@pytest.mark.parametrize("platform_key", ["canvas", "moodle"])
def test_login_redirect_uri_comes_from_the_base_url_not_the_host_header(live_server,
                                                                        platform_key):
    """A login sent with ``Host: evil.example`` still names the tool's own /lti/launch as
    the redirect_uri: the platform must never be asked to post an id_token elsewhere."""
    s = requests.Session()
    frame = s.get(f"{live_server.url}/sandbox/{platform_key}/launch/frame", timeout=TIMEOUT,
                  params={"user": person_sub(platform_key, "learner")})
    action, fields = parse_form(frame.text)
    answer = s.post(action, data=fields, headers={"Host": EVIL_HOST}, allow_redirects=False,
                    timeout=TIMEOUT)
    storage = storage_config(answer.text)
    location = storage["redirect"] if storage else answer.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert query["redirect_uri"] == [live_server.settings.url("/lti/launch")]
    assert EVIL_HOST not in location


def test_deep_link_item_url_comes_from_the_base_url_not_the_host_header(live_server):
    """The picks are posted with ``Host: evil.example``: the signed response still places
    links to the configured base URL (the LMS would otherwise send every student's
    launch, with their id_token, to the attacker's site)."""
    session, picker = _deep_link_launch(live_server)
    assert picker.status_code == 200 and "Add to course" in picker.text
    back = _pick(live_server, session, picker, headers={"Host": EVIL_HOST})
    assert back.status_code == 200, back.text[:1500]
    _, form = parse_form(back.text)
    claims = jwt.decode(form["JWT"], options={"verify_signature": False})
    urls = [item["url"] for item in claims[ITEMS]]
    assert urls == [live_server.settings.url("/lti/launch")]
    assert EVIL_HOST not in back.text


def test_deep_linking_launch_refuses_a_return_url_that_is_not_http(live_server):
    """A signed Deep Linking request whose deep_link_return_url is a script, a data URL,
    another scheme, relative, carries user info or is not a string is refused with a 4xx
    page at the launch: no picker, no session, and the URL is never written into a form."""
    for bad in BAD_RETURN_URLS:
        session, answer = _deep_link_launch(live_server, return_url=bad)
        # A number is refused earlier, by the claim shape check (bad_claim).
        assert_refused(answer, "bad_claim" if isinstance(bad, int) else "bad_return_url")
        assert "Add to course" not in answer.text, bad
        assert "<form" not in answer.text, bad
        assert "cpt_session" not in session.cookies, bad


def test_deep_linking_launch_without_a_return_url_is_refused(live_server):
    """pylti1p3 does not check the return URL is there; a picker shown without one would
    fail later with a server error."""
    def edit(claims: dict[str, Any]) -> None:
        del claims[DL_CLAIM]["deep_link_return_url"]

    pending, answer = signed_launch(live_server, "moodle", _instructor("moodle"), edit,
                                    "LtiDeepLinkingRequest")
    assert_refused(answer, "bad_return_url")


def test_deep_link_response_refuses_a_bad_return_url_it_finds_in_the_stored_launch(
        live_server):
    """The response checks again: a launch stored before this check existed (or changed
    in the database) never puts a ``javascript:`` URL into the return form."""
    session, picker = _deep_link_launch(live_server)
    launch_id = parse_form(picker.text)[1]["launch_id"]
    with db_session(live_server) as db:
        row = db.get(LaunchValue, launch_id)
        assert row is not None
        body = dict(row.value)
        body[DL_CLAIM] = {**body[DL_CLAIM], "deep_link_return_url": "javascript:alert(1)"}
        row.value = body
    back = _pick(live_server, session, picker)
    assert back.status_code == 400, back.text[:1500]
    assert "<code>bad_return_url</code>" in back.text
    assert "javascript:" not in back.text
    assert 'name="JWT"' not in back.text


def test_return_page_may_post_only_to_the_validated_return_origin(live_server):
    """The page that posts the signed response back to the LMS names the return URL's
    origin in its own form-action (an LMS may return on a host no registration names,
    e.g. a Canvas vanity domain); every other page keeps the registered list."""
    return_url = "https://canvas.college.example/courses/7/deep_linking_response"
    session, picker = _deep_link_launch(live_server, return_url=return_url)
    assert picker.status_code == 200, picker.text[:1500]
    back = _pick(live_server, session, picker)
    assert back.status_code == 200, back.text[:1500]
    action, _ = parse_form(back.text)
    assert action == return_url
    form_action = re.search(r"form-action ([^;]*)", back.headers["Content-Security-Policy"])
    assert form_action and "https://canvas.college.example" in form_action.group(1).split()
    assert "*" not in form_action.group(1).split()
    other = session.get(f"{live_server.url}/", timeout=TIMEOUT)
    assert "https://canvas.college.example" not in other.headers["Content-Security-Policy"]


@pytest.mark.parametrize("environment, http_allowed", [
    ("production", False), ("development", True), ("test", True)])
def test_http_return_url_only_outside_production(environment, http_allowed):
    """http return URLs are for the sandbox LMS (development, and the tests, which run it
    on http://127.0.0.1); production accepts https only."""
    from lti_tool.lti.deep_linking import return_url_refusal

    settings = Settings(environment=environment)
    refusal = return_url_refusal("http://lms.college.edu/courses/1/return", settings)
    assert (refusal is None) is http_allowed, refusal
    assert return_url_refusal("https://lms.college.edu/courses/1/return", settings) is None
    for bad in BAD_RETURN_URLS:
        assert return_url_refusal(bad, settings), bad


def test_the_sandbox_platforms_return_urls_are_accepted(live_server):
    """The shipped sandbox's own return URLs (http on loopback in the tests) pass."""
    # (the self-hosted Canvas registers by Dynamic Registration first: not registered here)
    for key in [k for k, p in PLATFORMS.items() if p.preregistered]:
        session, picker = _deep_link_launch(live_server, key)
        assert picker.status_code == 200, (key, picker.text[:800])
        back = _pick(live_server, session, picker)
        assert back.status_code == 200, (key, back.text[:800])
