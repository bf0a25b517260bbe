"""Course copy, as Canvas and Moodle do it (issue 19, defect 5).

The sandbox LMS copies a course (sandbox/copies.py): a new context id, new resource link
ids, the same custom parameters, new gradebook columns without results, and the history
substitutions each LMS really makes: Canvas fills ``$ResourceLink.id.history`` and
``$Context.id.history`` (most recent first); Moodle fills only ``$Context.id.history`` and
sends ``$ResourceLink.id.history`` as it is. A copied link must start with the placement
and grading policy of the link it copies, and with none of its students' work.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urljoin

import jwt
import requests
from factories import db_sessions
from lti_helpers import begin_launch, full_launch, instructor, place, storage_config
from sqlalchemy import func, select
from support import parse_form

from lti_tool.db import transaction
from lti_tool.delivery.outbound import OutboundPolicy
from lti_tool.delivery.worker import OutboxWorker
from lti_tool.models import (
    Attempt,
    Course,
    CurriculumItem,
    Deployment,
    GradingPolicy,
    Platform,
    ResourceLink,
)
from lti_tool.sandbox.copies import copy_course
from lti_tool.sandbox.models import SandboxPlacedLink, SandboxResult
from lti_tool.sandbox.platforms import CANVAS, MOODLE, SandboxPlatform

CUSTOM = "https://purl.imsglobal.org/spec/lti/claim/custom"


def _copy(server, platform: SandboxPlatform, context_id: str | None = None,
          keep_custom: bool = True) -> tuple[str, dict[str, str]]:
    engine, sessions = db_sessions(server)
    try:
        with transaction(sessions) as db:
            return copy_course(db, platform, context_id, keep_custom=keep_custom)
    finally:
        engine.dispose()


def _tool_link(server, platform: SandboxPlatform, link_id: str) -> dict | None:
    """The tool's row for ``link_id`` of ``platform``'s deployment, as plain data."""
    engine, sessions = db_sessions(server)
    try:
        with transaction(sessions) as db:
            row = db.scalars(select(ResourceLink).join(Course).join(Deployment).join(
                Platform).where(Platform.client_id == platform.client_id,
                                ResourceLink.link_id == link_id)).first()
            if row is None:
                return None
            attempts = db.scalar(select(func.count(Attempt.id)).where(
                Attempt.resource_link_id == row.id))
            return {"id": row.id, "policy": row.grading_policy,
                    "copied_from_id": row.copied_from_id, "carried": row.carried_placement,
                    "context_id": db.get(Course, row.course_id).context_id,
                    "course_id": row.course_id, "attempts": attempts, "custom": row.custom}
    finally:
        engine.dispose()


def _launch(server, platform: SandboxPlatform, person, link_id: str,
            session: requests.Session | None = None) -> tuple[requests.Response, dict]:
    """A launch of ``link_id`` like a browser's: the landing page and the id_token's claims."""
    s = session or requests.Session()
    page = s.get(f"{server.url}/sandbox/{platform.key}/launch/frame",
                 params={"user": person.sub, "link": link_id})
    action, fields = parse_form(page.text)
    r = s.post(action, data=fields)
    if storage_config(r.text):
        r = s.get(storage_config(r.text)["redirect"])
    action, fields = parse_form(r.text)
    claims = jwt.decode(fields["id_token"], options={"verify_signature": False})
    return s.post(action, data=fields), claims


def _set_policy(server, platform: SandboxPlatform, link_id: str, policy: str) -> None:
    s = requests.Session()
    landing = full_launch(server, platform.key, instructor(platform).sub, link=link_id,
                          session=s)
    assert "Grades for this activity" in landing.text
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', landing.text).group(1)
    href = re.search(r'href="([^"]*/instructor/grades[^"]*)"', landing.text).group(1)
    url = server.url + href.replace("&amp;", "&").replace("/instructor/grades",
                                                         "/instructor/grades/policy")
    assert s.post(url, data={"csrf_token": csrf, "policy": policy}).status_code == 200


def _take_practice(server, platform: SandboxPlatform, person, link_id: str) -> None:
    """``person`` takes the placed practice test of ``link_id`` and submits it."""
    s = requests.Session()
    landed, _ = _launch(server, platform, person, link_id, s)
    assert "/attempts/new" in landed.url, landed.url
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', landed.text).group(1)
    action, fields = parse_form(landed.text)
    started = s.post(urljoin(landed.url, action), data=fields)
    attempt_id = started.url.split("/attempts/")[1].split("?")[0]
    s.headers["X-CSRF-Token"] = csrf
    engine, sessions = db_sessions(server)
    with transaction(sessions) as db:
        plan = db.get(Attempt, attempt_id).item_ids
        keys = {i: next(n for n, o in enumerate(db.get(CurriculumItem, i).options)
                        if o["correct"]) for i in plan}
    engine.dispose()
    for item_id in plan:
        assert s.post(f"{server.url}/api/attempts/{attempt_id}/answers", json={
            "item_id": item_id, "choice": keys[item_id],
            "idempotency_key": uuid.uuid4().hex}).status_code == 201
    assert s.post(f"{server.url}/api/attempts/{attempt_id}/submit").status_code == 200


def test_canvas_copy_carries_the_placement_and_policy_never_the_work(live_server):
    old = f"placed-{place(live_server, CANVAS)}"
    _set_policy(live_server, CANVAS, old, "latest")
    student = CANVAS.people[0]
    _take_practice(live_server, CANVAS, student, old)
    before = _tool_link(live_server, CANVAS, old)
    assert before["policy"] == GradingPolicy.LATEST and before["attempts"] == 1

    context, links = _copy(live_server, CANVAS)
    new = links[old]
    landed, claims = _launch(live_server, CANVAS, student, new)
    # Canvas substitutes both histories, most recent first.
    assert claims[CUSTOM]["resource_link_history"] == old
    assert claims[CUSTOM]["context_history"] == CANVAS.context_id
    assert claims["https://purl.imsglobal.org/spec/lti/claim/context"]["id"] == context
    # The copied practice test opens on its start screen, graded, with nothing of before.
    assert "/attempts/new" in landed.url
    assert "This counts toward the grade your instructor set for this link." in landed.text
    copied = _tool_link(live_server, CANVAS, new)
    assert copied["context_id"] == context and copied["course_id"] != before["course_id"]
    assert copied["copied_from_id"] == before["id"]
    assert copied["policy"] == GradingPolicy.LATEST  # the instructor's choice came along
    assert copied["attempts"] == 0  # the students' work did not
    assert copied["carried"] is None  # the copy kept its own custom: nothing to carry

    # A grade on the copy goes to the copy's own column, under the carried policy.
    _take_practice(live_server, CANVAS, student, new)
    engine, sessions = db_sessions(live_server)
    worker = OutboxWorker(sessions, live_server.app.extensions["cpt_lti"].clock, 5.0,
                          policy=OutboundPolicy.from_settings(live_server.settings))
    assert worker.run_once().failed == 0
    with transaction(sessions) as db:
        def results(link_id: str) -> list[SandboxResult]:
            row = db.get(SandboxPlacedLink, int(link_id.removeprefix("placed-")))
            return list(db.scalars(select(SandboxResult).where(
                SandboxResult.line_item_id == row.line_item_id)))
        [mine] = results(new)
        assert (mine.user_id, mine.score_given) == (student.sub, 25.0)
        assert [r.score_given for r in results(old)] == [25.0]  # the old column untouched
    engine.dispose()


def test_moodle_copy_is_matched_by_the_course_history(live_server):
    """Moodle substitutes ``$Context.id.history`` (the course's ``originalcourseid``
    chain) but sends ``$ResourceLink.id.history`` as it is: the source is the link of the
    source course with the same placement and title."""
    old = f"placed-{place(live_server, MOODLE)}"
    place(live_server, MOODLE, "mock:safety")  # another link of the course: not a match
    _set_policy(live_server, MOODLE, old, "average")
    _launch(live_server, MOODLE, MOODLE.people[0], old)

    context, links = _copy(live_server, MOODLE)
    landed, claims = _launch(live_server, MOODLE, MOODLE.people[0], links[old])
    assert claims[CUSTOM]["resource_link_history"] == "$ResourceLink.id.history"
    assert claims[CUSTOM]["context_history"] == MOODLE.context_id
    assert landed.status_code == 200 and "/attempts/new" in landed.url
    copied = _tool_link(live_server, MOODLE, links[old])
    assert copied["context_id"] == context
    assert copied["copied_from_id"] == _tool_link(live_server, MOODLE, old)["id"]
    assert copied["policy"] == GradingPolicy.AVERAGE and copied["attempts"] == 0


def test_a_copy_that_dropped_the_custom_parameters_gets_the_activity(live_server):
    """A copy whose link lost its own custom parameters (only the tool-level history
    requests remain) still opens the placed activity and grades it."""
    old = f"placed-{place(live_server, CANVAS, 'practice:quality')}"
    _set_policy(live_server, CANVAS, old, "latest")
    _, links = _copy(live_server, CANVAS, keep_custom=False)
    landed, claims = _launch(live_server, CANVAS, CANVAS.people[1], links[old])
    assert "activity" not in claims[CUSTOM]
    assert "/attempts/new" in landed.url and "quality" in landed.url
    assert "This counts toward the grade your instructor set for this link." in landed.text
    copied = _tool_link(live_server, CANVAS, links[old])
    assert copied["carried"] == {"activity": "practice", "module": "quality", "size": "25"}
    assert copied["policy"] == GradingPolicy.LATEST


def test_a_copy_of_a_copy_takes_the_nearest_known_link(live_server):
    """History lists the most recent source first; a source the tool never saw (the
    middle course was never opened) is skipped for the next older one."""
    first = f"placed-{place(live_server, CANVAS)}"
    _set_policy(live_server, CANVAS, first, "average")
    middle_context, middle = _copy(live_server, CANVAS)
    _, last = _copy(live_server, CANVAS, middle_context)
    newest = last[middle[first]]
    _, claims = _launch(live_server, CANVAS, CANVAS.people[0], newest)
    assert claims[CUSTOM]["resource_link_history"] == f"{middle[first]},{first}"
    copied = _tool_link(live_server, CANVAS, newest)
    assert copied["copied_from_id"] == _tool_link(live_server, CANVAS, first)["id"]
    assert copied["policy"] == GradingPolicy.AVERAGE


def test_unsubstituted_history_is_no_history(live_server):
    """A platform that substitutes neither variable (Open edX) sends the literals: the
    launch works and the new link starts with the defaults."""
    known = f"placed-{place(live_server, CANVAS)}"
    _set_policy(live_server, CANVAS, known, "latest")
    pending = begin_launch(live_server, "canvas")
    claims = pending.claims()
    claims["https://purl.imsglobal.org/spec/lti/claim/resource_link"]["id"] = "edx-block-7"
    claims[CUSTOM].update({"activity": "practice", "module": "safety",
                           "resource_link_history": "$ResourceLink.id.history",
                           "context_history": "$Context.id.history"})
    r = pending.post(pending.sign(claims))
    assert r.status_code == 200 and "/attempts/new" in r.url
    link = _tool_link(live_server, CANVAS, "edx-block-7")
    assert link["copied_from_id"] is None and link["policy"] == GradingPolicy.BEST


def test_another_platform_cannot_claim_a_link_by_its_id(live_server):
    """Moodle's deployment names the Canvas course and link in its histories: it finds
    nothing (sources are looked up in the launch's own deployment only)."""
    canvas_link = f"placed-{place(live_server, CANVAS)}"
    _set_policy(live_server, CANVAS, canvas_link, "latest")
    pending = begin_launch(live_server, "moodle")
    claims = pending.claims()
    claims["https://purl.imsglobal.org/spec/lti/claim/resource_link"]["id"] = "lti-99"
    # The same placement and title as the Canvas link: only the deployment differs.
    claims["https://purl.imsglobal.org/spec/lti/claim/resource_link"]["title"] = (
        "Safety: practice test")
    claims[CUSTOM].update({"activity": "practice", "module": "safety", "size": "25",
                           "resource_link_history": canvas_link,
                           "context_history": CANVAS.context_id})
    assert pending.post(pending.sign(claims)).status_code == 200
    link = _tool_link(live_server, MOODLE, "lti-99")
    assert link["copied_from_id"] is None and link["policy"] == GradingPolicy.BEST
    assert _tool_link(live_server, CANVAS, canvas_link)["policy"] == GradingPolicy.LATEST
