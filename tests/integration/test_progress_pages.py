"""The mastery map and the results page over real HTTP after a sandbox launch: what to do
next, words for the pass chance, topics without answers, time used, topics by need."""

from __future__ import annotations

import html
import re

import requests
from lti_helpers import signed_in

from lti_tool.sandbox.platforms import CANVAS

ANA = CANVAS.people[0].sub
HYDRAULIC = "Recognize hydraulic system problems"


def _student(server):
    return signed_in(server, ANA)


def _answer(s, server, csrf, page: str, *, right: bool | None = None) -> requests.Response:
    """Answer the question on ``page``: a wrong option when ``right`` is False (the drill's
    feedback tells which was right, so we answer blind and read the verdict)."""
    item_id = re.search(r'name="item_id" value="([^"]+)"', page).group(1)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    url = re.search(r'<form method="post" action="([^"]+/answer[^"]*)"', page).group(1)
    choice = "0"
    if right is not None:
        choice = str(_key_of(item_id) if right else (_key_of(item_id) + 1) % 4)
    position = re.search(r'name="position" value="(\d+)"', page)
    return s.post(server.url + html.unescape(url), data={
        "csrf_token": csrf, "item_id": item_id, "choice": choice,
        "position": position.group(1) if position else "1", "idempotency_key": key})


def _key_of(item_id: str) -> int:
    from support import shipped_bank

    _path, item = shipped_bank().items[item_id]
    return next(n for n, o in enumerate(item.options) if o.correct)


def _start(s, server, csrf, mode, **fields) -> requests.Response:
    r = s.post(f"{server.url}/attempts", data={"csrf_token": csrf, "module_id": "maintenance",
                                              "mode": mode, **fields})
    assert r.status_code == 200, r.text[:300]
    return r


def _submit(s, server, csrf, page: str) -> requests.Response:
    found = (re.search(r'<form method="post" action="([^"]+/submit[^"]*)"', page)  # drill
             or re.search(r'href="([^"]+/submit[^"]*)">Review and submit', page))  # a test
    done = s.post(server.url + html.unescape(found.group(1)),
                  data={"csrf_token": csrf, "confirm": "yes"})
    assert done.status_code == 200 and "Your results" in done.text
    return done


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_fresh_mastery_map_says_no_data_and_what_to_do_first(live_server):
    s, csrf = _student(live_server)
    page = s.get(f"{live_server.url}/mastery")
    assert page.status_code == 200
    text = _text(page.text)
    assert "<meter" not in page.text  # no 50% bars for topics without answers
    assert "No data yet" in text and "Not enough answers yet" in text
    assert "about 0%" not in text and "50%" not in text
    assert re.search(r"Next: lesson “[^”]+” — you have not started it yet", text)
    # Every form posts the CSRF token to student.start; a drill and a lesson per topic.
    forms = re.findall(r'<form method="post" action="[^"]*/attempts">(.*?)</form>',
                       page.text, re.S)
    assert forms and all(f'name="csrf_token" value="{csrf}"' in f for f in forms)
    assert 'aria-label="Drill: Recognize hydraulic system problems"' in page.text
    assert re.search(r'name="lesson_id" value="[^"]+"', page.text)


def test_a_wrong_drill_makes_its_topic_the_next_step_and_results_agree(live_server):
    s, csrf = _student(live_server)
    player = _start(s, live_server, csrf, "drill", key_activity_id="maintenance.hydraulic")
    first, play_url = player.text, player.url
    for _ in range(8):
        feedback = _answer(s, live_server, csrf, player.text, right=False)
        assert feedback.status_code == 200 and "best answer" in feedback.text
        player = s.get(play_url)  # what "Next question" links to
    done = _submit(s, live_server, csrf, first)
    text = _text(done.text)
    # The total and the topic row count the same answers ("0 of 8", not "0 of 4").
    assert "0 of 8 correct" in text
    assert f"{HYDRAULIC} 0 of 8 (0%)" in text
    assert re.search(r"Time used: \d+ minutes?\.", text)
    assert "What to do next" in text
    assert f'aria-label="Drill: {HYDRAULIC}"' in done.text
    mastery = _text(s.get(f"{live_server.url}/mastery").text)
    assert f"Next: drill “{HYDRAULIC}” — your weakest topic" in mastery
    assert re.search(rf"{HYDRAULIC} Needs practice · 8 answers Chance on a medium question: "
                     r"\d+%", mastery)


def test_mock_results_show_time_limit_and_topics_lowest_first(live_server):
    s, csrf = _student(live_server)
    player = _start(s, live_server, csrf, "mock")
    first = player.text
    for n in range(12):  # some right, some wrong, across the module's topics
        r = _answer(s, live_server, csrf, player.text, right=n % 2 == 0)
        assert r.status_code == 200
        player = r
    done = _submit(s, live_server, csrf, first)
    text = _text(done.text)
    assert re.search(r"Time used: \d+ minutes? of the 90 allowed\.", text)
    table = done.text[done.text.index('id="by-topic"'):]
    percents = [int(p) for p in re.findall(r"\d+ of \d+ \((\d+)%\)", _text(table))]
    assert len(percents) >= 4 and percents == sorted(percents)
    assert "Lowest score first" in table
    nxt = done.text[done.text.index('id="next-heading"'):done.text.index('id="by-topic"')]
    assert 1 <= nxt.count('value="drill"') <= 3


def test_a_failed_mock_reads_very_unlikely_not_about_0_percent(live_server):
    s, csrf = _student(live_server)
    player = _start(s, live_server, csrf, "mock")
    first = player.text
    for _ in range(30):  # every answer wrong: enough answers, across most topics
        player = _answer(s, live_server, csrf, player.text, right=False)
        assert player.status_code == 200
    _submit(s, live_server, csrf, first)
    page = s.get(f"{live_server.url}/mastery").text
    section = _text(page[page.index('id="mm-maintenance"'):])
    section = section[:section.index("Open Maintenance")]
    assert "Chance of passing now: Very unlikely yet" in section
    assert re.search(r"Based on your 30 answers, you would score about \d+% on a full exam\. "
                     r"The pass mark is \d+%\.", section)
    assert "about 0%" not in section and "(0%" not in section
