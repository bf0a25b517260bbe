"""The student's pages: home, module, lesson, players (drill, practice test, mock exam),
results and mastery. Server-rendered forms that work without JavaScript; a small script
adds the exam countdown."""

from __future__ import annotations

import secrets
from random import Random
from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request
from markupsafe import Markup
from sqlalchemy import bindparam, select

from lti_tool.curriculum.figures import FigureError, sanitize_svg
from lti_tool.curriculum.modules import technologies
from lti_tool.curriculum.render import lesson_html, markdown_to_html
from lti_tool.models import (
    Attempt,
    AttemptMode,
    AttemptStatus,
    Course,
    Platform,
    User,
)
from lti_tool.practice import catalog, modes
from lti_tool.practice.errors import AttemptClosedError
from lti_tool.practice.mastery import next_topic
from lti_tool.practice.placement import link_placement
from lti_tool.practice.service import PracticeService
from lti_tool.web import inputs
from lti_tool.web.auth import link, login_required
from lti_tool.web.runtime import runtime

bp = Blueprint("student", __name__)


def _svc(db) -> PracticeService:
    return PracticeService(db, runtime().clock, Random())


@bp.app_template_filter("markdown")
def _markdown(text: str) -> Markup:
    return Markup(markdown_to_html(text or ""))  # noqa: S704 - html=False renderer


@bp.app_template_filter("figure")
def _figure(figure: dict | None) -> Markup:
    if not figure:
        return Markup("")
    alt = Markup.escape(figure.get("alt", ""))
    kind, content = figure.get("kind"), figure.get("content", "")
    if kind == "table":
        body = Markup(markdown_to_html(content))  # noqa: S704
    elif kind == "svg":
        try:
            body = Markup(sanitize_svg(content))  # noqa: S704 - allow-listed drawing
        except FigureError:
            body = Markup("")
        return Markup(f'<figure class="item-figure" role="img" aria-label="{alt}">{body}'
                      f'<figcaption class="visually-hidden">{alt}</figcaption></figure>')
    else:
        body = Markup("<p>") + Markup("<br>").join(
            Markup.escape(line) for line in content.splitlines()) + Markup("</p>")
    return Markup(f'<figure class="item-figure">{body}</figure>')


@bp.app_template_filter("lesson_html")
def _lesson_html(lesson: Any) -> tuple[Markup, Markup]:
    """(body, worked example) with the lesson's figures at their anchors."""
    figures = [f.model_dump() if hasattr(f, "model_dump") else f
               for f in getattr(lesson, "figures", None) or []]
    body, example = lesson_html(lesson.body, lesson.example, figures)
    return Markup(body), Markup(example)  # noqa: S704 - html=False Markdown, allow-listed SVG


@bp.app_context_processor
def _helpers():
    return {"link": link, "viewer": g.get("viewer")}


def _progress(db, user_id: int) -> dict[str, dict]:
    mastery = _svc(db).mastery(user_id)
    by_module: dict[str, dict] = {}
    shape = catalog.outline(db)  # the curriculum's shape is cached with the item bank
    kas = {ka_id: module_id for module_id, activities in shape.activities.items()
           for ka_id, _ in activities}
    for activity in mastery.activities:
        entry = by_module.setdefault(kas[activity.key_activity_id],
                                     {"activities": 0, "mastered": 0, "answers": 0})
        entry["activities"] += 1
        entry["mastered"] += int(activity.level == "mastered")
        entry["answers"] += activity.evidence
    for r in mastery.readiness:
        by_module.setdefault(r.module_id, {})["readiness"] = r
    done = set(db.scalars(select(Attempt.lesson_id).where(
        Attempt.user_id == user_id, Attempt.mode.in_(modes.LESSON_MODES),
        Attempt.status == AttemptStatus.SUBMITTED)))
    for module_id, lesson_ids in shape.lessons.items():
        if not lesson_ids:
            continue
        entry = by_module.setdefault(module_id, {})
        entry["lessons"] = len(lesson_ids)
        entry["lessons_done"] = sum(1 for lesson_id in lesson_ids if lesson_id in done)
    return by_module


# The student, their platform and the course they launched from, in one round trip.
_WHO_AND_WHERE = (select(User, Platform, Course)
                  .join(Platform, Platform.id == User.platform_id)
                  .outerjoin(Course, Course.id == bindparam("course_id"))
                  .where(User.id == bindparam("user_id")))


@bp.get("/home")
@login_required
def home():
    with runtime().transaction() as db:
        progress = _progress(db, g.viewer.user_id)
        user, platform, course = db.execute(_WHO_AND_WHERE, {
            "user_id": g.viewer.user_id, "course_id": g.viewer.course_id}).first() or (
            None, None, None)
        modules = catalog.modules(db)
        return render_template("student_home.html", modules=modules,
                               progress=progress, user=user, course=course,
                               platform=platform,
                               sittings=_svc(db).open_sittings(g.viewer.user_id,
                                                               g.viewer.course_id),
                               module_titles={m.id: m.title for m in modules},
                               activity_titles=_activity_titles(db),
                               technologies=[t.title for t in technologies()])


def _activity_titles(db) -> dict[str, str]:
    return {ka_id: title for activities in catalog.outline(db).activities.values()
            for ka_id, title in activities}


@bp.get("/modules/<module_id>")
@login_required
def module(module_id: str):
    with runtime().transaction() as db:
        row = catalog.module(db, module_id)
        if row is None:
            abort(404, description="There is no such module.")
        svc = _svc(db)
        mine = svc.mastery(g.viewer.user_id)
        mastery = {a.key_activity_id: a for a in mine.activities}
        shape = catalog.outline(db)
        activities = catalog.live_activities(db, module_id)
        lessons = {shape.lesson_rows[lesson_id].key_activity_id: shape.lesson_rows[lesson_id]
                   for lesson_id in shape.lessons.get(module_id, [])}
        readiness = next(r for r in mine.readiness if r.module_id == module_id)
        multiplier = svc.time_multiplier(g.viewer.user_id, g.viewer.course_id)
        return render_template(
            "student_module.html", module=row, activities=activities, lessons=lessons,
            mastery=mastery, readiness=readiness,
            mock_minutes=round(row.exam_minutes * multiplier),
            sittings=svc.open_sittings(g.viewer.user_id, g.viewer.course_id, module_id),
            module_titles={module_id: row.title}, activity_titles=_activity_titles(db))


def _mode_and_module(source) -> tuple[AttemptMode, str]:
    try:
        mode = AttemptMode(source.get("mode", ""))
    except ValueError:
        abort(400, description=f"Pick a {modes.LABELS_TEXT}.")
    module_id = source.get("module_id", "")
    if len(module_id) > inputs.MAX_ID_TEXT:
        abort(400, description="module_id names no module.")
    return mode, module_id


def _placed_size(db, mode: AttemptMode, module_id: str) -> int | None:
    """The size of the activity the viewer's link placed, when it is this one: starting
    it from the start screen of a placed link counts toward that link's grade."""
    placed = link_placement(db, g.viewer.resource_link_id)
    return placed.size_for(mode, module_id) if placed else None


@bp.get("/attempts/new")
@login_required
def start_screen():
    """Before the clock starts: how many questions, the time limit with the student's
    extra time, the rules. Nothing is created until the student presses Start."""
    mode, module_id = _mode_and_module(request.args)
    if not modes.spec(mode).graded:
        abort(404, description="Only practice tests and mock exams have a start screen.")
    with runtime().transaction() as db:
        module = catalog.module(db, module_id)
        if module is None:
            abort(404, description="There is no such module.")
        facts = _svc(db).start_facts(
            g.viewer.user_id, mode, module_id, course_id=g.viewer.course_id,
            resource_link_id=g.viewer.resource_link_id,
            size=_placed_size(db, mode, module_id))
        return render_template("student_start.html", module=module, facts=facts)


@bp.post("/attempts")
@login_required
def start():
    form = request.form
    mode, module_id = _mode_and_module(form)
    with runtime().transaction() as db:
        size = _placed_size(db, mode, module_id) if modes.spec(mode).graded else None
        attempt = _svc(db).start(
            g.viewer.user_id, mode, module_id, course_id=g.viewer.course_id,
            resource_link_id=g.viewer.resource_link_id,
            key_activity_id=form.get("key_activity_id") or None,
            lesson_id=form.get("lesson_id") or None, size=size)
        attempt_id = attempt.id
    return redirect(link("student.play", attempt_id=attempt_id), 303)


@bp.get("/attempts/<attempt_id>")
@login_required
def play(attempt_id: str):
    position = inputs.form_number(request.args, "position", *inputs.POSITION)
    rt = runtime()
    with rt.transaction() as db:
        svc = _svc(db)
        try:  # checks ownership (404) and the deadline (auto-submits) first
            item = svc.item(attempt_id, g.viewer.user_id, position)
        except AttemptClosedError:
            return redirect(link("student.results", attempt_id=attempt_id), 303)
        attempt = db.get(Attempt, attempt_id)  # already in the session: no query
        lesson = catalog.lesson(db, attempt.lesson_id) if attempt.lesson_id else None
        module = catalog.module(db, attempt.module_id)
        seconds_left = (max(0, int((attempt.deadline_at - rt.clock()).total_seconds()))
                        if attempt.deadline_at else None)
        navigable = modes.spec(attempt.mode).graded
        if navigable and item is None:  # everything answered: on to the check before submit
            return redirect(link("student.submit_review", attempt_id=attempt_id), 303)
        answered = svc.answered_positions(attempt_id, g.viewer.user_id) if navigable \
            else set()
        return render_template("student_play.html", attempt=attempt, item=item,
                               lesson=lesson, module=module, seconds_left=seconds_left,
                               navigable=navigable, answered=answered,
                               flagged=set(attempt.flagged or []),
                               key=secrets.token_urlsafe(12))


# Where the player's buttons go after saving: the next or previous question, a question
# of the navigator, this one again (after flagging) or the page before submitting.
_MOVES = {"next", "prev", "flag", "unflag", "review"}


def _target(go: str, position: int | None, total: int) -> int | str | None:
    if position is None:
        return None
    if go == "prev":
        return max(1, position - 1)
    if go in ("flag", "unflag"):
        return position
    if go == "review" or (go == "next" and position >= total):
        return "review"
    if go.isdigit() and 1 <= int(go) <= total:
        return int(go)
    return position + 1


@bp.post("/attempts/<attempt_id>/answer")
@login_required
def answer(attempt_id: str):
    form = request.form
    choice = inputs.form_number(form, "choice", *inputs.CHOICE)
    saved = inputs.form_number(form, "saved", *inputs.CHOICE)
    go = form.get("go", "next")[:8]
    if go not in _MOVES and not (go.isdigit() and len(go) <= 4):
        abort(400, description="That button goes nowhere.")
    position = inputs.form_number(form, "position", *inputs.POSITION)
    if len(form.get("item_id", "")) > inputs.MAX_ID_TEXT:
        abort(400, description="item_id names no item.")
    with runtime().transaction() as db:
        svc = _svc(db)
        result = None
        try:
            if choice is not None and choice != saved:  # an unchanged answer is not re-sent
                result = svc.answer(attempt_id, g.viewer.user_id, form.get("item_id", ""),
                                    choice, form.get("idempotency_key", "")[:64]
                                    or secrets.token_hex(8))
            # already read by the answer (no second query on the answer path)
            attempt = svc.sitting_row(attempt_id, g.viewer.user_id)
            navigable = modes.spec(attempt.mode).graded
            if choice is None and not (navigable and "go" in form):
                abort(400, description="Choose an answer first.")
            if navigable and go in ("flag", "unflag") and position is not None:
                svc.set_flag(attempt_id, g.viewer.user_id, position, go == "flag")
        except AttemptClosedError:  # time ran out (or another tab submitted): the results
            return redirect(link("student.results", attempt_id=attempt_id), 303)
        if result is not None and result.feedback is not None:
            item = catalog.items(db)[result.item_id]
            return render_template("student_feedback.html", attempt=attempt, item=item,
                                   result=result)
        if not navigable:
            return redirect(link("student.play", attempt_id=attempt_id), 303)
        target = _target(go, position, len(attempt.item_ids))
    if target == "review":
        return redirect(link("student.submit_review", attempt_id=attempt_id), 303)
    return redirect(link("student.play", attempt_id=attempt_id, position=target)
                    if target else link("student.play", attempt_id=attempt_id), 303)


@bp.get("/attempts/<attempt_id>/submit")
@login_required
def submit_review(attempt_id: str):
    """The page before submitting a test or exam: what is answered, unanswered and
    flagged, with links back, and the one button that submits."""
    rt = runtime()
    with rt.transaction() as db:
        svc = _svc(db)
        try:
            sitting = svc.sitting(attempt_id, g.viewer.user_id)
        except AttemptClosedError:
            return redirect(link("student.results", attempt_id=attempt_id), 303)
        if sitting.total is None:  # a drill or lesson has nothing to review first
            return redirect(link("student.play", attempt_id=attempt_id), 303)
        answered = svc.answered_positions(attempt_id, g.viewer.user_id)
        module = catalog.module(db, sitting.module_id)
        return render_template("student_submit.html", sitting=sitting, module=module,
                               answered=answered)


@bp.post("/attempts/<attempt_id>/submit")
@login_required
def submit(attempt_id: str):
    """Scoring happens only on an explicit confirm (the page before submitting sends it);
    a stray submit of a test or exam lands on that page instead of ending the exam."""
    with runtime().transaction() as db:
        svc = _svc(db)
        attempt = svc.sitting_row(attempt_id, g.viewer.user_id)
        needs_confirm = (modes.spec(attempt.mode).graded
                         and attempt.status == AttemptStatus.OPEN)
        if needs_confirm and request.form.get("confirm") != "yes":
            return redirect(link("student.submit_review", attempt_id=attempt_id), 303)
        svc.finish(attempt_id, g.viewer.user_id)
    return redirect(link("student.results", attempt_id=attempt_id), 303)


@bp.get("/attempts/<attempt_id>/results")
@login_required
def results(attempt_id: str):
    with runtime().transaction() as db:
        result = _svc(db).results(attempt_id, g.viewer.user_id)
        module = catalog.module(db, result.module_id)
        return render_template("student_results.html", result=result, module=module,
                               lessons=_live_lessons(db))


@bp.get("/mastery")
@login_required
def mastery():
    with runtime().transaction() as db:
        data = _svc(db).mastery(g.viewer.user_id)
        kas = catalog.key_activities(db)
        # The next topic comes from the modules the student has started first: someone
        # working on module 3 is not sent back to module 1's first topic.
        live = [a for a in data.activities if a.key_activity_id in kas]
        started = {kas[a.key_activity_id].module_id for a in live if a.evidence}
        ordered = sorted(live, key=lambda a: kas[a.key_activity_id].module_id not in started)
        return render_template("student_mastery.html", mastery=data, kas=kas,
                               modules=catalog.modules(db), lessons=_live_lessons(db),
                               next_step=next_topic(ordered))


def _live_lessons(db) -> dict[str, catalog.CachedLesson]:
    """Each key activity's live lesson, for the lesson links beside its drill."""
    shape = catalog.outline(db)
    return {shape.lesson_rows[lesson_id].key_activity_id: shape.lesson_rows[lesson_id]
            for lesson_ids in shape.lessons.values() for lesson_id in lesson_ids}
