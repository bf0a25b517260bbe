"""Launch attacks that test_launch_rejections.py does not cover: role escalation through
claims other than ``roles``, message type confusion, and open redirects through
``target_link_uri``. Every token is a real one: built like the sandbox's, edited, signed
with the platform's key and posted after a real OIDC login.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from lti_helpers import CLAIM, assert_refused, begin_launch, storage_config
from sqlalchemy import func, select
from test_attacks_common import (
    LIS,
    TIMEOUT,
    Actor,
    actor,
    changed_tables,
    db_session,
    in_course,
    person_sub,
    signed_launch,
    snapshot,
)

from lti_tool.models import Attempt, Enrollment, ToolSession

INSTRUCTOR = LIS + "membership#Instructor"
ADMIN = LIS + "system/person#Administrator"
DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
EVIL = "https://evil.example/steal"


def _spoof(**extra: Any):
    """A learner's token with extra claims that claim more rights; roles untouched."""

    def edit(claims: dict[str, Any]) -> None:
        for key, value in extra.items():
            if key == "custom":
                claims[CLAIM + "custom"].update(value)
            elif key == "context_roles":
                claims[CLAIM + "context"]["roles"] = value
            else:
                claims[key.replace("__", "/")] = value

    return edit


ESCALATIONS = {
    "custom roles": _spoof(custom={"roles": INSTRUCTOR, "role": "Instructor",
                                   "is_instructor": "true", "lti_roles": ADMIN,
                                   "user_role": "Administrator", "canvas_membership_roles":
                                   "TeacherEnrollment"}),
    "custom roles claim shaped like the real one": _spoof(custom={CLAIM + "roles": INSTRUCTOR}),
    "bare roles claim": _spoof(roles=[INSTRUCTOR, ADMIN], role="Instructor"),
    "ext claim": _spoof(**{CLAIM + "ext": {"roles": "Instructor,Administrator",
                                           "user_roles": ADMIN}}),
    "context roles": _spoof(context_roles=[INSTRUCTOR, ADMIN]),
    "lis claim": _spoof(**{CLAIM + "lis": {"roles": [INSTRUCTOR],
                                           "person_sourcedid": "x"}}),
    "mentor scope": _spoof(**{CLAIM + "role_scope_mentor": ["*", person_sub("canvas",
                                                                             "learner", 1)]}),
    "is_admin flags": _spoof(is_admin=True, admin=True, instructor=True,
                             **{"https://www.instructure.com/roles": [INSTRUCTOR]}),
}


def _assert_learner_everywhere(server, student: Actor) -> None:
    assert student.role == "learner"
    assert student.landing.url.split("?")[0].endswith("/home"), student.landing.url
    assert "Instructor overview" not in student.landing.text
    with db_session(server) as db:
        enrollment = db.scalars(select(Enrollment).where(
            Enrollment.user_id == student.user_id)).one()
        assert enrollment.role.value == "learner"
    before = snapshot(server)
    for path in ("/instructor/class", "/instructor/grades", "/instructor/items",
                 f"/instructor/students/{student.user_id}"):
        assert student.get(server.url + path).status_code == 403, path
    for path, data in (("/instructor/grades/policy", {"policy": "latest"}),
                       ("/instructor/grades/resend", {}),
                       ("/instructor/class/roster", {}),
                       ("/lti/deep-link", {"activity": "mock:safety",
                                           "launch_id": student.launch_id})):
        r = student.post(server.url + path, data={**data, "csrf_token": student.csrf},
                         allow_redirects=False)
        assert r.status_code == 403, (path, r.status_code)
    # Nor the admin console: an LTI session is never an admin sign-in.
    r = student.get(server.url + "/admin/", allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/login")
    assert not changed_tables(before, snapshot(server))


@pytest.mark.parametrize("spoof", list(ESCALATIONS))
def test_role_escalation_through_other_claims_stays_a_learner(live_server, spoof):
    """Only the LTI roles claim decides the door (lti/roles.py); a learner who adds
    instructor or admin roles anywhere else is still a learner everywhere."""
    student = actor(live_server, "canvas", person_sub("canvas", "learner", 0),
                    ESCALATIONS[spoof])
    _assert_learner_everywhere(live_server, student)


@pytest.mark.parametrize("roles", [
    [LIS + "membership#Learner", LIS + "institution/person#Student", LIS + "system/person#User"],
    [LIS + "membership#Mentor"],  # a Canvas observer: the least privileged door
    [LIS + "membership#Learner", LIS + "system/person#User", "urn:lti:sysrole:ims/lis/User"],
    # Near misses of instructor role URIs: exact matches only.
    [LIS + "membership#instructor"], [LIS + "membership#Instructor "],
    ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor#Learner"],
    [LIS + "membership/Learner#Instructor"], ["https://purl.imsglobal.org/vocab/lis/v2/"
                                              "membership#Instructor"],
    [],
    # A student here who teaches another course (Canvas adds the institution role).
    [LIS + "membership#Learner", LIS + "institution/person#Instructor",
     LIS + "institution/person#Student", LIS + "system/person#User"],
], ids=["canvas-learner", "mentor", "system-user", "lowercase", "trailing-space", "suffixed",
        "learner-sub-role", "https-scheme", "no-roles", "teaches-elsewhere"])
def test_roles_that_name_no_staff_role_get_the_learner_door(live_server, roles):
    """roles.py matches role URIs exactly; anything it does not know is a learner."""

    def edit(claims: dict[str, Any]) -> None:
        claims[CLAIM + "roles"] = roles

    student = actor(live_server, "canvas", person_sub("canvas", "learner", 0), edit)
    _assert_learner_everywhere(live_server, student)


@pytest.mark.parametrize(("roles", "role"), [
    ([ADMIN], "admin"),
    ([LIS + "institution/person#Administrator", LIS + "membership#Learner"], "admin"),
    ([LIS + "institution/person#Instructor"], "instructor"),
], ids=["system-admin-only", "institution-admin-learner", "institution-instructor-only"])
def test_institution_and_system_roles_reach_only_the_launched_course(live_server, roles, role):
    """Policy of lti/roles.py (and tests/unit/test_roles.py): the most privileged role
    wins for administrators, so system/institution Administrator is the admin role (staff
    in auth.py: Moodle site admins teach), and an institution Instructor with no course
    role is staff (one with a course role is whatever that role says: see below).
    Whatever the door, it opens the launched course only, never another course or
    platform, and never the admin console."""
    server = live_server

    def edit(claims: dict[str, Any]) -> None:
        claims[CLAIM + "roles"] = roles

    staff = actor(server, "moodle", person_sub("moodle", "learner", 0), edit)
    assert staff.role == role and "Instructor overview" in staff.landing.text
    ana = actor(server, "canvas", person_sub("canvas", "learner", 0))
    olga = actor(server, "moodle", person_sub("moodle", "learner", 1), in_course(
        "moodle-other", "Another Moodle course"))
    for victim in (ana, olga):
        r = staff.get(f"{server.url}/instructor/students/{victim.user_id}")
        assert r.status_code == 404, r.status_code
    r = staff.get(server.url + "/admin/", allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/login")


# -- message type confusion -------------------------------------------------------------


def _attempts(server) -> int:
    with db_session(server) as db:
        return db.scalar(select(func.count()).select_from(Attempt)) or 0


def test_deep_linking_token_with_a_placed_activity_gives_a_learner_nothing(live_server):
    """A learner's DeepLinkingRequest that also carries a resource link and custom
    parameters of a placed drill: refused as Deep Linking, and the drill it names is not
    started on the way (the launch's transaction is rolled back)."""
    server = live_server

    def placed(claims: dict[str, Any]) -> None:
        claims[CLAIM + "resource_link"] = {"id": "placed-1", "title": "Safety drill"}
        claims[CLAIM + "custom"].update({"activity": "drill", "module": "safety"})

    before = _attempts(server)
    _, r = signed_launch(server, "canvas", person_sub("canvas", "learner", 0), placed,
                         "LtiDeepLinkingRequest")
    assert_refused(r, "unsupported_message")
    assert "Add to course" not in r.text and 'name="activity"' not in r.text
    assert _attempts(server) == before
    with db_session(server) as db:  # no session was started for the refused launch
        assert db.scalar(select(func.count()).select_from(ToolSession)) == 0


def _with_dl_settings(claims: dict[str, Any]) -> None:
    claims[DL_SETTINGS] = {"deep_link_return_url": EVIL, "accept_types": ["ltiResourceLink"],
                           "accept_presentation_document_targets": ["iframe"],
                           "accept_multiple": True, "data": "smuggled"}


def test_resource_link_token_with_deep_linking_settings_gives_no_deep_linking(live_server):
    """An LtiResourceLinkRequest that smuggles deep_linking_settings: a learner lands on
    the student home; an instructor gets the overview, not the picker, and cannot make
    the tool sign a Deep Linking response to the smuggled return URL."""
    server = live_server
    student = actor(server, "canvas", person_sub("canvas", "learner", 0), _with_dl_settings)
    assert student.landing.url.split("?")[0].endswith("/home")
    assert "evil.example" not in student.landing.text
    r = student.post(server.url + "/lti/deep-link", data={
        "csrf_token": student.csrf, "launch_id": student.launch_id, "activity": "drill:safety"})
    assert r.status_code == 403

    teacher = actor(server, "canvas", person_sub("canvas", "instructor"), _with_dl_settings)
    assert "Instructor overview" in teacher.landing.text
    assert 'name="activity"' not in teacher.landing.text
    assert "evil.example" not in teacher.landing.text
    r = teacher.post(server.url + "/lti/deep-link", data={
        "csrf_token": teacher.csrf, "launch_id": teacher.launch_id, "activity": "drill:safety"})
    assert 400 <= r.status_code < 500, r.status_code
    assert "evil.example" not in r.text and "dl-return" not in r.text
    assert "JWT" not in r.text


def test_learner_submission_review_of_someone_else_is_refused(live_server):
    """A learner's LtiSubmissionReviewRequest naming a classmate in for_user."""
    server = live_server
    ben = person_sub("canvas", "learner", 1)

    def review_ben(claims: dict[str, Any]) -> None:
        claims[CLAIM + "for_user"] = {"user_id": ben}

    _, r = signed_launch(server, "canvas", person_sub("canvas", "learner", 0), review_ben,
                         "LtiSubmissionReviewRequest")
    assert_refused(r, "unsupported_message")


@pytest.mark.parametrize("message_type", [["LtiResourceLinkRequest"], {"a": 1}, None, 7,
                                          "ltiresourcelinkrequest", "LtiDeepLinkingResponse"],
                         ids=["list", "object", "null", "number", "lowercase", "response"])
def test_malformed_or_wrong_direction_message_types_are_refused(live_server, message_type):
    """A message type of the wrong shape, case or direction (a tool-to-platform response
    posted to the tool) is a clear 4xx, never a 500 or a landing page."""

    def edit(claims: dict[str, Any]) -> None:
        claims[CLAIM + "message_type"] = message_type

    _, r = signed_launch(live_server, "canvas", person_sub("canvas", "learner", 0), edit)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:500])
    assert "Traceback" not in r.text and "For your LMS administrator" in r.text


# -- open redirect on target_link_uri ----------------------------------------------------


def _offsite_targets(server) -> list[str]:
    host = urlsplit(server.url)
    return [
        EVIL, "//evil.example/x", "javascript:alert(document.domain)",
        "data:text/html,<script>alert(1)</script>", "/\\evil.example/x", "\\\\evil.example",
        "https:\\\\evil.example", "https://evil.example\\@127.0.0.1/",
        f"https://{host.hostname}:{host.port}/home",  # the tool host, other scheme
        f"http://{host.hostname}:1/home",  # the tool host, other port
        f"http://{host.hostname}:{host.port}@evil.example/",
        f"{server.url}.evil.example/", "  https://evil.example/", "HTTPS://EVIL.EXAMPLE/",
    ]


def _assert_stays_home(server, r: requests.Response) -> None:
    """No Location, meta refresh or script that takes the browser off the tool."""
    location = r.headers.get("Location", "")
    if location:
        parts = urlsplit(location)
        assert parts.scheme in ("", "http") and parts.netloc in ("", urlsplit(server.url).netloc)
        assert location.startswith("/") and not location.startswith(("//", "/\\")), location
        assert "\\" not in location and "evil" not in location.lower()
    body = r.text.lower()
    assert "evil.example" not in body and "javascript:alert" not in body
    assert not re.search(r'http-equiv=["\']?refresh', body)
    assert "location.href" not in body and "location.replace" not in body


@pytest.mark.parametrize("persona", ["learner", "instructor"])
def test_off_site_target_link_uri_never_redirects_there(live_server, persona):
    """Every launch lands on the tool's own page (or is refused), whatever target_link_uri
    says: the tool routes by its own URLs and custom parameters."""
    server = live_server
    for target in _offsite_targets(server):

        def edit(claims: dict[str, Any], target: str = target) -> None:
            claims[CLAIM + "target_link_uri"] = target

        _, r = signed_launch(server, "canvas", person_sub("canvas", persona), edit,
                             follow=False)
        assert r.status_code in (200, 303) or 400 <= r.status_code < 500, (target, r.status_code)
        _assert_stays_home(server, r)
        if r.status_code == 303:
            assert urlsplit(r.headers["Location"]).path == "/home", (target, r.headers)
        elif r.status_code == 200:
            assert "Instructor overview" in r.text


def test_off_site_target_link_uri_in_the_login_goes_only_to_the_platform(live_server):
    """The OIDC login sends the browser to the registered platform's auth URL with the
    tool's own launch URL as redirect_uri, whatever target_link_uri the login names."""
    server = live_server
    for key in ("moodle", "canvas"):
        pending = begin_launch(server, key)  # a real login, to learn the platform's params
        for target in _offsite_targets(server):
            params = {"iss": pending.claims()["iss"], "login_hint": pending.person_sub,
                      "target_link_uri": target,
                      "client_id": pending.platform.client_id,
                      "lti_deployment_id": pending.platform.deployment_id}
            if pending.platform.storage_target:
                params["lti_storage_target"] = pending.platform.storage_target
            r = requests.post(server.url + "/lti/login", data=params, allow_redirects=False,
                              timeout=TIMEOUT)
            assert r.status_code in (200, 302), (target, r.status_code, r.text[:300])
            storage = storage_config(r.text) if r.status_code == 200 else None
            location = storage["redirect"] if storage else r.headers.get("Location", "")
            assert location.startswith(server.lms_url + f"/sandbox/{key}/"), location
            assert "evil" not in location.lower()
            query = dict(p.split("=", 1) for p in urlsplit(location).query.split("&"))
            assert requests.utils.unquote(query["redirect_uri"]) == server.url + "/lti/launch"
            assert "evil.example" not in r.text.lower()
