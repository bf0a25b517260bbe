"""What a student's page costs the database: one pooled connection (the login is read in the
session the view's transaction continues), a connection given back by a request refused
before its transaction, and a bounded number of statements on the exam-week hot paths
(each one a round trip on PostgreSQL: this is what bench/load.py's p95 is made of)."""

from __future__ import annotations

import re
from collections import Counter

import requests
from lti_helpers import full_launch
from sqlalchemy import event

from lti_tool.sandbox.platforms import CANVAS


def _student(server) -> requests.Session:
    s = requests.Session()
    r = full_launch(server, "canvas", CANVAS.people[0].sub, session=s)
    assert r.status_code == 200, r.text[:500]
    return s


def _counting(server, what: str) -> Counter:
    count: Counter = Counter()

    @event.listens_for(server.app.extensions["cpt_lti"].engine, what)
    def _seen(*_args) -> None:
        count["n"] += 1

    return count


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _form(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]+)"', html).group(1)


def test_a_page_reads_its_login_and_its_data_on_one_connection(live_server):
    s = _student(live_server)
    pool = live_server.app.extensions["cpt_lti"].engine.pool
    checkouts = _counting(live_server, "checkout")
    for path in ("/home", "/modules/safety", "/mastery"):
        before = checkouts["n"]
        r = s.get(live_server.url + path)
        assert r.status_code == 200, (path, r.text[:300])
        assert checkouts["n"] - before == 1, path
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
    token = _token(s.get(live_server.url + "/modules/safety").text)
    r = s.post(live_server.url + "/attempts", data={
        "mode": "drill", "module_id": "safety", "csrf_token": token}, allow_redirects=False)
    assert r.status_code == 303 and pool.checkedout() == 0


def test_statements_per_request_on_the_exam_week_paths(live_server):
    """Upper bounds, each met exactly today; in brackets the counts of 2026-12-01's code
    (commit ca1a0c1) on PostgreSQL."""
    s = _student(live_server)
    statements = _counting(live_server, "before_cursor_execute")

    def cost(method: str, url: str, **kw) -> tuple[int, requests.Response]:
        before = statements["n"]
        r = s.request(method, url, allow_redirects=False, **kw)
        assert r.status_code in (200, 303), (url, r.status_code, r.text[:300])
        return statements["n"] - before, r

    token = _token(s.get(live_server.url + "/modules/safety").text)
    _, r = cost("POST", live_server.url + "/attempts",
                data={"mode": "drill", "module_id": "safety", "csrf_token": token})
    drill = live_server.url + r.headers["Location"]
    for _ in range(3):
        n, page = cost("GET", drill)
        # login, attempt, recent answers, open tests' items (never served in a drill),
        # history; the served item remembered (issue 15)  [5: + module]
        assert n <= 6, n
        n, r = cost("POST", live_server.url + re.search(
            r'<form method="post" action="([^"]+/answer[^"]*)"', page.text).group(1),
            data={"csrf_token": token, "item_id": _form(page.text, "item_id"), "choice": "0",
                  "idempotency_key": _form(page.text, "idempotency_key"),
                  "position": _form(page.text, "position")})
        # login, attempt + double-submit check + mastery + last position, open tests'
        # items; response, attempt version, mastery, outbox  [10; 11 for a new mastery row]
        assert n <= 7, n

    _, r = cost("POST", live_server.url + "/attempts",
                data={"mode": "mock", "module_id": "safety", "csrf_token": token})
    exam = live_server.url + r.headers["Location"]
    for _ in range(3):
        _, page = cost("GET", exam)
        cost("POST", live_server.url + re.search(
            r'<form method="post" action="([^"]+/answer[^"]*)"', page.text).group(1),
            data={"csrf_token": token, "item_id": _form(page.text, "item_id"), "choice": "1",
                  "idempotency_key": _form(page.text, "idempotency_key"),
                  "position": _form(page.text, "position")})
    submit = re.search(r'href="([^"]+/submit[^"]*)">Review and submit', s.get(exam).text
                       ).group(1).replace("&amp;", "&")  # the check before submitting
    n, r = cost("POST", live_server.url + submit, data={"csrf_token": token,
                                                        "confirm": "yes"})
    if live_server.app.extensions["cpt_lti"].engine.dialect.name == "postgresql":
        # login, attempt, responses, mastery rows; attempt, changed and new mastery rows
        # (a batch each); the events in one batch; the grade (link, attempts, outbox)
        # [23: responses read five times, mastery row by row, results computed for
        # nothing]. SQLite inserts new mastery rows one by one, in process: no round trips
        # to count there.
        assert n <= 11, n
    n, _ = cost("GET", live_server.url + r.headers["Location"])
    # login, attempt, responses, open tests' items (withheld from the review)  [4: + module]
    assert n <= 4, n
