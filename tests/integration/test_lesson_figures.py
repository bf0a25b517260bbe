"""A lesson page shows its figures (issue 17): at their place in the text, as an image named
by its alt text, with a visible caption, and with nothing a browser would run."""

from __future__ import annotations

import re

import requests
from lti_helpers import full_launch

from lti_tool.curriculum.checks import load_bank
from lti_tool.sandbox.platforms import CANVAS

LESSON = "LES-quality-spc"  # its X-bar chart sits after the Western Electric rules


def test_a_lesson_page_shows_its_figure_named_and_captioned(live_server):
    figure = load_bank().lessons[LESSON][1].figures[0]
    s = requests.Session()
    r = full_launch(live_server, "canvas", CANVAS.people[0].sub, session=s)
    assert r.status_code == 200, r.text[:500]
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', r.text).group(1)
    page = s.post(f"{live_server.url}/attempts", data={
        "mode": "lesson", "module_id": "quality", "lesson_id": LESSON, "csrf_token": csrf})
    assert page.status_code == 200 and "/attempts/" in page.url, page.text[:800]
    html = page.text
    found = re.search(r'<figure class="item-figure lesson-figure">(.*?)</figure>', html, re.S)
    assert found, html[:2000]
    inside = found.group(1)
    assert re.search(r'<svg [^>]*role="img"', inside)
    assert f'aria-label="{figure.alt}"' in inside
    assert f"<figcaption>{figure.caption}</figcaption>" in inside
    assert "<script" not in inside and not re.search(r"\son\w+=", inside)
    # at its anchor: after the paragraph it names, before the next heading
    assert html.index("The Western Electric rules flag special causes") < found.start() \
        < html.index("Histograms and Pareto charts</h2>")
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))  # no inline JS
