"""The instructor's class overview, with the roster fetched from the LMS over NRPS."""

from __future__ import annotations

import re

import requests
from lti_helpers import full_launch

from lti_tool.sandbox.platforms import CANVAS, MOODLE
from lti_tool.sandbox.services import ROSTER_ONLY


def _staff(server, platform):
    person = next(p for p in platform.people if p.persona == "instructor")
    s = requests.Session()
    landing = full_launch(server, platform.key, person.sub, session=s)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', landing.text).group(1)
    href = re.search(r'href="([^"]*/instructor/class[^"]*)"', landing.text).group(1)
    return s, csrf, server.url + href.replace("&amp;", "&")


def test_roster_lists_students_who_never_launched(live_server):
    for platform in (MOODLE,):
        full_launch(live_server, platform.key, platform.people[0].sub)  # Maria launches
        s, csrf, url = _staff(live_server, platform)
        before = s.get(url)
        assert before.status_code == 200 and "not synced yet" in before.text
        assert platform.people[0].name in before.text
        assert ROSTER_ONLY[0][1] not in before.text
        refresh = url.replace("/instructor/class", "/instructor/class/roster")
        after = s.post(refresh, data={"csrf_token": csrf})
        assert after.status_code == 200 and "last synced" in after.text
        for _, given, family in ROSTER_ONLY:
            assert f"{given} {family}" in after.text
        tom = platform.people[1]  # enrolled learner who never opened the tool
        row = re.search(rf"{tom.name}</th>\s*<td>([^<]+)</td>", after.text)
        assert row and row.group(1) == "not started"
        assert s.post(refresh, data={"csrf_token": "nope"}).status_code == 403


def test_learners_cannot_see_the_class(live_server):
    s = requests.Session()
    full_launch(live_server, "canvas", CANVAS.people[0].sub, session=s)
    assert s.get(f"{live_server.url}/instructor/class").status_code == 403
    assert s.post(f"{live_server.url}/instructor/class/roster").status_code == 403


def test_heat_map_item_analysis_csv_and_review(live_server):
    import csv
    import io
    import uuid

    ana = CANVAS.people[0]
    student = requests.Session()
    home = full_launch(live_server, "canvas", ana.sub, session=student)
    student.headers["X-CSRF-Token"] = re.search(
        r'name="csrf-token" content="([^"]+)"', home.text).group(1)
    attempt = student.post(f"{live_server.url}/api/attempts",
                           json={"mode": "practice", "module_id": "safety", "size": 6}).json()
    for n in range(6):
        item = student.get(f"{live_server.url}/api/attempts/{attempt['id']}/item").json()
        student.post(f"{live_server.url}/api/attempts/{attempt['id']}/answers", json={
            "item_id": item["item"]["id"], "choice": n % 4,
            "idempotency_key": uuid.uuid4().hex})
    student.post(f"{live_server.url}/api/attempts/{attempt['id']}/submit")
    s, csrf, url = _staff(live_server, CANVAS)
    page = s.get(url)
    assert 'class="heat"' in page.text and "Mastery heat map" in page.text
    assert "<title>Class overview · CPT Practice</title>" in page.text
    heat = page.text.split('class="heat"')[1]
    assert f'<th scope="row">{ana.name}</th>' in heat  # her row of the heat map
    exported = s.get(url + ("&" if "?" in url else "?") + "format=csv")
    assert exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0][:4] == ["student", "status", "launched", "attempts"]
    assert any(r[0] == ana.name and r[3] == "1" for r in rows[1:])
    items_url = url.replace("/instructor/class", "/instructor/items")
    analysis = s.get(items_url)
    assert analysis.status_code == 200 and "Facility" in analysis.text
    item_rows = list(csv.reader(io.StringIO(s.get(
        items_url + ("&" if "?" in items_url else "?") + "format=csv").text)))
    assert len(item_rows) == 7 and all(r[2] == "1" for r in item_rows[1:])
    student_href = re.search(r'href="([^"]*/instructor/students/\d+[^"]*)"', page.text)
    review_page = s.get(live_server.url + student_href.group(1).replace("&amp;", "&"))
    review_href = re.search(r'href="([^"]*/instructor/attempts/[^"]+)"', review_page.text)
    review = s.get(live_server.url + review_href.group(1).replace("&amp;", "&"))
    assert review.status_code == 200 and "Attempt review" in review.text
    assert review.text.count("best answer") >= 6


def test_instructor_grants_extra_time_and_the_server_applies_it(live_server):
    ana = CANVAS.people[0]
    student = requests.Session()
    home = full_launch(live_server, "canvas", ana.sub, session=student)
    csrf_student = re.search(r'name="csrf-token" content="([^"]+)"', home.text).group(1)
    s, csrf, url = _staff(live_server, CANVAS)
    page = s.get(url)
    student_href = re.search(r'href="([^"]*/instructor/students/(\d+)[^"]*)"', page.text)
    user_id = student_href.group(2)
    base_q = student_href.group(1).split("?", 1)
    time_url = f"{live_server.url}/instructor/students/{user_id}/time" + (
        "?" + base_q[1].replace("&amp;", "&") if len(base_q) > 1 else "")
    assert s.post(time_url, data={"csrf_token": csrf, "multiplier": "3"}).status_code == 400
    saved = s.post(time_url, data={"csrf_token": csrf, "multiplier": "1.5"})
    assert saved.status_code == 200 and 'value="1.5" selected' in saved.text
    student.headers["X-CSRF-Token"] = csrf_student
    attempt = student.post(f"{live_server.url}/api/attempts",
                           json={"mode": "mock", "module_id": "quality"}).json()
    assert attempt["time_multiplier"] == 1.5
    assert 135 * 60 - 30 <= attempt["seconds_left"] <= 135 * 60
    player = student.get(f"{live_server.url}/attempts/{attempt['id']}")
    assert "135 minutes, extended from 90" in player.text
    # Only staff can change it.
    r = student.post(time_url.split("?")[0], data={"csrf_token": csrf_student,
                                                   "multiplier": "2"})
    assert r.status_code == 403
