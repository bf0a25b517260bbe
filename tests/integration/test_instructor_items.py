"""Item analysis as an instructor reads it: the questions most students miss first and
labelled in words, sortable columns, distractor rates with the key marked, a detail page
with every rationale - and only this course's answers, never another course's."""

from __future__ import annotations

import html
import re

import requests
from instructor_support import at, bank_items, db_sessions, ids, key_of, seed, staff
from lti_helpers import full_launch

from lti_tool.db import transaction
from lti_tool.models import CurriculumKeyActivity
from lti_tool.sandbox.platforms import CANVAS, MOODLE

ANA, BEN = CANVAS.people[0], CANVAS.people[1]


def _rows(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr[^>]*>.*?</tr>", body, re.S)


def _class_data(server):
    """Ana and Ben (Canvas) finish three practice tests each. Safety item ``hard``: one
    answer in six right, most pick the same wrong option. ``easy``: all right. ``half``:
    three of six. A Quality item ``few``: two wrong answers only - too few to flag."""
    for person in (ANA, BEN):
        full_launch(server, "canvas", person.sub)
    course, (ana, ben) = ids(server, CANVAS, ANA, BEN)
    hard, easy, half = bank_items(server, "safety", 3)
    few = bank_items(server, "quality", 1)[0]
    wrong = {i.id: (key_of(i) + 1) % 4 for i in (hard, easy, half, few)}
    other = {i.id: (key_of(i) + 2) % 4 for i in (hard, easy, half, few)}
    n = 0
    for user in (ana, ben):
        for _ in range(3):
            answers = {hard.id: key_of(hard) if n == 0 else (wrong[hard.id] if n < 5
                                                             else other[hard.id]),
                       easy.id: key_of(easy),
                       half.id: key_of(half) if n % 2 else wrong[half.id]}
            if n < 2:
                answers[few.id] = wrong[few.id]
            seed(server, course, user, answers)
            n += 1
    return {"hard": hard, "easy": easy, "half": half, "few": few}


def test_items_most_students_miss_come_first_labelled_in_words(live_server):
    items = _class_data(live_server)
    hard = items["hard"]
    s, _, class_url = staff(live_server, CANVAS)
    page = s.get(at(class_url, "/instructor/items"))
    assert page.status_code == 200
    rows = _rows(page.text)
    assert len(rows) == 4
    assert hard.id in rows[0] and "Most students miss this" in rows[0]
    assert sum("Most students miss this" in r for r in rows) == 1
    # Facility 0% on only two answers: shown, not flagged (too few answers to say).
    few_row = next(r for r in rows if items["few"].id in r)
    assert "Most students miss this" not in few_row and ">0%<" in few_row
    # Question text (short), topic title and module title, facility and responses.
    engine, sessions = db_sessions(live_server)
    with transaction(sessions) as db:
        topic = db.get(CurriculumKeyActivity, hard.key_activity_id).title
    engine.dispose()
    assert f"<td>{html.escape(topic)}</td>" in rows[0]
    assert "<td>Safety</td>" in rows[0]
    assert '<td class="num">6</td>' in rows[0] and '<td class="num">17%</td>' in rows[0]
    linked = re.search(r'<th scope="row"><a href="[^"]+">([^<]+)</a>', rows[0]).group(1)
    assert len(html.unescape(linked)) <= 81
    # Distractor rates: 1 right (17%), 4 on one wrong option (67%), 1 on another (17%);
    # the key is marked in words.
    rates = re.findall(r"<li>([ABCD]): (\d+)%( <span class=\"tag\">key</span>)?</li>", rows[0])
    by_letter = {letter: (int(pct), bool(key)) for letter, pct, key in rates}
    assert by_letter["ABCD"[key_of(hard)]] == (17, True)
    assert by_letter["ABCD"[(key_of(hard) + 1) % 4]] == (67, False)
    assert by_letter["ABCD"[(key_of(hard) + 2) % 4]] == (17, False)


def test_item_columns_sort_on_the_server_with_aria_sort(live_server):
    items = _class_data(live_server)
    s, _, class_url = staff(live_server, CANVAS)
    by_facility = s.get(at(class_url, "/instructor/items", sort="facility", dir="desc"))
    rows = _rows(by_facility.text)
    assert items["easy"].id in rows[0] and items["few"].id in rows[-1]
    header = re.search(r'<th scope="col" aria-sort="descending"><a class="sort" href="([^"]+)"'
                       r'>Facility', by_facility.text)
    assert header, "the sorted column says so with aria-sort"
    assert "dir=asc" in html.unescape(header.group(1))  # the link flips the order
    assert by_facility.text.count("aria-sort=") == 1
    ascending = _rows(s.get(at(class_url, "/instructor/items", sort="facility",
                                dir="asc")).text)
    assert items["few"].id in ascending[0] and items["easy"].id in ascending[-1]
    by_responses = _rows(s.get(at(class_url, "/instructor/items", sort="responses",
                                   dir="asc")).text)
    assert items["few"].id in by_responses[0]
    # An unknown column is the default order, not an error.
    odd = s.get(at(class_url, "/instructor/items", sort="<script>", dir="sideways"))
    assert odd.status_code == 200 and items["hard"].id in _rows(odd.text)[0]
    assert "aria-sort=" not in odd.text


def test_item_detail_shows_stem_options_key_and_every_rationale(live_server):
    items = _class_data(live_server)
    hard = items["hard"]
    s, _, class_url = staff(live_server, CANVAS)
    listing = s.get(at(class_url, "/instructor/items")).text
    href = re.search(rf'href="([^"]*/instructor/items/{hard.id}[^"]*)"', listing).group(1)
    detail = s.get(live_server.url + html.unescape(href))
    assert detail.status_code == 200
    text = html.unescape(detail.text)
    assert hard.id in text and "Most students miss this" in text
    for option in hard.options:
        assert option["text"] in text
        assert option["rationale"] in text
    assert text.count("key (best answer)") == 1
    assert "chosen by 67%" in text and "chosen by 17%" in text


def test_another_course_sees_none_of_these_items_or_students(live_server):
    """Attack: the Moodle course's instructor asks for the Canvas course's items, item
    pages, students and attempts by id. Every answer is empty or 404."""
    items = _class_data(live_server)
    course, (ana, _) = ids(live_server, CANVAS, ANA, BEN)
    attempt_id = seed(live_server, course, ana, {items["easy"].id: key_of(items["easy"])})
    full_launch(live_server, "moodle", MOODLE.people[0].sub)
    s, _, class_url = staff(live_server, MOODLE)
    listing = s.get(at(class_url, "/instructor/items"))
    assert listing.status_code == 200 and "No finished practice tests" in listing.text
    assert items["hard"].id not in listing.text
    csv_rows = s.get(at(class_url, "/instructor/items", format="csv")).text.strip()
    assert csv_rows.count("\n") == 0  # the header only
    for item in items.values():
        assert s.get(at(class_url, f"/instructor/items/{item.id}")).status_code == 404
    overview = s.get(class_url).text
    assert ANA.name not in overview and BEN.name not in overview
    assert s.get(at(class_url, f"/instructor/students/{ana}")).status_code == 404
    assert s.get(at(class_url, f"/instructor/attempts/{attempt_id}")).status_code == 404
    # The preview shows the curriculum only: no student of any course.
    preview = s.get(at(class_url, "/instructor/preview/modules/safety"))
    assert preview.status_code == 200 and ANA.name not in preview.text
    # And the Canvas instructor does see them (the test above is not vacuous).
    s2, _, class_url2 = staff(live_server, CANVAS)
    assert s2.get(at(class_url2, f"/instructor/items/{items['hard'].id}")).status_code == 200


def test_learners_cannot_open_item_analysis(live_server):
    _class_data(live_server)
    s = requests.Session()
    full_launch(live_server, "canvas", ANA.sub, session=s)
    assert s.get(f"{live_server.url}/instructor/items").status_code == 403
    hard = bank_items(live_server, "safety", 1)[0]
    assert s.get(f"{live_server.url}/instructor/items/{hard.id}").status_code == 403
