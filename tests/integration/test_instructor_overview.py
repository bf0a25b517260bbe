"""The class overview as an instructor reads it: who needs attention and why (in words),
last activity, mastery and readiness columns that sort on the server, and a heat map whose
columns are named in a legend and whose cells carry their value as text."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from instructor_support import at, db_sessions, ids, staff
from lti_helpers import full_launch
from sqlalchemy import select

from lti_tool.db import transaction
from lti_tool.models import CurriculumKeyActivity, Enrollment, Mastery
from lti_tool.sandbox.platforms import MOODLE
from lti_tool.sandbox.services import ROSTER_ONLY
from lti_tool.web.instructor import INACTIVE_DAYS

MARIA, TOM = MOODLE.people[0], MOODLE.people[1]


def _class(server):
    """Maria last came 20 days ago; Tom comes today but knows little of Safety (weak
    mastery on every Safety topic, 6 answers each); the roster adds three who never came."""
    full_launch(server, "moodle", MARIA.sub)
    full_launch(server, "moodle", TOM.sub)
    course, (maria, tom) = ids(server, MOODLE, MARIA, TOM)
    now = datetime.now(UTC)
    engine, sessions = db_sessions(server)
    with transaction(sessions) as db:
        db.scalars(select(Enrollment).where(Enrollment.course_id == course,
                                            Enrollment.user_id == maria)).one(
        ).last_launch_at = now - timedelta(days=20, hours=1)
        safety = list(db.scalars(select(CurriculumKeyActivity).where(
            CurriculumKeyActivity.module_id == "safety",
            CurriculumKeyActivity.retired.is_(False)).order_by(
            CurriculumKeyActivity.position)))
        for ka in safety:
            db.add(Mastery(user_id=tom, key_activity_id=ka.id, theta=-2.0, evidence=6,
                           correct=1, updated_at=now))
        titles = [ka.title for ka in safety]
    engine.dispose()
    s, csrf, url = staff(server, MOODLE)
    synced = s.post(at(url, "/instructor/class/roster"), data={"csrf_token": csrf})
    assert synced.status_code == 200 and "last synced" in synced.text
    return s, url, titles


def _body_rows(page: str, table_class: str) -> list[str]:
    table = page.split(f'<table class="{table_class}">', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr[^>]*>.*?</tr>", table.split("<tbody>", 1)[1], re.S)


def _row(rows: list[str], name: str) -> str:
    return next(r for r in rows if f">{name}<" in r)


def test_students_who_need_attention_are_flagged_with_the_reason(live_server):
    s, url, _ = _class(live_server)
    page = s.get(url).text
    attention = page.split('id="attention-h"', 1)[1].split("</section>", 1)[0]
    assert f"Needs attention ({2 + len(ROSTER_ONLY)})" in page
    assert f"{MARIA.name}</a></strong>: No activity for 20 days" in attention
    tom = re.search(rf"{TOM.name}</a></strong>: ([^<]+)</li>", attention).group(1)
    assert "Low mastery:" in tom and "Likely to fail Safety:" in tom
    for _, given, family in ROSTER_ONLY:
        assert f"{given} {family}</strong>: Has not opened CPT Practice yet" in attention
    rows = _body_rows(page, "class")
    maria = _row(rows, MARIA.name)
    assert 'class="at-risk"' in maria and "No activity for 20 days" in maria
    last_seen = (datetime.now(UTC) - timedelta(days=20, hours=1)).strftime("%Y-%m-%d")
    assert f"<td>{last_seen}</td>" in maria
    never = _row(rows, f"{ROSTER_ONLY[0][1]} {ROSTER_ONLY[0][2]}")
    assert "<td>not started</td>" in never and "<td>never</td>" in never
    assert INACTIVE_DAYS == 14 and f"{INACTIVE_DAYS} days or more" in page


def test_class_columns_sort_on_the_server(live_server):
    s, url, _ = _class(live_server)
    by_seen = s.get(at(url, "/instructor/class", sort="last_active", dir="asc",
                        module="safety")).text
    names = [re.search(r'<th scope="row">(?:<a [^>]+>)?([^<]+)<', r).group(1)
             for r in _body_rows(by_seen, "class")]
    assert names[:2] == [MARIA.name, TOM.name]  # never-seen students come last
    assert set(names[2:]) == {f"{g} {f}" for _, g, f in ROSTER_ONLY}
    header = re.search(r'aria-sort="ascending"><a class="sort" href="([^"]+)">Last active',
                       by_seen)
    assert header and "dir=desc" in html.unescape(header.group(1))
    assert "module=safety" in html.unescape(header.group(1))  # the heat map stays put
    by_mastery = s.get(at(url, "/instructor/class", sort="mastery", dir="desc")).text
    assert f">{TOM.name}<" in _body_rows(by_mastery, "class")[0]
    by_ready = s.get(at(url, "/instructor/class", sort="readiness", dir="asc")).text
    assert f">{TOM.name}<" in _body_rows(by_ready, "class")[0]
    assert 'aria-sort="ascending"><a class="sort" href="' in by_ready
    by_name = s.get(at(url, "/instructor/class", sort="name", dir="desc")).text
    names = [re.search(r'<th scope="row">(?:<a [^>]+>)?([^<]+)<', r).group(1)
             for r in _body_rows(by_name, "class")]
    family = [n.split()[-1] for n in names]
    assert family == sorted(family, reverse=True)


def test_heat_map_columns_are_named_and_cells_carry_text(live_server):
    s, url, titles = _class(live_server)
    page = s.get(at(url, "/instructor/class", module="safety")).text
    legend = page.split('class="heat-legend"', 1)[1].split('class="heat"', 1)[0]
    for n, title in enumerate(titles, start=1):
        assert f"<dt>T{n}</dt><dd>{html.escape(title)}</dd>" in legend
    assert "80% or more: mastered" in legend and "no answers yet" in legend
    head = page.split('<table class="heat">', 1)[1].split("</thead>", 1)[0]
    assert f'T1<span class="visually-hidden">: {html.escape(titles[0])}</span>' in head
    tom = _row(_body_rows(page, "heat"), TOM.name)
    cells = re.findall(r'<td class="cell ([a-z-]+)">([^<]+)</td>', tom)
    assert len(cells) == len(titles)
    assert all(level == "lv-needs" and text.endswith("%") for level, text in cells)
    maria = _row(_body_rows(page, "heat"), MARIA.name)
    assert re.findall(r'<td class="cell ([a-z-]+)">([^<]+)</td>', maria) == [
        ("lv-none", "–")] * len(titles)
    # An unknown module falls back to the first one instead of an empty map.
    odd = s.get(at(url, "/instructor/class", module="nope"))
    assert odd.status_code == 200 and "<dt>T1</dt>" in odd.text
