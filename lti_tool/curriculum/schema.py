"""The shape of curriculum data (pydantic): blueprint, items and lessons.

Structural rules live here; rules that need the whole bank (unique ids, known key
activities, answer-position balance, linked checks) live in ``checks.py``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Cognitive = Literal["recall", "apply", "analyse"]
ItemKind = Literal["knowledge", "scenario", "figure", "table", "calculation"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExamFacts(Strict):
    items: int = Field(gt=0)
    items_note: str = ""
    minutes: int = Field(gt=0)
    pass_percent: int | None = Field(default=None, ge=1, le=100)
    pass_note: str = ""
    source: str


class KeyActivity(Strict):
    id: str = Field(pattern=r"^[a-z]+\.[a-z0-9-]+$")
    title: str
    knowledge: list[str] = Field(min_length=1)
    # Percent of the module's exam, only where MSSC publishes it (the source says where);
    # weights.py shares out the rest by a documented rule.
    weight: float | None = Field(default=None, gt=0, lt=100)
    # MSSC key activity this one is part of, where we split one of MSSC's into several:
    # the parts share that key activity's weight.
    area: str | None = Field(default=None, pattern=r"^[a-z0-9-]+$")


class Module(Strict):
    id: str = Field(pattern=r"^[a-z]+$")
    title: str
    required: bool
    summary: str
    exam: ExamFacts
    key_activities: list[KeyActivity] = Field(min_length=1)


class Technology(Strict):
    id: str = Field(pattern=r"^i4\.[a-z0-9]+$")
    title: str
    modules: list[str] = Field(min_length=1)


class Source(Strict):
    name: str
    says: str


class BankTargets(Strict):
    """How deep the item bank must be; `content validate` fails below these."""

    items_per_required_module: int = Field(default=0, ge=0)
    items_per_optional_module: int = Field(default=0, ge=0)
    items_per_key_activity: int = Field(default=0, ge=0)  # more where the weight asks for it
    items_per_technology: int = Field(default=0, ge=0)
    parallel_forms: int = Field(default=0, ge=0)  # mock forms a key activity must hold


class Blueprint(Strict):
    version: int
    credential: str
    modules: list[Module]
    industry40: list[Technology]
    bank: BankTargets = BankTargets()
    sources: list[Source] = []


class Figure(Strict):
    """Something to read: a table (Markdown), plain text (gauge readings), or an SVG."""

    kind: Literal["table", "text", "svg"]
    alt: str = Field(min_length=10, description="what a screen-reader user is told")
    content: str = Field(min_length=1)


class Option(Strict):
    text: str = Field(min_length=1)
    correct: bool = False
    rationale: str = Field(min_length=15)


class Item(Strict):
    id: str = Field(pattern=r"^[A-Z0-9]+-[0-9]{3}$")
    key_activity: str
    topic: str = Field(min_length=2)
    difficulty: int = Field(ge=1, le=3)
    cognitive: Cognitive
    kind: ItemKind
    industry40: str | None = None
    stem: str = Field(min_length=10)
    figure: Figure | None = None
    options: list[Option]
    reference: str = Field(min_length=3)

    @field_validator("options")
    @classmethod
    def _four_options_one_correct(cls, options: list[Option]) -> list[Option]:
        if len(options) != 4:
            raise ValueError(f"needs exactly 4 options, has {len(options)}")
        correct = sum(o.correct for o in options)
        if correct != 1:
            raise ValueError(f"needs exactly one correct option, has {correct}")
        if len({o.text.strip().lower() for o in options}) != 4:
            raise ValueError("two options have the same text")
        return options

    @model_validator(mode="after")
    def _figure_kinds_need_a_figure(self) -> Item:
        if self.kind in ("figure", "table") and self.figure is None:
            raise ValueError(f"a {self.kind} item needs a figure")
        return self

    @property
    def module(self) -> str:
        return self.key_activity.split(".", 1)[0]

    @property
    def answer_index(self) -> int:
        return next(i for i, o in enumerate(self.options) if o.correct)


class ItemFile(Strict):
    module: str
    items: list[Item]


class KeyTerm(Strict):
    term: str
    definition: str


class LessonFigure(Strict):
    """A drawing that teaches better than words, shown in the lesson at ``after``.

    ``after`` is the exact text of a heading, or the first words of a paragraph, in the
    body or the worked example; or ``end`` (after the body) or ``example`` (after the
    worked example). Length and anchor rules are `content validate` checks (checks.py),
    so a broken figure is named in one line instead of failing the whole file.
    """

    kind: Literal["svg"] = "svg"
    content: str = Field(min_length=1)
    alt: str = Field(default="", description="the same teaching, in words, for screen readers")
    caption: str = Field(default="", description="a short visible caption")
    after: str = Field(min_length=1)


class Lesson(Strict):
    id: str = Field(pattern=r"^LES-[a-z]+-[a-z0-9-]+$")
    key_activity: str
    title: str
    objectives: list[str] = Field(min_length=2)
    body: str
    example: str
    key_terms: list[KeyTerm] = Field(min_length=3)
    checks: list[str] = Field(default_factory=list)
    figures: list[LessonFigure] = Field(default_factory=list)


class LessonFile(Strict):
    module: str
    lessons: list[Lesson]
