"""Does a lesson teach what its own check items test?

A lesson's checks are the questions a student answers right after reading it. A check
whose answer rests on words the lesson never uses (the 4-to-1 ladder rule in a lesson
that never mentions ladders) tests reading elsewhere, not the lesson. The measure is
deliberately simple: the content words of the item's topic, its correct answer and that
answer's rationale (which states the rule the answer rests on), crudely stemmed, must
mostly appear somewhere in the lesson (title, objectives, body, example or key terms).
"""

from __future__ import annotations

import re

from lti_tool.curriculum.schema import Item, Lesson

MIN_COVERED = 0.6  # share of a check item's key terms its lesson must use

_STOP = frozenset("""
about above after again against all also an and any are as at be because been before
being below between both but by can could did do does doing down during each few for
from further had has have having he her here hers him his how if in into is it its just
more most must no nor not now of off on once only or other our out over own same she
should so some such than that the their them then there these they this those through
to too under until up very was we were what when where which while who whom why will
with would you your one two first new use used using make made get gets keep keeps
every goes need needs right best likely take takes away still stay left give gives
anyone nobody nothing everything almost little""".split())


def _stem(word: str) -> str:
    word = word.lower().strip("'’")
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z'’]*|\d+(?:\.\d+)?", text)


def content_words(text: str) -> set[str]:
    """Stemmed words of three letters or more that carry meaning."""
    return {_stem(w) for w in _words(text) if len(w) >= 3 and w.lower() not in _STOP}


def key_terms(item: Item) -> set[str]:
    """Content words of the item's topic, correct answer and its rationale (numbers too,
    except in calculations, whose numbers are worked out rather than taught)."""
    key = item.options[item.answer_index]
    text = f"{item.topic} {key.text} {key.rationale}"
    terms = set()
    for word in _words(text):
        if word[0].isdigit():
            if item.kind != "calculation":
                terms.add(word)
        elif len(word) >= 4 and word.lower() not in _STOP:
            terms.add(_stem(word))
    return terms


def lesson_vocabulary(lesson: Lesson) -> set[str]:
    parts = [lesson.title, lesson.body, lesson.example, *lesson.objectives]
    parts += [t.term + " " + t.definition for t in lesson.key_terms]
    return {w if w[0].isdigit() else _stem(w) for w in _words(" ".join(parts))}


def missing_terms(item: Item, lesson: Lesson) -> list[str]:
    """The item's key terms the lesson never uses, when too many are missing; else []."""
    terms = key_terms(item)
    if not terms:
        return []
    missing = sorted(terms - lesson_vocabulary(lesson))
    return missing if len(terms) - len(missing) < MIN_COVERED * len(terms) else []
