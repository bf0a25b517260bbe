"""Answer cues a test-wise student can use without knowing the subject.

Writers tend to make the key the most careful, so the longest, option (or, overcorrecting,
never the longest). A module where the key is the strictly longest option far more or
far less often than chance (one in four) teaches students to pick by length.
"""

from __future__ import annotations

from lti_tool.curriculum.schema import Item

LONGEST_SHARE = (0.15, 0.35)  # the key is the strictly longest option in this share
LENGTH_RATIO = 2.5  # the longest option at most this many times the shortest ...
LENGTH_SLACK = 20  # ... unless they differ by no more than this many characters


def key_is_longest(item: Item) -> bool:
    lengths = [len(o.text.strip()) for o in item.options]
    key = lengths[item.answer_index]
    return key == max(lengths) and lengths.count(key) == 1


def lengths_differ_wildly(item: Item) -> bool:
    """One option stands out by length alone (short numeric options are exempt by the
    character slack: "6" and "12 operators" do not cue)."""
    lengths = [len(o.text.strip()) for o in item.options]
    return max(lengths) > LENGTH_RATIO * min(lengths) and \
        max(lengths) - min(lengths) > LENGTH_SLACK
