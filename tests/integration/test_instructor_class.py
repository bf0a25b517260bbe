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
