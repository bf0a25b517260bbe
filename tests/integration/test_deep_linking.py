"""Deep Linking end to end: an instructor picks activities in the tool, the sandbox LMS
verifies the signed response and places them, and a student's launch of a placed link
opens that activity directly."""

from __future__ import annotations

import jwt
import requests
from lti_helpers import deep_link_picker as _deep_link_launch
from lti_helpers import instructor as _instructor
from support import parse_form

from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.sandbox.models import SandboxLineItem, SandboxPlacedLink
from lti_tool.sandbox.platforms import CANVAS, MOODLE


def test_instructor_places_graded_activities(live_server):
    s, picker = _deep_link_launch(live_server, MOODLE, _instructor(MOODLE))
    assert picker.status_code == 200 and "Add CPT Practice activities" in picker.text
    assert "Safety: practice test" in picker.text and "graded, 25 points" in picker.text
    action, fields = parse_form(picker.text)
    fields["activity"] = ["practice:safety", "lessons:quality"]
    back = s.post(live_server.url + action.replace("&amp;", "&"), data=fields)
    assert back.status_code == 200
    return_url, form = parse_form(back.text)
    assert return_url.endswith("/sandbox/moodle/mod/lti/contentitem_return.php")
    claims = jwt.decode(form["JWT"], options={"verify_signature": False})
    assert claims["iss"] == MOODLE.client_id and claims["aud"] == [
        MOODLE.issuer(live_server.settings)]
    items = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    graded = next(i for i in items if i["custom"]["activity"] == "practice")
    assert graded["lineItem"] == {"label": "Safety: practice test", "scoreMaximum": 25,
                                  "resourceId": "practice:safety", "tag": "cpt-practice"}
    assert graded["custom"]["resource_link_history"] == "$ResourceLink.id.history"
    ungraded = next(i for i in items if i["custom"]["activity"] == "lessons")
    assert "lineItem" not in ungraded
    placed = s.post(return_url, data=form)  # the sandbox verifies against /lti/jwks
    assert placed.status_code == 200 and "2 activities added" in placed.text
    engine = make_engine(live_server.settings.database_url)
    with transaction(make_session_factory(engine)) as db:
        links = {link.title: link for link in db.query(SandboxPlacedLink)}
        assert set(links) == {"Safety: practice test", "Quality Practices & Measurement: lessons"}
        item = db.get(SandboxLineItem, links["Safety: practice test"].line_item_id)
        assert item.resource_id == "practice:safety" and item.score_maximum == 25
        placed_id = links["Safety: practice test"].id
    engine.dispose()

    # A student opens the placed practice test straight from the course.
    student = MOODLE.people[0]
    r = requests.Session()
    page = r.get(f"{live_server.url}/sandbox/moodle/launch/frame",
                 params={"user": student.sub, "link": f"placed-{placed_id}"})
    action, fields = parse_form(page.text)
    auth = r.post(action, data=fields)
    action, fields = parse_form(auth.text)
    token = jwt.decode(fields["id_token"], options={"verify_signature": False})
    ags = token["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"]
    assert ags["lineitem"].endswith(f"/lineitems/{item.id}/lineitem")
    assert token["https://purl.imsglobal.org/spec/lti/claim/custom"]["activity"] == "practice"
    landed = r.post(action, data=fields)
    assert landed.status_code == 200
    # The placed practice test opens on its start screen: 25 questions, counted for a grade.
    assert "Practice test" in landed.text and "<dt>Questions</dt><dd>25</dd>" in landed.text
    assert "This counts toward the grade your instructor set for this link." in landed.text


def test_learner_cannot_deep_link(live_server):
    """The sandbox offers the button to teachers only; a forged learner request is refused
    by the tool with a page, not a picker."""
    from lti_helpers import begin_launch

    pending = begin_launch(live_server, "canvas")
    claims = pending.claims("LtiDeepLinkingRequest")
    r = pending.post(pending.sign(claims))
    assert r.status_code == 400 and "<code>unsupported_message</code>" in r.text
    assert "Add to course" not in r.text


def test_picks_need_the_launch_they_belong_to(live_server):
    s, picker = _deep_link_launch(live_server, CANVAS, _instructor(CANVAS))
    action, fields = parse_form(picker.text)
    fields["activity"] = "mock:safety"
    fields["launch_id"] = "lti1p3-launch-not-mine"
    r = s.post(live_server.url + action.replace("&amp;", "&"), data=fields)
    assert r.status_code == 403
    fields["launch_id"], fields["activity"] = parse_form(picker.text)[1]["launch_id"], "bogus"
    r = s.post(live_server.url + action.replace("&amp;", "&"), data=fields)
    assert r.status_code == 400


def test_learner_session_cannot_post_picks(live_server):
    """A student's session cannot answer a Deep Linking launch (instructor-only route)."""
    from lti_helpers import full_launch

    s = requests.Session()
    r = full_launch(live_server, "canvas", CANVAS.people[0].sub, session=s)
    csrf = r.text.split('name="csrf-token" content="')[1].split('"')[0]
    r = s.post(f"{live_server.url}/lti/deep-link", data={
        "csrf_token": csrf, "launch_id": "x", "activity": "mock:safety"})
    assert r.status_code == 403 and "for instructors" in r.text
