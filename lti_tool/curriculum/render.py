"""Content Markdown -> HTML that is safe to put in a page.

Raw HTML in content is never passed through (``html=False`` escapes it), links may only
use http(s) or mailto, and images are not allowed (figures come as vetted data instead).
"""

from __future__ import annotations

import re
from functools import lru_cache

from markdown_it import MarkdownIt

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
