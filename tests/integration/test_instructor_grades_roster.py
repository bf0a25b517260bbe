"""The grades page of a graded link lists the whole roster the tool knows (NRPS-synced
students who never launched too) and says truthfully when a student did the activity
from another link, where it is not graded."""

from __future__ import annotations

import csv
import io
import re
import uuid

import requests
from instructor_support import at
from lti_helpers import full_launch
from test_grade_passback import _instructor_session, _place, _take_practice

from lti_tool.sandbox.platforms import MOODLE
from lti_tool.sandbox.services import ROSTER_ONLY

MARIA, TOM = MOODLE.people[0], MOODLE.people[1]
ELSEWHERE = "Did this activity from another link (not graded here)"


def _practice_from_home(server, person, size: int = 25) -> None:
    """A full-size Safety practice test started from the course's home link, not from
    the graded link."""
    s = requests.Session()
    home = full_launch(server, "moodle", person.sub, session=s)
    s.headers["X-CSRF-Token"] = re.search(r'name="csrf-token" content="([^"]+)"',
                                          home.text).group(1)
    attempt = s.post(f"{server.url}/api/attempts",
                     json={"mode": "practice", "module_id": "safety", "size": size}).json()
    for _ in range(size):
        item = s.get(f"{server.url}/api/attempts/{attempt['id']}/item").json()
        assert s.post(f"{server.url}/api/attempts/{attempt['id']}/answers", json={
            "item_id": item["item"]["id"], "choice": 0,
            "idempotency_key": uuid.uuid4().hex}).status_code == 201
    assert s.post(f"{server.url}/api/attempts/{attempt['id']}/submit").status_code == 200


def _grade_cells(page: str) -> dict[str, list[str]]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    out = {}
    for name, rest in re.findall(r'<th scope="row">([^<]+)</th>(.*?)</tr>', body, re.S):
        out[name.strip()] = [c.strip() for c in re.findall(r"<td>(.*?)</td>", rest, re.S)]
    return out


def test_grades_list_the_whole_roster_and_say_where_work_was_done(live_server):
    placed = _place(live_server, MOODLE)
    _take_practice(live_server, MOODLE, MARIA, placed, right=20)
    _practice_from_home(live_server, TOM)
    s, csrf, grades_url = _instructor_session(live_server, MOODLE, placed)
    before = _grade_cells(s.get(grades_url).text)
    assert before[MARIA.name][1] == "20 of 25"
    assert before[TOM.name][0].startswith("0 counted") and before[TOM.name][1] == ELSEWHERE
    synced = s.post(at(grades_url, "/instructor/class/roster"), data={"csrf_token": csrf})
    assert synced.status_code == 200 and "last synced" in synced.text
    page = s.get(grades_url)
    cells = _grade_cells(page.text)
    for _, given, family in ROSTER_ONLY:
        assert cells[f"{given} {family}"] == ["–", "Has not opened CPT Practice yet", "–"]
    assert cells[MARIA.name][1] == "20 of 25"
    assert cells[TOM.name][1] == ELSEWHERE
    assert "not started" not in page.text
    assert len(cells) == 2 + len(ROSTER_ONLY)  # learners only: the instructor is not listed
    exported = list(csv.reader(io.StringIO(s.get(at(grades_url, "/instructor/grades",
                                                     format="csv")).text)))
    assert exported[0][-1] == "note"
    by_name = {r[0]: r for r in exported[1:]}
    assert by_name[TOM.name][-1] == ELSEWHERE and float(by_name[MARIA.name][2]) == 20
    assert by_name[f"{ROSTER_ONLY[0][1]} {ROSTER_ONLY[0][2]}"][-1] == (
        "Has not opened CPT Practice yet")


def test_a_shorter_practice_test_elsewhere_is_not_the_graded_activity(live_server):
    """Only exactly the placed activity (full size) counts as "done elsewhere": a
    10-question Safety practice from home is something else, so Tom has simply not
    started the graded one."""
    placed = _place(live_server, MOODLE)
    _practice_from_home(live_server, TOM, size=10)
    s, _, grades_url = _instructor_session(live_server, MOODLE, placed)
    cells = _grade_cells(s.get(grades_url).text)
    assert cells[TOM.name][1] == "not started"
