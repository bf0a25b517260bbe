"""The admin console's page per platform (issue 20), end to end against the sandbox LMS:
its last launch and last failed launch (recorded from real refused launches, never with a
claim of the refused token, at most once a minute), its deployments, and its outbox
backlog per destination (with LRSs that do not answer), each platform showing only its
own rows."""

from __future__ import annotations

import dataclasses
import html
import re
from collections import Counter
from datetime import timedelta
from random import Random

import jwt
from lti_helpers import CLAIM, assert_refused, begin_launch
from sqlalchemy import select, update
from test_attacks_common import (
    TIMEOUT,
    actor,
    admin_actor,
    changed_tables,
    db_session,
    person_sub,
    practice_attempt,
    snapshot,
)

from lti_tool.delivery.scores import LinkScore, queue_score
from lti_tool.delivery.xapi import XapiDelivery
from lti_tool.lti.keys import generate_rsa_pem
from lti_tool.models import Deployment, Outbox, OutboxKind, OutboxStatus, Platform, User
from lti_tool.sandbox.platforms import CANVAS, MOODLE
from lti_tool.sandbox.ralph_lrs import free_port
from lti_tool.web.runtime import system_clock


def _platform_id(server, sandbox) -> int:
    with db_session(server) as db:
        return db.scalars(select(Platform.id).where(
            Platform.client_id == sandbox.client_id)).one()


def _page(server, admin, platform_id: int):
    r = admin.http.get(f"{server.url}/admin/platforms/{platform_id}", timeout=TIMEOUT)
    assert r.status_code == 200, r.text[:800]
    return r


def _field(text: str, name: str) -> str:
    match = re.search(rf'<dd data-field="{name}">(.*?)</dd>', text, re.S)
    assert match, (name, text[:3000])
    return match.group(1)


def _deployments(text: str) -> set[str]:
    return {html.unescape(d) for d in re.findall(r'<tr data-deployment="([^"]*)"', text)}


def _backlog(text: str) -> dict[tuple[str, str], dict[str, int]]:
    """(kind, destination) -> {"pending": n, "failed": n}, as the page's table shows it."""
    out = {}
    for kind, dest, row in re.findall(
            r'<tr data-kind="(\w+)" data-destination="([^"]*)">(.*?)</tr>', text, re.S):
        counts = dict(re.findall(r'<td data-count="(\w+)">(\d+)</td>', row))
        out[(kind, html.unescape(dest))] = {k: int(v) for k, v in counts.items()}
    return out


def test_a_good_launch_shows_as_the_platforms_last_launch(live_server):
    server = live_server
    admin = admin_actor(server)
    canvas, moodle = _platform_id(server, CANVAS), _platform_id(server, MOODLE)
    before = _page(server, admin, canvas).text
    assert _field(before, "last-launch").strip() == "never"
    actor(server, "canvas", person_sub("canvas", "learner"))
    page = _page(server, admin, canvas).text
    assert re.match(r"\s*\d{4}-\d\d-\d\d \d\d:\d\d UTC", _field(page, "last-launch"))
    assert _field(page, "last-failed-launch").strip() == "none recorded"
    assert "Canvas" in _field(page, "lms-family")
    assert "strict" in _field(page, "deployment-policy")
    assert _deployments(page) == {CANVAS.deployment_id}
    # The other platform's page is its own: no launch there yet.
    assert _field(_page(server, admin, moodle).text, "last-launch").strip() == "never"
    # The console links each platform to its page, with a summary line.
    console = admin.http.get(f"{server.url}/admin/", timeout=TIMEOUT).text
    assert f'href="/admin/platforms/{canvas}"' in console
    assert re.search(rf'<p class="platform-summary" id="summary-{canvas}">[^<]*Canvas[^<]*'
                     r'last launch \d{4}-', console), console[:4000]


def test_a_refused_launch_of_a_registered_platform_shows_its_code_and_no_claim(live_server):
    server = live_server
    admin = admin_actor(server)
    canvas = _platform_id(server, CANVAS)
    marker = "Zed<i>Marker</i>"  # a claim value that must never reach the page or the row
    pending = begin_launch(server)
    claims = pending.claims()
    claims["name"] = claims["given_name"] = marker
    claims[CLAIM + "context"]["title"] = marker
    kid = jwt.get_unverified_header(pending.sign(pending.claims()))["kid"]
    forged = jwt.encode(claims, generate_rsa_pem(), algorithm="RS256", headers={"kid": kid})
    assert_refused(pending.post(forged), "bad_token")

    page = _page(server, admin, canvas).text
    failed = _field(page, "last-failed-launch")
    assert "<code>bad_token</code>" in failed
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", failed)
    assert "could not be verified" in failed
    for text in ("Marker", claims["sub"], claims["nonce"], claims["email"], pending.state):
        assert text not in page, text
    with db_session(server) as db:
        row = db.get(Platform, canvas)
        assert row.last_failed_launch_code == "bad_token"
        stored = f"{row.last_failed_launch_reason}"
        assert "Marker" not in stored and claims["sub"] not in stored
        first_at = row.last_failed_launch_at
        assert first_at is not None

    # Within the minute a second failure writes nothing (a flood costs no writes)...
    pending = begin_launch(server)
    claims = pending.claims()
    claims["iat"] -= 600
    claims["exp"] = claims["iat"] + 300
    assert_refused(pending.post(pending.sign(claims)), "expired_token")
    with db_session(server) as db:
        row = db.get(Platform, canvas)
        assert (row.last_failed_launch_code, row.last_failed_launch_at) == ("bad_token",
                                                                            first_at)
        # ...a minute later the next one is recorded.
        db.execute(update(Platform).where(Platform.id == canvas).values(
            last_failed_launch_at=first_at - timedelta(minutes=2)))
    pending = begin_launch(server)
    claims = pending.claims()
    claims["iat"] -= 600
    claims["exp"] = claims["iat"] + 300
    assert_refused(pending.post(pending.sign(claims)), "expired_token")
    failed = _field(_page(server, admin, canvas).text, "last-failed-launch")
    assert "<code>expired_token</code>" in failed and "has expired" in failed
    # A good launch afterwards does not hide the failure (both are shown).
    actor(server, "canvas", person_sub("canvas", "learner"))
    page = _page(server, admin, canvas).text
    assert "<code>expired_token</code>" in _field(page, "last-failed-launch")
    assert _field(page, "last-launch").strip() != "never"
    # The other platform shows none of it.
    moodle_page = _page(server, admin, _platform_id(server, MOODLE)).text
    assert _field(moodle_page, "last-failed-launch").strip() == "none recorded"


def test_a_forged_failure_naming_no_registered_platform_writes_nothing(live_server):
    server = live_server
    admin_actor(server)
    # Counts reach /metrics as before; here they are written at once, so write them first.
    server.app.extensions["cpt_lti"].tally.write(server.app.extensions["cpt_lti"].sessions)
    forged = []
    for issuer, audience in (("https://evil.example", CANVAS.client_id),
                             (CANVAS.issuer(server.settings), "not-our-client"),
                             ("https://evil.example", "not-our-client")):
        pending = begin_launch(server)
        claims = pending.claims()
        claims["iss"], claims["aud"] = issuer, audience
        forged.append((pending, pending.sign(claims)))
    before = snapshot(server)
    for pending, token in forged:
        r = pending.post(token)
        assert 400 <= r.status_code < 500, r.text[:500]
        assert "<code>unknown_platform</code>" in r.text, r.text[:1500]
    # Only the refusal counts of /metrics change.
    assert changed_tables(before, snapshot(server)) in ([], ["counter"])


def test_the_backlog_per_destination_matches_the_rows_queued(live_server):
    server = live_server
    admin = admin_actor(server)
    canvas, moodle = _platform_id(server, CANVAS), _platform_id(server, MOODLE)
    ana = actor(server, "canvas", person_sub("canvas", "learner"))
    maria = actor(server, "moodle", person_sub("moodle", "learner"))
    done = practice_attempt(server, ana, answers=2, submit=True)
    practice_attempt(server, maria, answers=1, submit=True)
    # Canvas sends to its own LRS, which does not answer; Moodle has none and uses the
    # default LRS of the settings, which does not answer either.
    down = f"http://127.0.0.1:{free_port()}/xapi/"
    secret = "lrs-secret-never-shown"
    r = admin.http.post(f"{server.url}/admin/platforms/{canvas}/lrs", timeout=TIMEOUT, data={
        "csrf_token": admin.csrf, "name": "district", "endpoint": down,
        "username": "lrs-key-never-shown", "password": secret})
    assert r.status_code == 200 and "LRS district added" in r.text
    with db_session(server) as db:
        db.add(Deployment(platform_id=moodle, deployment_id="moodle-only-deployment"))
        queue_score(db, system_clock(), LinkScore(
            attempt_id=done["id"], resource_link_id=ana.resource_link_id, user_id=ana.user_id,
            score_given=1, score_maximum=2, mode="practice", policy="best", attempts=1,
            submitted_at=system_clock()))
    settings = dataclasses.replace(server.settings,
                                   xapi_endpoint=f"http://127.0.0.1:{free_port()}/xapi/",
                                   xapi_username="u", xapi_password="p")
    sessions = server.app.extensions["cpt_lti"].sessions
    report = XapiDelivery(sessions, settings, system_clock, Random(1)).run_once()
    assert report.sent == 0 and report.retried > 0
    long_error = "<b>LRS said no</b> " + "x" * 2000
    with db_session(server) as db:
        parked = db.scalars(select(Outbox).where(Outbox.destination.like("lrs:%"))
                            .order_by(Outbox.id.desc())).first()
        parked.status, parked.last_error = OutboxStatus.FAILED, long_error
    # What the rows say, per platform (through the learner who made them).
    expected: dict[int, Counter] = {canvas: Counter(), moodle: Counter()}
    with db_session(server) as db:
        owners = dict(db.execute(select(User.id, User.platform_id)).all())
        for row in db.scalars(select(Outbox).where(Outbox.status.in_(
                [OutboxStatus.PENDING, OutboxStatus.FAILED]))):
            platform = owners[row.payload["user_id"]]
            dest = row.destination or ("lms" if row.kind == OutboxKind.AGS else "unrouted")
            expected[platform][(row.kind.value, dest, row.status.value)] += 1
    canvas_page = _page(server, admin, canvas).text
    moodle_page = _page(server, admin, moodle).text
    for platform, text in ((canvas, canvas_page), (moodle, moodle_page)):
        shown = _backlog(text)
        want = {}
        for (kind, dest, status), n in expected[platform].items():
            want.setdefault((kind, dest), {"pending": 0, "failed": 0})[status] = n
        assert shown == want, (platform, shown, want)
    assert {k for k, _ in _backlog(canvas_page)} == {"xapi", "ags"}
    assert any(d.startswith("lrs:") for _, d in _backlog(canvas_page))
    assert ("xapi", "default") in _backlog(moodle_page)
    assert not any(d.startswith("lrs:") for _, d in _backlog(moodle_page))
    # The LRS's error text is trimmed and escaped; no secret is shown.
    assert "&lt;b&gt;LRS said no&lt;/b&gt;" in canvas_page and "<b>LRS said" not in canvas_page
    assert "x" * 400 not in canvas_page
    for page in (canvas_page, moodle_page):
        assert secret not in page and "lrs-key-never-shown" not in page
    # Deployments are the platform's own.
    assert "moodle-only-deployment" in _deployments(moodle_page)
    assert "moodle-only-deployment" not in canvas_page
    assert _deployments(canvas_page) == {CANVAS.deployment_id}


def test_an_unknown_platform_is_a_404_and_the_page_needs_an_admin(live_server):
    server = live_server
    import requests

    anonymous = requests.get(f"{server.url}/admin/platforms/1", timeout=TIMEOUT,
                             allow_redirects=False)
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].endswith("/admin/login")
    admin = admin_actor(server)
    r = admin.http.get(f"{server.url}/admin/platforms/987654", timeout=TIMEOUT)
    assert r.status_code == 404 and "There is no platform 987654" in r.text
    assert "Traceback" not in r.text
    page = _page(server, admin, _platform_id(server, CANVAS))
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"


def test_a_deployment_switched_from_the_platform_page_returns_there(live_server):
    server = live_server
    admin = admin_actor(server)
    canvas = _platform_id(server, CANVAS)
    with db_session(server) as db:
        deployment = db.scalars(select(Deployment.id).where(
            Deployment.platform_id == canvas)).one()
    r = admin.http.post(f"{server.url}/admin/deployments/{deployment}/enabled",
                        timeout=TIMEOUT, allow_redirects=False,
                        data={"csrf_token": admin.csrf, "enabled": "0", "back": "platform"})
    assert r.status_code == 302
    assert r.headers["Location"].startswith(f"/admin/platforms/{canvas}?")
    page = admin.http.get(server.url + r.headers["Location"], timeout=TIMEOUT).text
    assert "disabled" in page and 'role="status"' in page
    with db_session(server) as db:
        assert db.get(Deployment, deployment).enabled is False


def test_the_page_reads_a_fixed_number_of_queries_however_much_there_is(app):
    """Five queries for any number of deployments, LRSs and waiting rows."""
    from sqlalchemy import event

    from lti_tool.db import transaction
    from lti_tool.models import LrsEndpoint
    from lti_tool.ops.platform_page import platform_page

    rt = app.extensions["cpt_lti"]
    now = system_clock()

    def statements(grow: int) -> int:
        with transaction(rt.sessions) as db:
            platform = db.scalars(select(Platform).where(
                Platform.client_id == CANVAS.client_id)).one()
            user = User(platform_id=platform.id, sub=f"learner-{grow}")
            db.add(user)
            db.flush()
            for n in range(grow):
                db.add(Deployment(platform_id=platform.id, deployment_id=f"d-{grow}-{n}"))
                lrs = LrsEndpoint(platform_id=platform.id, name=f"lrs-{grow}-{n}",
                                  url="https://lrs.example/xapi/", username="k",
                                  password_sealed="sealed")
                db.add(lrs)
                db.flush()
                for status in (OutboxStatus.PENDING, OutboxStatus.FAILED):
                    db.add(Outbox(kind=OutboxKind.XAPI, dedupe_key=f"{grow}-{n}-{status}",
                                  payload={"user_id": user.id}, status=status,
                                  next_attempt_at=now, created_at=now,
                                  destination=f"lrs:{lrs.id}", last_error="down"))
        seen: list[str] = []
        engine = rt.engine

        def count(*_args) -> None:
            seen.append("q")

        with transaction(rt.sessions) as db:
            platform = db.scalars(select(Platform).where(
                Platform.client_id == CANVAS.client_id)).one()
            event.listen(engine, "before_cursor_execute", count)
            try:
                page = platform_page(db, platform)
            finally:
                event.remove(engine, "before_cursor_execute", count)
        assert sum(b.pending for b in page.backlog) >= grow
        return len(seen)

    assert statements(1) == statements(4) == 5
