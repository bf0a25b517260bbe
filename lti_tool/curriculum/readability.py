"""Reading level of content: the Flesch-Kincaid grade of what a student reads.

The real CPT exam is written for about a 10th-grade reader and our students are adults
who may read below that, so items and lessons aim between grade 6 and 10. Markdown is
rendered and stripped first so table pipes and emphasis marks do not count as words.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable

import textstat

from lti_tool.curriculum.render import markdown_to_html

GRADE_RANGE = (6.0, 10.0)  # lessons, and a module's median item
MAX_ITEM_GRADE = 12.0  # one stem may be harder (technical words count as long words)


def plain(markdown: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markdown_to_html(markdown))).strip()


def grade(markdown: str) -> float:
    return float(textstat.flesch_kincaid_grade(plain(markdown)))


def median(grades: Iterable[float]) -> float:
    values = list(grades)
    return statistics.median(values) if values else 0.0


def distribution(grades: Iterable[float]) -> dict[str, int]:
    """Counts by grade band, for `content stats`."""
    bands = {"<6": 0, "6-8": 0, "8-10": 0, "10-12": 0, ">12": 0}
    for g in grades:
        key = ("<6" if g < 6 else "6-8" if g < 8 else "8-10" if g < 10 else "10-12"
               if g <= 12 else ">12")
        bands[key] += 1
    return bands
