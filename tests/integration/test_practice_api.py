"""The student API and pages over real HTTP, after a real launch from the sandbox LMS."""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from lti_helpers import full_launch

from lti_tool.sandbox.platforms import CANVAS, MOODLE

ANA, BEN = CANVAS.people[0].sub, CANVAS.people[1].sub


def _student(server, sub=ANA, platform="canvas"):
    s = requests.Session()
    r = full_launch(server, platform, sub, session=s)
    assert r.status_code == 200, r.text[:500]
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', r.text).group(1)
    s.headers["X-CSRF-Token"] = csrf
    return s, r


def _api(server, path):
    return f"{server.url}/api{path}"


def test_launch_lands_on_home_with_modules(live_server):
    s, r = _student(live_server)
    assert "Welcome, Ana" in r.text and CANVAS.context_title in r.text
    for title in ("Safety", "Quality Practices &amp; Measurement", "Green Production"):
        assert title in r.text


def test_start_answer_submit_review(live_server):
    s, _ = _student(live_server)
    r = s.post(_api(live_server, "/attempts"), json={"mode": "practice", "module_id": "safety",
                                                      "size": 5})
    assert r.status_code == 201, r.text
    attempt = r.json()
    assert attempt["items"] == 5 and attempt["status"] == "open"
    for n in range(5):
        item = s.get(_api(live_server, f"/attempts/{attempt['id']}/item")).json()["item"]
        assert item["position"] == n + 1 and len(item["options"]) == 4
        assert "correct" not in str(item["options"]) and "rationale" not in str(item)
        key = uuid.uuid4().hex
        body = {"item_id": item["id"], "choice": n % 4, "idempotency_key": key}
        first = s.post(_api(live_server, f"/attempts/{attempt['id']}/answers"), json=body)
        again = s.post(_api(live_server, f"/attempts/{attempt['id']}/answers"), json=body)
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json()["feedback"] is None  # practice tests: feedback at the end
        upcoming = first.json()["next_item"]
        assert (upcoming is None) if n == 4 else (upcoming["position"] == n + 2)
    done = s.post(_api(live_server, f"/attempts/{attempt['id']}/submit")).json()
    assert done["status"] == "submitted" and done["score_max"] == 5
    assert len(done["review"]) == 5
    assert all(len(r["options"]) == 4 and all(o["rationale"] for o in r["options"])
               for r in done["review"])
    assert sum(a["total"] for a in done["by_activity"]) == 5


def test_drill_gives_immediate_feedback(live_server):
    s, _ = _student(live_server)
    attempt = s.post(_api(live_server, "/attempts"), json={
        "mode": "drill", "module_id": "quality", "key_activity_id": "quality.measurement"}
    ).json()
    item = s.get(_api(live_server, f"/attempts/{attempt['id']}/item")).json()["item"]
    r = s.post(_api(live_server, f"/attempts/{attempt['id']}/answers"), json={
        "item_id": item["id"], "choice": 2, "idempotency_key": uuid.uuid4().hex})
    feedback = r.json()["feedback"]
    assert feedback["chosen"] == 2 and 0 <= feedback["answer"] <= 3
    assert len(feedback["rationales"]) == 4
    mastery = s.get(_api(live_server, "/mastery")).json()
    measured = next(a for a in mastery["activities"]
                    if a["key_activity_id"] == "quality.measurement")
    assert measured["evidence"] == 1


def test_writes_need_the_csrf_token(live_server):
    s, _ = _student(live_server)
    del s.headers["X-CSRF-Token"]
    r = s.post(_api(live_server, "/attempts"), json={"mode": "drill", "module_id": "safety"})
    assert r.status_code == 403 and r.json()["error_code"] == "forbidden"


def test_no_session_is_401_json(live_server):
    r = requests.get(_api(live_server, "/mastery"))
    assert r.status_code == 401 and "message" in r.json()


def test_another_student_cannot_touch_my_attempt(live_server):
    ana, _ = _student(live_server, ANA)
    ben, _ = _student(live_server, BEN)
    attempt = ana.post(_api(live_server, "/attempts"),
                       json={"mode": "practice", "module_id": "safety", "size": 3}).json()
    item = ana.get(_api(live_server, f"/attempts/{attempt['id']}/item")).json()["item"]
    for method, path, body in (
            ("get", f"/attempts/{attempt['id']}", None),
            ("get", f"/attempts/{attempt['id']}/item", None),
            ("get", f"/attempts/{attempt['id']}/results", None),
            ("post", f"/attempts/{attempt['id']}/answers",
             {"item_id": item["id"], "choice": 0, "idempotency_key": uuid.uuid4().hex}),
            ("post", f"/attempts/{attempt['id']}/submit", None)):
        r = getattr(ben, method)(_api(live_server, path), json=body)
        assert r.status_code == 404, (path, r.status_code)
        assert r.json()["error_code"] == "not_found"
    still = ana.get(_api(live_server, f"/attempts/{attempt['id']}")).json()
    assert still["status"] == "open"


def test_session_header_works_without_cookies(live_server):
    s, r = _student(live_server, MOODLE.people[0].sub, "moodle")
    # The landing URL carried the id until the cookie came back (then it was dropped).
    sid = re.search(r"[?&]s=([A-Za-z0-9_-]+)", r.history[0].headers["Location"]).group(1)
    assert sid == s.cookies["cpt_session"] and "s=" not in r.url
    bare = requests.Session()
    bare.headers.update({"X-CPT-Session": sid, "X-CSRF-Token": s.headers["X-CSRF-Token"]})
    r = bare.post(_api(live_server, "/attempts"), json={"mode": "drill", "module_id": "green"})
    assert r.status_code == 201
    page = requests.get(f"{live_server.url}/home", params={"s": sid})
    assert page.status_code == 200 and f"s={sid}" in page.text  # links keep the session


def test_bad_requests_are_json_errors(live_server):
    s, _ = _student(live_server)
    for body in ({"mode": "nap", "module_id": "safety"}, {"mode": "drill", "module_id": "x"},
                 {"mode": "practice", "module_id": "safety", "size": 1000}):
        r = s.post(_api(live_server, "/attempts"), json=body)
        assert 400 <= r.status_code < 500 and r.json()["message"]


def test_openapi_document_lists_the_api(live_server):
    doc = requests.get(_api(live_server, "/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    for path in ("/api/attempts", "/api/attempts/{attempt_id}/answers", "/api/mastery"):
        assert path in doc["paths"]


@pytest.mark.parametrize("mode", ["drill", "practice", "mock"])
def test_pages_play_an_attempt_without_javascript(live_server, mode):
    s, home = _student(live_server)
    csrf = s.headers["X-CSRF-Token"]
    page = s.get(f"{live_server.url}/modules/maintenance")
    assert page.status_code == 200 and "Maintenance Awareness" in page.text
    form = {"csrf_token": csrf, "module_id": "maintenance", "mode": mode}
    if mode == "drill":
        form["key_activity_id"] = "maintenance.hydraulic"
    player = s.post(f"{live_server.url}/attempts", data=form)
    assert player.status_code == 200 and "Question 1" in player.text
    if mode == "mock":
        assert 'role="timer"' in player.text
        seconds = int(re.search(r'data-seconds="(\d+)"', player.text).group(1))
        assert 90 * 60 - 30 <= seconds <= 90 * 60  # the module's 90 minutes, server time
    item_id = re.search(r'name="item_id" value="([^"]+)"', player.text).group(1)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', player.text).group(1)
    answer_url = re.search(r'<form method="post" action="([^"]+/answer[^"]*)"',
                           player.text).group(1).replace("&amp;", "&")
    r = s.post(live_server.url + answer_url, data={
        "csrf_token": csrf, "item_id": item_id, "choice": "1", "position": "1",
        "idempotency_key": key})
    assert r.status_code == 200
    if mode == "drill":
        assert "best answer" in r.text and 'aria-live="polite"' in r.text
    else:
        assert "Question 2" in r.text
    if mode == "drill":
        submit_url = re.search(r'<form method="post" action="([^"]+/submit[^"]*)"',
                               player.text).group(1)
    else:  # a test or exam is submitted from the page that shows what is left first
        review_url = re.search(r'<a class="button" href="([^"]+/submit[^"]*)">Review and '
                               r'submit', r.text).group(1).replace("&amp;", "&")
        review = s.get(live_server.url + review_url)
        assert "Check before you submit" in review.text and "Question 2</a>" in review.text
        submit_url = re.search(r'<form method="post" action="([^"]+/submit[^"]*)"',
                               review.text).group(1)
        # Without the confirm field (a stray submit) nothing is scored: back to the check.
        stray = s.post(live_server.url + submit_url.replace("&amp;", "&"),
                       data={"csrf_token": csrf})
        assert "Check before you submit" in stray.text
    done = s.post(live_server.url + submit_url.replace("&amp;", "&"),
                  data={"csrf_token": csrf, "confirm": "yes"})
    assert done.status_code == 200 and "Your results" in done.text
