"""One pooled connection per authenticated page: the login is read in the session the view's
transaction continues, and a request that never gets that far gives its connection back."""

from __future__ import annotations

import re

import requests
from lti_helpers import full_launch
from sqlalchemy import event

from lti_tool.sandbox.platforms import CANVAS


def _student(server) -> requests.Session:
    s = requests.Session()
    r = full_launch(server, "canvas", CANVAS.people[0].sub, session=s)
    assert r.status_code == 200, r.text[:500]
    return s


def _counting_checkouts(server) -> list[int]:
    count = [0]

    @event.listens_for(server.app.extensions["cpt_lti"].engine, "checkout")
    def _out(*_args) -> None:
        count[0] += 1

    return count


def test_a_page_reads_its_login_and_its_data_on_one_connection(live_server):
    s = _student(live_server)
    pool = live_server.app.extensions["cpt_lti"].engine.pool
    checkouts = _counting_checkouts(live_server)
    for path in ("/home", "/modules/safety", "/mastery"):
        before = checkouts[0]
        r = s.get(live_server.url + path)
        assert r.status_code == 200, (path, r.text[:300])
        assert checkouts[0] - before == 1, path
        assert pool.checkedout() == 0, path


def test_a_refused_request_gives_its_connection_back(live_server):
    s = _student(live_server)
    pool = live_server.app.extensions["cpt_lti"].engine.pool
    # Login read, then refused before any transaction: no CSRF token on a write.
    r = s.post(live_server.url + "/attempts", data={"mode": "drill", "module_id": "safety"})
    assert r.status_code == 403
    assert pool.checkedout() == 0
    # An unknown session: refused after the read.
    r = requests.get(live_server.url + "/home", cookies={
        name: "not-a-session" for name in s.cookies.keys()})
    assert r.status_code == 401
    assert pool.checkedout() == 0
    # The connection that served the refusals serves the next page normally.
    token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(
        live_server.url + "/modules/safety").text).group(1)
    r = s.post(live_server.url + "/attempts", data={
        "mode": "drill", "module_id": "safety", "csrf_token": token}, allow_redirects=False)
    assert r.status_code == 303 and pool.checkedout() == 0
