"""Content Markdown -> HTML that is safe to put in a page.

Raw HTML in content is never passed through (``html=False`` escapes it), links may only
use http(s) or mailto, and images are not allowed (figures come as vetted data instead:
allow-listed SVG, placed in a lesson by ``lesson_html``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import Any

from markdown_it import MarkdownIt

from lti_tool.curriculum.figures import FigureError, labelled_svg

_SAFE_LINK = re.compile(r"^(https?:|mailto:)", re.I)


@lru_cache(maxsize=1)
def _md() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.disable("image")
    md.validateLink = lambda url: bool(_SAFE_LINK.match(url.strip()))  # type: ignore
    return md


@lru_cache(maxsize=4096)
def markdown_to_html(text: str) -> str:
    """Cached: the same stems and lesson bodies are rendered on every page view, and
    parsing them cost more CPU than the rest of a question page."""
    return _md().render(text)


# --- lesson figures -----------------------------------------------------------------------
# A lesson's body is Markdown rendered as one block, but its figures belong next to the
# paragraph they illustrate. So the Markdown is cut between blocks (never inside one) at
# each figure's anchor and the pieces are rendered one by one, with the figures between.

END, EXAMPLE = "end", "example"  # anchors: after the body, after the worked example
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True)
class Block:
    """One Markdown block: its text without heading marks, where it ends in the source,
    and whether it is a heading."""

    text: str
    end: int
    heading: bool


def _squash(text: str) -> str:
    return " ".join(text.split())


@lru_cache(maxsize=256)
def blocks(markdown: str) -> tuple[Block, ...]:
    """Headings and the blank-line separated blocks between them (a fenced code block is
    one block, blank lines and all). Cached: every view of a lesson page asks again."""
    found: list[Block] = []
    lines: list[str] = []
    fenced = False
    offset = 0

    def close(end: int) -> None:
        if lines:
            found.append(Block(_squash(" ".join(lines)), end, False))
            lines.clear()

    for line in markdown.splitlines(keepends=True):
        start, offset = offset, offset + len(line)
        stripped = line.rstrip("\r\n")
        if fenced or _FENCE.match(stripped):  # no cut inside a fenced block
            lines.append(stripped)
            fenced = not fenced if _FENCE.match(stripped) else fenced
            continue
        heading = _HEADING.match(stripped)
        if heading:
            close(start)
            found.append(Block(_squash(heading.group(1)), offset, True))
        elif not stripped.strip():
            close(start)
        else:
            lines.append(stripped)
    close(offset)
    return tuple(found)


def anchor_matches(markdown: str, after: str) -> list[Block]:
    """The blocks an anchor names: a heading with exactly that text, or a paragraph that
    starts with those words."""
    wanted = _squash(after)
    return [b for b in blocks(markdown)
            if (b.text == wanted if b.heading else b.text.startswith(wanted))]


def split_at(markdown: str, anchors: tuple[str, ...]) -> list[tuple[str, list[int]]]:
    """``markdown`` cut after the first block each anchor names: (piece, indexes of the
    anchors shown after that piece). Anchors found nowhere are left out."""
    cuts: dict[int, list[int]] = {}
    for index, after in enumerate(anchors):
        found = anchor_matches(markdown, after)
        if found:
            cuts.setdefault(found[0].end, []).append(index)
    pieces, start = [], 0
    for end in sorted(cuts):
        pieces.append((markdown[start:end], cuts[end]))
        start = end
    pieces.append((markdown[start:], []))
    return pieces


@lru_cache(maxsize=512)
def _figure_html(content: str, alt: str, caption: str) -> str:
    try:
        drawing = labelled_svg(content, alt)
    except FigureError:  # validated before loading; if not, the words still teach
        drawing = f"<p>{escape(alt)}</p>"
    return (f'<figure class="item-figure lesson-figure">{drawing}'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def figure_html(figure: Mapping[str, Any]) -> str:
    """A lesson figure: the sanitised SVG named by its alt text, and a visible caption."""
    return _figure_html(str(figure.get("content", "")), str(figure.get("alt", "")),
                        str(figure.get("caption", "")))


def _with_figures(markdown: str, figures: Sequence[Mapping[str, Any]], last: str) -> str:
    anchored = [f for f in figures if f.get("after") not in (END, EXAMPLE)]
    anchors = tuple(str(f.get("after", "")) for f in anchored)
    html = []
    for piece, shown in split_at(markdown, anchors):
        if piece.strip():
            html.append(markdown_to_html(piece))
        html += [figure_html(anchored[index]) for index in shown]
    html += [figure_html(f) for f in figures if f.get("after") == last]
    return "".join(html)


def lesson_html(body: str, example: str, figures: Sequence[Mapping[str, Any]] | None
                ) -> tuple[str, str]:
    """The body and the worked example as HTML, each figure at its anchor: a heading or
    paragraph of the body (or else of the example), ``end`` or ``example``."""
    figures = list(figures or [])
    in_body = [f for f in figures if f.get("after") == END
               or anchor_matches(body, str(f.get("after", "")))]
    in_example = [f for f in figures if f not in in_body]
    return _with_figures(body, in_body, END), _with_figures(example, in_example, EXAMPLE)
