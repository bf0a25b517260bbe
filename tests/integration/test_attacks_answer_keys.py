"""No key before an answer, in any mode (issue 15, case 2).

A student looks for an item's key or rationales anywhere before answering it: the
results of an open lesson, a drill asked about any item id (an oracle for an open mock
exam), a lesson check or an earlier review that holds an item of the open exam, the score
by topic of an open exam (which would tell whether a changed answer is right). Each page
and API answer of every mode is walked before any answer, looking for rationales.
"""

from __future__ import annotations

import re
import uuid
from html import unescape

import pytest
from sqlalchemy import select
from test_attacks_common import Actor, actor, db_session

from lti_tool.models import Attempt, CurriculumItem, CurriculumLesson

MODULE = "safety"


def start(server, student: Actor, **body) -> dict:
    r = student.post(f"{server.url}/api/attempts", headers={"X-CSRF-Token": student.csrf},
                     json={"module_id": MODULE, **body})
    assert r.status_code == 201, r.text
    return r.json()


def answer(server, student: Actor, attempt_id: str, item_id: str, choice: int):
    return student.post(f"{server.url}/api/attempts/{attempt_id}/answers",
                        headers={"X-CSRF-Token": student.csrf},
                        json={"item_id": item_id, "choice": choice,
                              "idempotency_key": uuid.uuid4().hex})


def served(server, student: Actor, attempt_id: str) -> str:
    r = student.get(f"{server.url}/api/attempts/{attempt_id}/item")
    assert r.status_code == 200, r.text
    return r.json()["item"]["id"]


def plan(server, attempt_id: str) -> list[str]:
    with db_session(server) as db:
        return list(db.get(Attempt, attempt_id).item_ids)


def keys(server, item_ids) -> dict[str, int]:
    with db_session(server) as db:
        return {i: next(n for n, o in enumerate(db.get(CurriculumItem, i).options)
                        if o["correct"]) for i in item_ids}


def module_items(server) -> list[str]:
    with db_session(server) as db:
        return list(db.scalars(select(CurriculumItem.id).where(
            CurriculumItem.module_id == MODULE, CurriculumItem.retired.is_(False))))


def lessons(server) -> dict[str, list[str]]:
    with db_session(server) as db:
        return {lesson.id: list(lesson.checks) for lesson in db.scalars(
            select(CurriculumLesson).where(CurriculumLesson.module_id == MODULE,
                                           CurriculumLesson.retired.is_(False)))}


def markers(server, item_ids) -> dict[str, list[str]]:
    """Per item, the longest plain stretch (letters, spaces, commas; 30 or more) of each
    option's rationale that no other item's text contains: text that appears on a page
    only if this rationale does (the lesson text may share a shorter phrase with it, and
    two items may explain a shared fact in the same sentence)."""
    out: dict[str, list[str]] = {}
    with db_session(server) as db:
        texts = {item.id: " ".join([item.stem] + [o["text"] + " " + o["rationale"]
                                                  for o in item.options])
                 for item in db.scalars(select(CurriculumItem))}
        for item_id in item_ids:
            others = [text for other, text in texts.items() if other != item_id]
            found = []
            for option in db.get(CurriculumItem, item_id).options:
                stretches = [s.strip() for s in re.findall(r"[A-Za-z ,]{30,}",
                                                           option["rationale"])]
                own = [s for s in stretches if not any(s in text for text in others)]
                if own:
                    found.append(max(own, key=len))
            out[item_id] = found
    return out


def leaks(bodies: dict[str, str], marks: dict[str, list[str]]) -> list[str]:
    return sorted(f"{url}: {item_id}" for url, body in bodies.items()
                  for item_id, texts in marks.items()
                  if any(text in unescape(body) for text in texts))


def test_open_lesson_results_show_only_answered_checks(live_server):
    student = actor(live_server)
    lesson_id, checks = next((k, v) for k, v in sorted(lessons(live_server).items())
                             if len(v) >= 2)
    attempt = start(live_server, student, mode="lesson", lesson_id=lesson_id)["id"]
    urls = [f"{live_server.url}/api/attempts/{attempt}/results",
            f"{live_server.url}/attempts/{attempt}/results"]
    marks = markers(live_server, checks)
    bodies = {url: student.get(url).text for url in urls}
    assert student.get(urls[0]).json()["review"] == []
    assert not leaks(bodies, marks)

    first = served(live_server, student, attempt)
    right = keys(live_server, [first])[first]
    assert answer(live_server, student, attempt, first, (right + 1) % 4).status_code == 201
    review = student.get(urls[0]).json()["review"]
    assert [r["id"] for r in review] == [first]
    bodies = {url: student.get(url).text for url in urls}
    assert leaks(bodies, {k: v for k, v in marks.items() if k != first}) == []


def test_a_drill_answers_only_the_item_it_served(live_server):
    student = actor(live_server)
    drill = start(live_server, student, mode="drill")["id"]
    shown = served(live_server, student, drill)
    assert served(live_server, student, drill) == shown  # a reload shows the same one
    other = next(i for i in module_items(live_server) if i != shown)
    r = answer(live_server, student, drill, other, keys(live_server, [other])[other])
    assert r.status_code == 400, r.text
    assert "rationales" not in r.text and not leaks({"answer": r.text},
                                                    markers(live_server, [other]))
    r = answer(live_server, student, drill, shown, 0)
    assert r.status_code == 201 and r.json()["feedback"] is not None


def test_nothing_gives_feedback_on_an_item_of_an_open_mock(live_server):
    student = actor(live_server)
    # Mock forms draw the least-exposed items first, so the earlier practice tests must
    # cover the whole module before the mock is certain to hold items they showed; tests
    # draw each key activity by its weight (workplace 5%), so that takes several.
    earlier_tests = []
    while len({i for t in earlier_tests for i in plan(live_server, t)}) < len(
            module_items(live_server)):
        earlier = start(live_server, student, mode="practice", size=100)["id"]
        assert student.post(f"{live_server.url}/api/attempts/{earlier}/submit",
                            headers={"X-CSRF-Token": student.csrf}).status_code == 200
        earlier_tests.append(earlier)
        assert len(earlier_tests) <= 12, "practice tests keep leaving items unseen"
    mock = start(live_server, student, mode="mock")["id"]
    sealed = set(plan(live_server, mock))
    marks = markers(live_server, sealed)

    # A drill never serves one: the oracle is closed.
    drill = start(live_server, student, mode="drill")["id"]
    for _ in range(8):
        item_id = served(live_server, student, drill)
        assert item_id not in sealed
        r = answer(live_server, student, drill, item_id, 0)
        assert r.status_code == 201, r.text
    # Naming a mock item to the drill gets no key either.
    target = sorted(sealed)[0]
    r = answer(live_server, student, drill, target, 0)
    assert r.status_code in (400, 409) and not leaks({"drill": r.text}, marks)

    # A lesson check that is also in the open mock: no feedback until the mock is in.
    lesson_id, checks = next((k, v) for k, v in sorted(lessons(live_server).items())
                             if sealed & set(v))
    lesson = start(live_server, student, mode="lesson", lesson_id=lesson_id)["id"]
    check = next(c for c in checks if c in sealed)
    r = answer(live_server, student, lesson, check, 0)
    assert r.status_code == 409, r.text
    assert "mock exam" in r.json()["message"] and not leaks({"lesson": r.text}, marks)

    # The reviews of earlier practice tests withhold the mock's items.
    withheld = []
    for earlier in earlier_tests:
        for url in (f"{live_server.url}/api/attempts/{earlier}/results",
                    f"{live_server.url}/attempts/{earlier}/results"):
            body = student.get(url).text
            assert not leaks({url: body}, {k: v for k, v in marks.items()
                                           if k in plan(live_server, earlier)})
        review = student.get(
            f"{live_server.url}/api/attempts/{earlier}/results").json()["review"]
        withheld += [r for r in review if r["id"] in sealed]
    assert withheld and all(r["withheld"] for r in withheld)
    assert all("correct" not in o and "rationale" not in o
               for r in withheld for o in r["options"])

    # Once the mock is submitted, the review is whole again.
    assert student.post(f"{live_server.url}/api/attempts/{mock}/submit",
                        headers={"X-CSRF-Token": student.csrf}).status_code == 200
    review = student.get(f"{live_server.url}/api/attempts/{earlier}/results").json()["review"]
    assert not any(r["withheld"] for r in review)


def test_an_open_mock_does_not_score_by_topic(live_server):
    student = actor(live_server)
    mock = start(live_server, student, mode="mock")["id"]
    items = plan(live_server, mock)[:3]
    for item_id, right in keys(live_server, items).items():
        assert answer(live_server, student, mock, item_id, right).status_code == 201
    body = student.get(f"{live_server.url}/api/attempts/{mock}/results").json()
    assert body["review"] == [] and body["score_raw"] is None
    assert all(a["correct"] is None for a in body["by_activity"])
    page = student.get(f"{live_server.url}/attempts/{mock}/results").text
    assert "3 of" not in page and "1 of" not in page


@pytest.mark.parametrize("mode", ["lesson", "drill", "practice", "mock"])
def test_no_page_or_answer_shows_a_key_before_answering(live_server, mode):
    student = actor(live_server)
    body = {"mode": mode}
    if mode == "lesson":
        body["lesson_id"] = sorted(lessons(live_server))[0]
    if mode == "practice":
        body["size"] = 5
    attempt = start(live_server, student, **body)["id"]
    base = live_server.url
    urls = [f"{base}/home", f"{base}/modules/{MODULE}", f"{base}/mastery",
            f"{base}/api/mastery", f"{base}/attempts/{attempt}",
            f"{base}/attempts/{attempt}?position=1", f"{base}/attempts/{attempt}/results",
            f"{base}/api/attempts/{attempt}", f"{base}/api/attempts/{attempt}/item",
            f"{base}/api/attempts/{attempt}/results"]
    bodies = {url: student.get(url).text for url in urls}
    assert all('"correct": true' not in b and '"correct":true' not in b
               for b in bodies.values())
    everything = module_items(live_server)
    assert leaks(bodies, markers(live_server, everything)) == []
