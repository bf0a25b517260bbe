"""The exam flow's pages without a browser: the mock button and start screen show the
student's real limit, the start screen starts nothing, a flag is kept, a stray submit is
not a submit, and an answer after the deadline lands on the results."""

from __future__ import annotations

import re
from datetime import timedelta

from lti_helpers import signed_in
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from lti_tool.models import Attempt, AttemptStatus, CurriculumItem, Enrollment, User
from lti_tool.sandbox.platforms import CANVAS
from lti_tool.web.runtime import system_clock

ANA = CANVAS.people[0].sub


def _student(server):
    return signed_in(server, ANA)


def _db(server) -> Session:
    return Session(create_engine(server.settings.database_url))


def _start(s, server, csrf, mode="mock", module="safety"):
    r = s.post(f"{server.url}/attempts", data={"csrf_token": csrf, "mode": mode,
                                               "module_id": module})
    assert r.status_code == 200
    return r, r.url.split("/attempts/")[1].split("?")[0]


def _form_fields(html: str) -> dict[str, str]:
    form = html.split('id="answer-form"')[1].split("</form>")[0]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def test_mock_button_and_start_screen_show_the_extended_limit(live_server):
    s, csrf = _student(live_server)
    with _db(live_server) as db:
        ana = db.scalars(select(User).where(User.sub == ANA)).one()
        enrollment = db.scalars(select(Enrollment).where(Enrollment.user_id == ana.id)).one()
        enrollment.time_multiplier = 1.5
        db.commit()
    page = s.get(f"{live_server.url}/modules/safety").text
    assert "Timed mock exam (80 questions, 135 minutes with your extra time)" in page
    start = s.get(f"{live_server.url}/attempts/new", params={"mode": "mock",
                                                             "module_id": "safety"}).text
    assert "135 minutes" in start and "1.5 × 90 minutes" in start
    with _db(live_server) as db:
        assert db.scalar(select(func.count()).select_from(Attempt)) == 0
    player, attempt_id = _start(s, live_server, csrf)
    seconds = int(re.search(r'data-seconds="(\d+)"', player.text).group(1))
    assert 135 * 60 - 30 <= seconds <= 135 * 60
    assert s.get(f"{live_server.url}/attempts/new",  # started: the screen offers Resume
                 params={"mode": "mock", "module_id": "safety"}).text.count("Resume —") == 1


def test_start_screen_refuses_what_has_none(live_server):
    s, _ = _student(live_server)
    for params in ({"mode": "drill", "module_id": "safety"},
                   {"mode": "mock", "module_id": "nope"},
                   {"mode": "exam", "module_id": "safety"}):
        r = s.get(f"{live_server.url}/attempts/new", params=params)
        assert r.status_code in (400, 404) and "Back to CPT Practice" in r.text, params


def test_flag_stray_submit_and_answer_after_the_deadline(live_server):
    s, csrf = _student(live_server)
    player, attempt_id = _start(s, live_server, csrf)
    fields = _form_fields(player.text)
    answer_url = f"{live_server.url}/attempts/{attempt_id}/answer"
    # Flag question 1 without answering it: kept, and the page says so.
    r = s.post(answer_url, data={**fields, "go": "flag"})
    assert "Flagged for review" in r.text and "Question 1 of 80" in r.text
    assert 'aria-label="Question 1, not answered, flagged"' in r.text
    # A submit without the confirm is not a submit.
    r = s.post(f"{live_server.url}/attempts/{attempt_id}/submit", data={"csrf_token": csrf})
    assert "Check before you submit" in r.text and "1</strong> flagged" in r.text
    with _db(live_server) as db:
        assert db.get(Attempt, attempt_id).status == AttemptStatus.OPEN
        db.get(Attempt, attempt_id).deadline_at = system_clock() - timedelta(seconds=1)
        db.commit()
    # Time ran out while the student was choosing: the answer leads to the results.
    r = s.post(answer_url, data={**fields, "choice": "1"})
    assert "Your results" in r.text
    with _db(live_server) as db:
        attempt = db.get(Attempt, attempt_id)
        assert attempt.status == AttemptStatus.SUBMITTED and attempt.auto_submitted


def test_navigation_buttons_are_bounded(live_server):
    s, csrf = _student(live_server)
    player, attempt_id = _start(s, live_server, csrf, mode="practice")
    fields = _form_fields(player.text)
    answer_url = f"{live_server.url}/attempts/{attempt_id}/answer"
    assert s.post(answer_url, data={**fields, "go": "../x"}).status_code == 400
    r = s.post(answer_url, data={**fields, "go": "7"})
    assert "Question 7 of 25" in r.text
    r = s.post(answer_url, data={**fields, "go": "prev"})
    assert "Question 1 of 25" in r.text  # from question 1, Previous stays on it
    r = s.post(answer_url, data={**fields, "go": "review"})
    assert "Check before you submit" in r.text


def test_a_wrong_choice_is_marked_in_words_on_the_results(live_server):
    s, csrf = _student(live_server)
    player, attempt_id = _start(s, live_server, csrf, mode="practice")
    fields = _form_fields(player.text)
    with _db(live_server) as db:
        item = db.get(CurriculumItem, fields["item_id"])
        key = next(n for n, o in enumerate(item.options) if o["correct"])
    s.post(f"{live_server.url}/attempts/{attempt_id}/answer",
           data={**fields, "choice": str((key + 1) % 4)})
    done = s.post(f"{live_server.url}/attempts/{attempt_id}/submit",
                  data={"csrf_token": csrf, "confirm": "yes"})
    assert "Your results" in done.text
    assert done.text.count("your choice: not the best answer") == 1
    assert done.text.count('<li class="wrong">') == 1
