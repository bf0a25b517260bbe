"""The instructor's pages fetch the course roster themselves (issue 19.2): when it is
missing or older than ``roster_max_age_minutes``, in the background, never holding the
page up, and never two fetches of one course at once (a claim in the database, so it
holds across gunicorn processes and instances too). "Refresh roster" still fetches now."""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from factories import db_sessions
from instructor_support import at, place, staff
from sqlalchemy import select
from test_grade_passback import _instructor_session

from lti_tool.db import transaction
from lti_tool.delivery.outbound import OutboundPolicy
from lti_tool.lti import nrps, roster
from lti_tool.lti.ags import DeliveryError
from lti_tool.models import Course
from lti_tool.sandbox.platforms import MOODLE
from lti_tool.sandbox.services import ROSTER_ONLY

NAMES = [f"{given} {family}" for _, given, family in ROSTER_ONLY]
PAGE_TIMEOUT = 10  # a page that waited for the held-up LMS would take the whole hold


@pytest.fixture
def held_lms(monkeypatch):
    """The LMS's roster answer held back until ``release`` is set; ``calls`` counts the
    fetches that reached it."""
    release, calls = threading.Event(), []
    real = nrps.fetch_members

    def held(*args, **kwargs):
        calls.append(time.monotonic())
        assert release.wait(30), "the test never let the LMS answer"
        return real(*args, **kwargs)

    monkeypatch.setattr(nrps, "fetch_members", held)
    yield release, calls
    release.set()


def _eventually(check, seconds: float = 10.0):
    give_up = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > give_up:
            return result
        time.sleep(0.1)


def _listed(page: str) -> str | None:
    """The page when it lists everyone the LMS roster adds."""
    return page if all(name in page for name in NAMES) else None


def _course(server, **values) -> None:
    engine, sessions = db_sessions(server)
    with transaction(sessions) as db:
        course = db.scalars(select(Course).where(Course.context_id == MOODLE.context_id)
                            ).one()
        for name, value in values.items():
            setattr(course, name, value)
    engine.dispose()


def test_the_class_overview_fetches_the_roster_itself_without_waiting(live_server,
                                                                       held_lms):
    release, calls = held_lms
    s, csrf, url = staff(live_server, MOODLE)
    first = s.get(url, timeout=PAGE_TIMEOUT)  # answered although the LMS holds back
    assert first.status_code == 200
    assert "Fetching it from the LMS now" in first.text
    assert not any(name in first.text for name in NAMES)
    again = s.get(url, timeout=PAGE_TIMEOUT)  # a second look starts no second fetch
    assert "Fetching it from the LMS now" in again.text
    with ThreadPoolExecutor(1) as pool:  # the button waits for the fetch under way
        pressed = pool.submit(s.post, at(url, "/instructor/class/roster"),
                              data={"csrf_token": csrf}, timeout=30)
        assert _eventually(lambda: len(calls) == 1)
        time.sleep(0.5)
        release.set()
        after_button = pressed.result()
    assert all(name in after_button.text for name in NAMES)
    assert len(calls) == 1
    fresh = s.get(url, timeout=PAGE_TIMEOUT)
    assert all(name in fresh.text for name in NAMES) and "last synced" in fresh.text
    assert "Fetching it" not in fresh.text and len(calls) == 1  # fresh: not fetched again


def test_the_roster_arrives_without_anyone_pressing_refresh(live_server):
    s, _, url = staff(live_server, MOODLE)
    first = s.get(url).text
    assert not any(name in first for name in NAMES)
    page = _eventually(lambda: _listed(s.get(url).text))
    assert page and "last synced" in page


def test_the_grades_page_fetches_the_roster_too(live_server):
    s, _, grades_url = _instructor_session(live_server, MOODLE, place(live_server, MOODLE))
    first = s.get(grades_url).text
    assert not any(name in first for name in NAMES)
    assert _eventually(lambda: _listed(s.get(grades_url).text))


def test_an_old_roster_is_fetched_again_and_0_turns_that_off(live_server, held_lms):
    release, calls = held_lms
    release.set()
    s, _, url = staff(live_server, MOODLE)
    s.get(url)
    assert _eventually(lambda: _listed(s.get(url).text))
    assert len(calls) == 1
    rt = live_server.app.extensions["cpt_lti"]
    old = datetime.now(UTC) - timedelta(minutes=rt.settings.roster_max_age_minutes + 1)
    _course(live_server, roster_checked_at=old, roster_synced_at=old)
    assert "Fetching it from the LMS now" in s.get(url).text
    assert _eventually(lambda: len(calls) == 2)
    rt.settings = dataclasses.replace(rt.settings, roster_max_age_minutes=0)
    assert _eventually(lambda: "Fetching it" not in s.get(url).text)
    _course(live_server, roster_checked_at=old, roster_synced_at=old)
    assert "Fetching it" not in s.get(url).text
    time.sleep(0.5)
    assert len(calls) == 2  # only the button fetches now


def test_a_failed_fetch_is_shown_and_tried_again_later(live_server, monkeypatch):
    def down(*_args, **_kwargs):
        raise DeliveryError("the LMS answered 503", retryable=True)

    monkeypatch.setattr(nrps, "fetch_members", down)
    s, _, url = staff(live_server, MOODLE)
    s.get(url)
    page = _eventually(lambda: (lambda t: t if "failed" in t else None)(s.get(url).text))
    assert page and "the LMS answered 503" in page and "Fetching it" not in page
    monkeypatch.undo()
    tried = datetime.now(UTC) - roster.RETRY_FAILED_AFTER - timedelta(seconds=1)
    _course(live_server, roster_checked_at=tried)
    s.get(url)
    page = _eventually(lambda: _listed(s.get(url).text))
    assert page and "failed" not in page


def test_one_claim_per_course_across_processes_and_a_dead_ones_lapses(app):
    """Two processes see the roster due at the same moment: one claim wins. A claim
    whose holder died is taken over once its lease is over; a course without a roster
    service is never claimed."""
    rt = app.extensions["cpt_lti"]
    policy = OutboundPolicy.from_settings(rt.settings)
    now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    with rt.transaction() as db:
        course = Course(deployment_id=1, context_id="MFG101", created_at=now,
                        nrps_url="https://lms.example/memberships")
        bare = Course(deployment_id=1, context_id="MFG102", created_at=now)
        db.add_all([course, bare])
        db.flush()
        course_id, bare_id = course.id, bare.id
    due = [roster.fetch_if_due(rt.sessions, lambda: now, policy, course_id, 60)
           for _ in range(2)]
    assert due[0] is not None and due[1] is None
    assert roster.fetch_if_due(rt.sessions, lambda: now, policy, bare_id, 60) is None
    later = now + roster.lease(policy) + timedelta(seconds=1)
    assert roster.fetch_if_due(rt.sessions, lambda: later, policy, course_id, 60)
    assert roster.fetch_if_due(rt.sessions, lambda: later, policy, course_id, 0) is None
