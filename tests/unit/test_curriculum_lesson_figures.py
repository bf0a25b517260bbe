"""Lesson figures (issue 17): placed at their anchors in the rendered lesson, safe and named
for screen readers, loaded into the DB (a changed figure re-loads its lesson) and served
from the curriculum cache."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime

import pytest
import yaml
from test_curriculum_checks import FIGURE, _dataset, _write

from lti_tool.curriculum.checks import load_bank
from lti_tool.curriculum.figures import (
    FigureError,
    contrast_problems,
    labelled_svg,
    scaling_problems,
)
from lti_tool.curriculum.loader import sync_curriculum
from lti_tool.curriculum.render import anchor_matches, lesson_html, markdown_to_html
from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.models import CurriculumLesson
from lti_tool.ops.migrate import upgrade_to_head
from lti_tool.practice import catalog

CLOCK = lambda: datetime(2026, 12, 4, 6, 0, tzinfo=UTC)  # noqa: E731

BODY = """## Reading gauges

Before reading a gauge, know its units and its normal range.

A needle that shakes hard is usually showing pump pulses.

- one
- two

## Trend logs

One reading shows where a machine is now.
"""
EXAMPLE = """## A rising temperature

The readings rise 4.5 °F a day.
"""


def _fig(after: str, caption: str) -> dict:
    return {**FIGURE, "after": after, "caption": caption}


def _in_order(html: str, *marks: str) -> bool:
    positions = [html.index(mark) for mark in marks]
    return positions == sorted(positions)


def test_each_figure_sits_at_its_anchor():
    figures = [_fig("Reading gauges", "CAP-heading"),
               _fig("Before reading a gauge, know", "CAP-paragraph"),
               _fig("end", "CAP-end"), _fig("example", "CAP-example"),
               _fig("A rising temperature", "CAP-in-example")]
    body, example = lesson_html(BODY, EXAMPLE, figures)
    assert _in_order(body, "<h2>Reading gauges</h2>", "CAP-heading", "Before reading a gauge",
                     "CAP-paragraph", "A needle that shakes", "<li>two</li>", "Trend logs",
                     "One reading shows", "CAP-end")
    assert "CAP-example" not in body and "CAP-in-example" not in body
    assert _in_order(example, "A rising temperature</h2>", "CAP-in-example", "4.5 °F a day",
                     "CAP-example")
    assert body.count("<figure") == 3 and example.count("<figure") == 2


def test_without_figures_the_lesson_renders_as_one_block():
    assert lesson_html(BODY, EXAMPLE, None) == (markdown_to_html(BODY),
                                                markdown_to_html(EXAMPLE))
    # a figure between two blocks leaves both blocks whole: the list is still one list
    body, _ = lesson_html(BODY, EXAMPLE, [_fig("A needle that shakes", "CAP")])
    assert body.count("<ul>") == 1 and re.search(r"<li>one</li>\s*<li>two</li>", body)


def test_anchors_name_headings_exactly_and_paragraphs_by_their_first_words():
    assert len(anchor_matches(BODY, "Reading gauges")) == 1
    assert anchor_matches(BODY, "Reading") == []  # a heading is named in full
    assert len(anchor_matches(BODY, "Before  reading a\ngauge")) == 1  # spacing is loose
    assert anchor_matches(BODY, "know its units") == []  # the start, not the middle
    fenced = "Intro text.\n\n```\ncode\n\nIntro text again\n```\n"
    assert len(anchor_matches(fenced, "Intro text")) == 1  # nothing inside a fence


def test_figure_is_an_image_named_by_its_alt_text_with_a_visible_caption():
    hostile = {**FIGURE, "after": "end", "alt": 'Guard "closed" <script>alert(1)</script> & on',
               "caption": "<img src=x onerror=alert(2)> caption"}
    body, _ = lesson_html(BODY, EXAMPLE, [hostile])
    figure = body[body.index("<figure"):]
    assert re.search(r'<svg [^>]*role="img"', figure)
    assert 'aria-label="Guard &quot;closed&quot; &lt;script&gt;alert(1)&lt;/script&gt; ' \
           '&amp; on"' in figure
    assert "<figcaption>&lt;img src=x onerror=alert(2)&gt; caption</figcaption>" in figure
    assert "<script" not in body and "<img" not in body


def test_a_figure_that_fails_the_allow_list_shows_its_words_not_its_markup():
    bad = {**FIGURE, "after": "end",
           "content": '<svg xmlns="http://www.w3.org/2000/svg" onload="x()"></svg>'}
    body, _ = lesson_html(BODY, EXAMPLE, [bad])
    assert "onload" not in body and "<svg" not in body
    assert f"<p>{FIGURE['alt']}</p>" in body
    with pytest.raises(FigureError):
        labelled_svg(bad["content"], "alt")


@pytest.mark.parametrize(("width", "problems"), [
    ('width="360"', 0), ('width="360px"', 0), ("", 0), ('width="361"', 1),
    ('width="20em"', 1)])
def test_scaling_rules(width, problems):
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" {width}/>'
    assert len(scaling_problems(svg)) == problems
    assert scaling_problems('<svg xmlns="http://www.w3.org/2000/svg"/>') == [
        "the <svg> needs a viewBox so it can scale"]


def test_contrast_is_judged_on_white_with_inherited_colours():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 9 9" fill="#4a5360">'
           '<circle r="4" fill="#0b4f8a"/><text fill="#fff">1</text>'  # white on a dark disc
           '<g stroke="#0b4f8a"><line x2="9"/><text>label</text></g></svg>')
    assert contrast_problems(svg) == []
    assert contrast_problems(svg.replace('fill="#4a5360"', 'fill="#aab"')) == [
        "text colour #aab has contrast 2.3:1 on white; needs 4.5:1"]
    assert contrast_problems(svg.replace('<g stroke="#0b4f8a">', '<g stroke="#ddd">')) == [
        "line colour #ddd on <line> has contrast 1.4:1 on white; needs 3:1"]


@pytest.fixture
def sessions(tmp_path):
    url = f"sqlite:///{tmp_path / 'f.db'}"
    upgrade_to_head(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


def _lesson_file(root) -> tuple:
    path = root / "lessons" / "mod" / "work.yaml"
    return path, yaml.safe_load(path.read_text())


def test_figures_are_loaded_and_a_changed_figure_reloads_the_lesson(tmp_path, sessions,
                                                                    monkeypatch):
    monkeypatch.setattr(catalog, "REFRESH_SECONDS", 0.0)
    root = _write(tmp_path / "data", _dataset())
    with transaction(sessions) as db:
        sync_curriculum(db, load_bank(root), CLOCK)
        row = db.get(CurriculumLesson, "LES-mod-work")
        assert row.figures == [FIGURE] and row.revision == 1
        assert catalog.lesson(db, "LES-mod-work").figures == [FIGURE]
    path, data = _lesson_file(root)
    data["lessons"][0]["figures"][0]["caption"] = "A new caption for the guard."
    path.write_text(yaml.safe_dump(data))
    with transaction(sessions) as db:
        report = sync_curriculum(db, load_bank(root), CLOCK)
        assert (report.added, report.updated, report.unchanged) == (0, 1, False)
        row = db.get(CurriculumLesson, "LES-mod-work")
        assert row.revision == 2 and row.figures[0]["caption"] == "A new caption for the guard."
        assert catalog.lesson(db, "LES-mod-work").figures[0]["caption"] == \
            "A new caption for the guard."
    # Figures removed: the row forgets them.
    data["lessons"][0].pop("figures")
    path.write_text(yaml.safe_dump(data))
    with transaction(sessions) as db:
        assert sync_curriculum(db, load_bank(root), CLOCK).updated == 1
        assert db.get(CurriculumLesson, "LES-mod-work").figures is None
        assert catalog.lesson(db, "LES-mod-work").figures is None


def test_no_figures_and_an_empty_list_are_the_same_lesson(tmp_path, sessions):
    """A lesson without figures keeps the digest it had before lessons could have them, so
    shipping this feature re-loads only the lessons that gained a figure."""
    data = _dataset()
    data["lessons"]["lessons"][0].pop("figures")
    root = _write(tmp_path / "data", data)
    with transaction(sessions) as db:
        sync_curriculum(db, load_bank(root), CLOCK)
    path, raw = _lesson_file(root)
    raw["lessons"][0]["figures"] = []
    path.write_text(yaml.safe_dump(raw))
    with transaction(sessions) as db:
        assert sync_curriculum(db, load_bank(root), CLOCK).unchanged
    raw["lessons"][0]["figures"] = [copy.deepcopy(FIGURE)]
    path.write_text(yaml.safe_dump(raw))
    with transaction(sessions) as db:
        report = sync_curriculum(db, load_bank(root), CLOCK)
        assert (report.updated, report.unchanged) == (1, False)
