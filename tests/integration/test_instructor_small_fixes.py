"""Small things an instructor notices: saving extra time says what was saved, the
Deep Linking picker lists modules in blueprint order, and an attempt review names the
student's answer as the student's (the student's own results keep "your choice")."""

from __future__ import annotations

import html
import re
import uuid

import requests
from instructor_support import at, staff
from lti_helpers import full_launch
from test_deep_linking import _deep_link_launch, _instructor

from lti_tool.curriculum.modules import modules as blueprint_modules
from lti_tool.sandbox.platforms import CANVAS, MOODLE

ANA = CANVAS.people[0]


def test_saving_extra_time_confirms_what_was_saved(live_server):
    full_launch(live_server, "canvas", ANA.sub)
    s, csrf, url = staff(live_server, CANVAS)
    user_id = re.search(r"/instructor/students/(\d+)", s.get(url).text).group(1)
    page = s.get(at(url, f"/instructor/students/{user_id}"))
    assert 'role="status"' not in page.text  # nothing saved yet, nothing said
    saved = s.post(at(url, f"/instructor/students/{user_id}/time"),
                   data={"csrf_token": csrf, "multiplier": "1.5"})
    assert saved.status_code == 200 and "saved=1" in saved.url  # after the redirect
    status = re.search(r'<p class="ok" role="status">([^<]+)</p>', saved.text).group(1)
    assert html.unescape(status) == (
        "Saved: Ana Reyes gets 1.5× time (135 minutes on a 90-minute mock exam; "
        "67.5 minutes on a 45-minute mock exam).")
    back = s.post(at(url, f"/instructor/students/{user_id}/time"),
                  data={"csrf_token": csrf, "multiplier": "1"})
    assert "Saved: Ana Reyes gets standard time (90 minutes on a 90-minute mock exam; " \
           "45 minutes on a 45-minute mock exam)." in html.unescape(back.text)


def test_picker_lists_modules_in_blueprint_order(live_server):
    _, picker = _deep_link_launch(live_server, MOODLE, _instructor(MOODLE))
    legends = re.findall(r"<legend>([^<]+)</legend>", picker.text)
    expected = [m.title for m in blueprint_modules()]
    assert [html.unescape(legend) for legend in legends] == expected
    # Required modules first, then the optional Green module (not alphabetical: Green
    # would come first).
    assert all(m.required for m in blueprint_modules()[:-1])
    assert not blueprint_modules()[-1].required and legends[0] == "Safety"


def test_attempt_review_labels_the_students_answer(live_server):
    student = requests.Session()
    home = full_launch(live_server, "canvas", ANA.sub, session=student)
    student.headers["X-CSRF-Token"] = re.search(
        r'name="csrf-token" content="([^"]+)"', home.text).group(1)
    attempt = student.post(f"{live_server.url}/api/attempts",
                           json={"mode": "practice", "module_id": "safety", "size": 3}).json()
    for _ in range(3):
        item = student.get(f"{live_server.url}/api/attempts/{attempt['id']}/item").json()
        student.post(f"{live_server.url}/api/attempts/{attempt['id']}/answers", json={
            "item_id": item["item"]["id"], "choice": 1, "idempotency_key": uuid.uuid4().hex})
    student.post(f"{live_server.url}/api/attempts/{attempt['id']}/submit")
    mine = student.get(f"{live_server.url}/attempts/{attempt['id']}/results")
    assert mine.text.count("your choice") == 3 and "Student&#39;s answer" not in mine.text
    s, _, url = staff(live_server, CANVAS)
    review = s.get(at(url, f"/instructor/attempts/{attempt['id']}"))
    assert review.status_code == 200 and "Attempt review" in review.text
    text = html.unescape(review.text)
    assert text.count("Student's answer") == 3 and "your choice" not in text
    assert ANA.name in text and "Practice test" in text
