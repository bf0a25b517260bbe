"""Stored XSS: names, course title and label, resource link title, custom parameters,
deployment and client ids and the platform's name carry script payloads into the tool
through real signed launches; every page that shows them must show them escaped (the raw
payload absent, its escaped form present where the page displays it), and the JSON API
answers JSON, never HTML.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any
from urllib.parse import quote

from lti_helpers import CLAIM, assert_refused
from markupsafe import escape
from sqlalchemy import select
from test_attacks_common import (
    TIMEOUT,
    actor,
    admin_actor,
    as_person,
    combine,
    db_session,
    person_sub,
    practice_attempt,
    signed_launch,
)

from lti_tool.models import Deployment, Platform
from lti_tool.sandbox.platforms import CANVAS

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
SVG = "'><svg/onload=alert(2)>"
TITLE = "</title><script>alert(3)</script>"
STYLE = "</style></textarea><script>alert(4)</script>"
JS = "javascript:alert(5)"
PLATFORM_NAME = "Evil LMS <img src=x onerror=alert(6)>"
HTML_PAYLOADS = (SCRIPT, IMG, SVG, TITLE, STYLE, PLATFORM_NAME)
COURSE_TITLE = f"MFG {TITLE} {SVG}"
LINK_TITLE = f"Quiz {STYLE}"
STUDENT = ("xss-student", SCRIPT, IMG)  # sub, given name, family name
TEACHER = ("xss-teacher", f"Prof {SVG}", f"T {JS}")
FORMULA = ("xss-formula", "=HYPERLINK(\"https://evil.example\")", "@SUM(1)")


def _course(claims: dict[str, Any]) -> None:
    """The same hostile course and link on every launch (each launch updates them)."""
    claims[CLAIM + "context"]["title"] = COURSE_TITLE
    claims[CLAIM + "context"]["label"] = SVG
    if CLAIM + "resource_link" in claims:
        claims[CLAIM + "resource_link"]["title"] = LINK_TITLE
    claims[CLAIM + "custom"].update({"activity": SCRIPT, "module": IMG, "note": JS,
                                     SCRIPT: STYLE})


def assert_escaped(html: str, shown: tuple[str, ...]) -> None:
    """No payload raw; each one the page shows is there in its escaped form; no
    javascript: URL in any attribute that a click or load would follow."""
    for payload in HTML_PAYLOADS:
        assert payload not in html, payload
    for payload in shown:
        assert str(escape(payload)) in html, (payload, str(escape(payload)))
    assert not re.search(r"""(?:href|src|action|formaction|data)\s*=\s*["']?\s*javascript:""",
                         html, re.I)


def test_hostile_names_titles_and_custom_parameters_are_escaped_everywhere(live_server):
    server = live_server
    with db_session(server) as db:  # as Dynamic Registration would name a platform
        db.scalars(select(Platform).where(Platform.client_id == CANVAS.client_id)).one() \
            .name = PLATFORM_NAME
    learner, teacher = person_sub("canvas", "learner", 0), person_sub("canvas", "instructor")
    student = actor(server, "canvas", learner, combine(as_person(*STUDENT), _course))
    # The student's home: given name, full name, course title, platform name.
    assert student.landing.url.split("?")[0].endswith("/home")  # custom activity ignored
    assert_escaped(student.landing.text, (SCRIPT, f"{SCRIPT} {IMG}", COURSE_TITLE,
                                          PLATFORM_NAME))
    practice_attempt(server, student, "safety", size=2, answers=2, submit=True)
    formula = actor(server, "canvas", learner, combine(as_person(*FORMULA), _course))
    assert formula.role == "learner"

    staff = actor(server, "canvas", teacher, combine(as_person(*TEACHER), _course))
    assert_escaped(staff.landing.text, (f"{TEACHER[1]} {TEACHER[2]}", COURSE_TITLE,
                                        PLATFORM_NAME))
    pages = {
        "/instructor/class": (f"{SCRIPT} {IMG}",),
        f"/instructor/students/{student.user_id}": (f"{SCRIPT} {IMG}",),
        "/instructor/grades": (LINK_TITLE, f"{SCRIPT} {IMG}"),
        "/instructor/items": (),
    }
    for path, shown in pages.items():
        r = staff.get(server.url + path)
        assert r.status_code == 200, (path, r.status_code)
        assert_escaped(r.text, shown)
    # The heat map's row headers carry the names too.
    heat = staff.get(server.url + "/instructor/class").text.split('class="heat"', 1)[1]
    assert f'<th scope="row">{escape(SCRIPT)} {escape(IMG)}</th>' in heat
    # CSV exports: no cell a spreadsheet would run as a formula.
    for path in ("/instructor/class", "/instructor/grades"):
        rows = list(csv.reader(io.StringIO(staff.get(server.url + path,
                                                     params={"format": "csv"}).text)))
        cells = [cell for row in rows[1:] for cell in row]
        assert f"{SCRIPT} {IMG}" in cells
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")], cells
        assert f"'{FORMULA[1]} {FORMULA[2]}" in cells

    # Deep Linking picker: the course title again.
    picker = actor(server, "canvas", teacher, combine(as_person(*TEACHER), _course),
                   "LtiDeepLinkingRequest")
    assert_escaped(picker.landing.text, (COURSE_TITLE,))

    # The admin console shows platform names.
    admin = admin_actor(server)
    console = admin.http.get(server.url + "/admin/", timeout=TIMEOUT)
    assert console.status_code == 200
    assert_escaped(console.text, (PLATFORM_NAME,))
    with db_session(server) as db:  # and its page; a deployment ID as an LMS could send it
        canvas = db.scalars(select(Platform).where(Platform.client_id == CANVAS.client_id)).one()
        db.add(Deployment(platform_id=canvas.id, deployment_id=SCRIPT, auto_registered=True))
        canvas_id = canvas.id
    own_page = admin.http.get(f"{server.url}/admin/platforms/{canvas_id}", timeout=TIMEOUT)
    assert own_page.status_code == 200
    assert_escaped(own_page.text, (PLATFORM_NAME, SCRIPT))


def test_refusal_pages_escape_the_claims_they_name(live_server):
    """A refused launch names the deployment or client id it could not find: escaped."""
    server = live_server
    learner = person_sub("canvas", "learner", 0)

    def deployment(claims: dict[str, Any]) -> None:
        claims[CLAIM + "deployment_id"] = SCRIPT

    _, r = signed_launch(server, "canvas", learner, deployment)
    assert_refused(r, "unknown_deployment")
    assert_escaped(r.text, (SCRIPT,))

    def client(claims: dict[str, Any]) -> None:
        claims["aud"] = claims["azp"] = IMG

    _, r = signed_launch(server, "canvas", learner, client)
    assert_refused(r, "unknown_platform")
    assert_escaped(r.text, (IMG,))


def test_hostile_ids_in_urls_get_escaped_pages_and_json_errors(live_server):
    """Payloads in URL segments and API bodies: HTML errors escape them, API errors are
    JSON with a JSON content type (a browser never renders them as a page)."""
    server = live_server
    student = actor(server, "canvas", person_sub("canvas", "learner", 0))
    headers = {"X-CSRF-Token": student.csrf}
    for path in (f"/attempts/{quote(SCRIPT, safe='')}", f"/modules/{quote(IMG, safe='')}",
                 f"/attempts/{quote(TITLE, safe='')}/results"):
        r = student.get(server.url + path, headers={"Accept": "text/html"})  # a browser
        assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/html")
        assert_escaped(r.text, ())
    answers = [
        student.get(f"{server.url}/api/attempts/{quote(SCRIPT, safe='')}"),
        student.post(f"{server.url}/api/attempts", headers=headers,
                     json={"mode": "drill", "module_id": SCRIPT}),
        student.post(f"{server.url}/api/attempts", headers=headers,
                     json={"mode": IMG, "module_id": "safety"}),
        student.post(f"{server.url}/api/attempts", headers=headers,
                     json={"mode": "drill", "module_id": "safety", "key_activity_id": SVG}),
        student.get(f"{server.url}/api/mastery"),
        student.post(f"{server.url}/api/attempts", headers=headers, data=SCRIPT),
    ]
    for r in answers:
        assert r.headers["Content-Type"] == "application/json", (r.url, r.headers)
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert isinstance(r.json(), dict)
    assert [r.status_code for r in answers] == [404, 404, 400, 404, 200, 400]
