"""Benchmark: exam week - real LTI launches and the student and instructor pages, under
gunicorn, on SQLite and on PostgreSQL (issue 8).

    .venv/bin/python bench/load.py [--students 500] [--workers 3] [--database both]
                                   [--postgres-url URL] [--think-ms 8000] [--ramp 45]
                                   [--duration 180] [--connections 16] [--saturation 8]

Loopback only, bounded in count and time. Per backend:

Setup (not timed): a fresh database (SQLite in a temp dir; PostgreSQL's ``public`` schema
dropped and recreated, then migrated) with the tool's key, the sandbox LMS's two platforms
and the curriculum. Two gunicorns on free loopback ports: the tool with ``--workers``
workers (the one measured), and a one-worker copy serving only as the sandbox LMS's origin
(``CPT_LTI_SANDBOX_BASE_URL``), so the tool fetches the platform JWKS from elsewhere, as
from a real LMS. Each section's instructor launches once (places the tool: course, link,
JWKS cache), and a few warm-up students run the whole script once with no think time, so
no first-render cost lands in the figures.

1. Exam week (latency): ``--students`` students in sections of 25 (even sections on the
   Canvas-shaped platform, odd on the Moodle-shaped one) with one instructor each arrive
   at random over ``--ramp`` seconds. Every launch is a real LTI 1.3 launch: the LMS's
   login initiation POSTed to /lti/login (state cookie; a 302 to the platform's auth URL,
   or Canvas's platform-storage page), then an id_token for the nonce the tool issued,
   signed with the sandbox platform's RSA key by this client (the LMS's work: timed apart,
   in no latency), POSTed with the state to /lti/launch. Then, with a think time before
   each click (exponential, mean ``--think-ms``, capped at 5x), the clicks the pages' forms
   and links make: home, a module page, and either (most students) a lesson, a drill of
   ``--answers`` answers (feedback page, "Next question") and "End drill", or (one in
   ``--exam-every``) a timed mock exam with ``--exam-answers`` answers, submit and
   results; then the mastery map. Instructors open the class overview and the item
   analysis ``--instructor-views`` times, thinking three times as long. Nobody starts a
   click after ``--duration`` seconds.
2. Saturation (throughput, same gunicorn): ``--connections`` clients back to back for
   ``--saturation`` seconds each: /ping (no DB, no template), then /lti/login for the
   phase-1 students (a returning student's login), then /lti/launch with those logins'
   states and nonces (signed in between, untimed), then /ping again. Prints each rate and
   launch : ping (target at least 0.25), and the whole round trip's rate.

Errors: a status other than the one the browser expects there, a connection error, or the
tool's error page. Printed per backend: per route requests, req/s, p50/p95/p99 and errors;
the error rate; the gunicorn workers' peak RSS (VmHWM); the server log's errors; targets
(2 cores: zero errors, p95 under 100 ms on student routes, launch at least 25% of /ping)
with PASS/MISS. Exit status 1 if any target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from random import Random
from typing import IO, Any
from urllib.parse import parse_qs, urljoin, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.serialization import load_pem_private_key

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "tests"))  # tests/factories.py: builders shared with the tests

import factories  # noqa: E402
from factories import db_sessions, tool_env  # noqa: E402
from harness import (  # noqa: E402
    free_port,
    gunicorn_server,
    peak_rss_mib,
    postgres_cluster,
    worker_pids,
)
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from lti_tool.db import transaction  # noqa: E402
from lti_tool.delivery.sealed import new_key  # noqa: E402
from lti_tool.ops.migrate import upgrade_to_head  # noqa: E402
from lti_tool.sandbox import lms  # noqa: E402
from lti_tool.sandbox.platforms import (  # noqa: E402
    CANVAS,
    MOODLE,
    PLATFORMS,
    Person,
    SandboxPlatform,
)
from lti_tool.sandbox.setup import sandbox_key  # noqa: E402
from lti_tool.settings import Settings, load_settings  # noqa: E402

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LINK = lms.DEMO_LINKS[0]  # the course's "CPT Practice" link: students land on home
SECTION_SIZE = 25
ERROR_MARK = 'class="error" role="alert"'  # http_error.html and launch_error.html
IDLE_CLOSE_SECONDS = 4.0  # gunicorn's keepalive is 5 s: reconnect rather than race its close
P95_TARGET_MS = 100.0
TIMELINE_WINDOW = 15.0
LAUNCH_RATIO_TARGET = 0.25

LOGIN = "POST /lti/login"
LAUNCH = "POST /lti/launch (student)"
LANDING = "GET /home?s= (cookie back: 303 to /home)"
HOME = "GET /home"
MODULE = "GET /modules/<id>"
START_SCREEN = "GET /attempts/new (start screen)"
START = "POST /attempts (start)"
LESSON = "GET /attempts/<id> (lesson)"
ITEM = "GET /attempts/<id> (question)"
ANSWER = "POST /attempts/<id>/answer (drill)"
EXAM_ANSWER = "POST /attempts/<id>/answer (exam)"
CHECK = "GET /attempts/<id>/submit (check before submitting)"
SUBMIT = "POST /attempts/<id>/submit"
RESULTS = "GET /attempts/<id>/results"
MASTERY = "GET /mastery"
STAFF_LAUNCH = "POST /lti/launch (instructor)"
CLASS = "GET /instructor/class"
ITEMS = "GET /instructor/items"
ROUTES = (LOGIN, LAUNCH, LANDING, HOME, MODULE, START_SCREEN, START, LESSON, ITEM, ANSWER,
          EXAM_ANSWER, CHECK, SUBMIT, RESULTS, MASTERY, STAFF_LAUNCH, CLASS, ITEMS)
STAFF_ROUTES = {STAFF_LAUNCH, CLASS, ITEMS}


# -- who takes part ------------------------------------------------------------------------
@dataclass(frozen=True)
class Section:
    platform: SandboxPlatform
    context_id: str
    label: str
    title: str


@dataclass(frozen=True)
class Member:
    section: Section
    person: Person


def people(students: int) -> tuple[list[Member], list[Member]]:
    """Students in sections of 25, alternating between the two sandbox LMSs, and one
    instructor per section (the sandbox platforms know only four people each)."""
    sections = [Section(CANVAS if k % 2 == 0 else MOODLE, f"load-section-{k:03d}",
                        f"CPT-{k:03d}", f"CPT 4.0 exam preparation, section {k}")
                for k in range(-(-students // SECTION_SIZE))]
    learners = [Member(sections[n // SECTION_SIZE], Person(
        f"load-student-{n:05d}", "Student", f"No. {n}", f"student{n}@load.test", "learner"))
        for n in range(students)]
    staff = [Member(s, Person(f"load-instructor-{k:03d}", "Instructor", f"No. {k}",
                              f"instructor{k}@load.test", "instructor"))
             for k, s in enumerate(sections)]
    return learners, staff


class Lms:
    """The LMS's part of a launch, done by the client: login initiation parameters, and
    id_tokens signed with the sandbox platform's real RSA key (as lms.sign does)."""

    def __init__(self, settings: Settings, keys: dict[str, tuple[str, str]]) -> None:
        self.settings = settings
        self.keys = {name: (kid, load_pem_private_key(pem.encode(), password=None))
                     for name, (kid, pem) in keys.items()}
        self.sign_seconds: list[float] = []

    def login_params(self, member: Member) -> dict[str, str]:
        return lms.login_initiation(self.settings, member.section.platform, member.person,
                                    LINK)

    def id_token(self, member: Member, nonce: str) -> str:
        began = time.perf_counter()
        section = member.section
        claims = lms.id_token_claims(self.settings, section.platform, member.person, LINK,
                                     "LtiResourceLinkRequest", nonce,
                                     self.settings.url("/lti/launch"), datetime.now(UTC))
        claims[CLAIM + "context"] = {**claims[CLAIM + "context"], "id": section.context_id,
                                     "label": section.label, "title": section.title}
        kid, key = self.keys[section.platform.key]
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
        self.sign_seconds.append(time.perf_counter() - began)
        return token


# -- measuring -----------------------------------------------------------------------------
class Recorder:
    """Latency per route and every failure with its reason (appends are thread-safe)."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.reasons: list[str] = []
        self.timeline: list[tuple[float, float]] = []  # (when it began, seconds)

    def add(self, route: str, seconds: float | None, problem: str | None) -> None:
        if seconds is not None:
            self.seconds[route].append(seconds)
            self.timeline.append((time.monotonic() - seconds, seconds))
        if problem:
            self.errors[route] += 1
            self.reasons.append(f"{route}: {problem}")

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.seconds.values()) + sum(
            n for route, n in self.errors.items() if route.endswith("(no answer)"))


class Stop(Exception):
    """The phase is over: this person makes no more clicks."""


class Failed(Exception):
    """A request failed (already recorded); this person gives up, as a user would."""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def error_title(html: str) -> str:
    match = re.search(r"<h1>(.*?)</h1>", html, re.S)
    return match.group(1).strip()[:80] if match else "?"


class Browser:
    """One person's browser: its cookies, its connection, and the clicks it times."""

    def __init__(self, base: str, recorder: Recorder, deadline: float) -> None:
        self.base = base
        self.recorder = recorder
        self.deadline = deadline
        self.http = requests.Session()
        self.last = 0.0

    def call(self, route: str, method: str, url: str, expect: tuple[int, ...],
             **kwargs: Any) -> requests.Response:
        if time.monotonic() > self.deadline:
            raise Stop
        if self.last and time.monotonic() - self.last > IDLE_CLOSE_SECONDS:
            self.http.close()  # the server closed it by now; a browser would reconnect
        began = time.perf_counter()
        try:
            response = self.http.request(method, urljoin(self.base, url),
                                         allow_redirects=False, timeout=60, **kwargs)
        except requests.RequestException as exc:
            self.recorder.add(route + " (no answer)", None, f"{type(exc).__name__}: {exc}")
            raise Failed from exc
        took = time.perf_counter() - began
        self.last = time.monotonic()
        problem = None
        if response.status_code not in expect:
            problem = f"status {response.status_code} ({error_title(response.text)})"
        elif ERROR_MARK in response.text:
            problem = f"error page ({error_title(response.text)})"
        self.recorder.add(route, took, problem)
        if problem:
            raise Failed
        return response

    def follow(self, route: str, response: requests.Response,
               expect: tuple[int, ...] = (200,)) -> requests.Response:
        """GET the page a 303 names, as a browser does after a form POST."""
        return self.call(route, "GET", response.headers["Location"], expect)

    def think(self, rng: Random, mean: float) -> None:
        pause = min(rng.expovariate(1 / mean), 5 * mean) if mean > 0 else 0.0
        if time.monotonic() + pause > self.deadline:
            raise Stop
        time.sleep(pause)

    def close(self) -> None:
        self.http.close()


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)

    def data(self, **extra: str) -> dict[str, str]:
        return {**self.fields, **extra}


class FormParser(HTMLParser):
    """Every form on a page: hidden fields, named buttons, radio choices."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", "")))
        elif self.forms and tag == "input" and a.get("type") == "hidden":
            self.forms[-1].fields[a.get("name", "")] = a.get("value", "")
        elif self.forms and tag == "input" and a.get("type") == "radio":
            self.forms[-1].choices.append(a.get("value", ""))
        elif self.forms and tag == "button" and a.get("name"):
            self.forms[-1].buttons.append((a["name"], a.get("value", "")))


def forms(html: str) -> list[Form]:
    parser = FormParser()
    parser.feed(html)
    return parser.forms


def pick(found: list[Form], what: str, test: Callable[[Form], bool]) -> Form:
    for form in found:
        if test(form):
            return form
    raise RuntimeError(f"the page has no {what} form")


# -- what people do ------------------------------------------------------------------------
def launch(browser: Browser, lms_: Lms, member: Member, route: str, expect: tuple[int, ...]
           ) -> requests.Response:
    """The OIDC round trip: login initiation, then the id_token for the issued nonce."""
    login = login_step(browser, lms_, member)
    if login is None:
        raise Failed
    state, nonce, redirect_uri = login
    return browser.call(route, "POST", redirect_uri, expect, data={
        "id_token": lms_.id_token(member, nonce), "state": state})


def login_step(browser: Browser, lms_: Lms, member: Member) -> tuple[str, str, str] | None:
    """POST the login initiation; (state, nonce, redirect_uri) from the 302 to the
    platform's auth URL, or from Canvas's platform-storage page (200)."""
    storage = member.section.platform.storage_target is not None
    r = browser.call(LOGIN, "POST", "/lti/login", (200,) if storage else (302,),
                     data=lms_.login_params(member))
    if storage:
        match = re.search(r'<script id="lti-storage" type="application/json">(.*?)</script>',
                          r.text, re.S)
        if not match:
            browser.recorder.add(LOGIN, None, "no platform-storage settings on the page")
            return None
        location = json.loads(match.group(1))["redirect"]
    else:
        location = r.headers["Location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return query["state"], query["nonce"], query["redirect_uri"]


@dataclass(frozen=True)
class Plan:
    think: float  # seconds, mean
    answers: int
    exam_answers: int
    exam_every: int
    instructor_views: int


def student(browser: Browser, lms_: Lms, member: Member, rng: Random, plan: Plan,
            takes_exam: bool) -> None:
    r = launch(browser, lms_, member, LAUNCH, (303,))
    # The landing URL carries the session id; the cookie came back, so the tool sends the
    # browser on to the same page without it (issue 15), as it does a real browser.
    r = browser.follow(LANDING, r, (303,))
    r = browser.follow(HOME, r)
    modules = sorted(set(re.findall(r'href="(/modules/[^"?]+)', r.text)))
    if not modules:
        browser.recorder.add(HOME, None, "home page lists no modules")
        raise Failed
    browser.think(rng, plan.think)
    module_page = browser.call(MODULE, "GET", rng.choice(modules), (200,))
    page = forms(module_page.text)
    if takes_exam:
        # The module page links the exam's start screen; its Start button starts the clock.
        screen = re.search(r'href="([^"]+mode=mock)"', module_page.text)
        if screen is None:
            raise RuntimeError("the module page has no mock exam link")
        browser.think(rng, plan.think)
        r = browser.call(START_SCREEN, "GET", screen.group(1).replace("&amp;", "&"), (200,))
        exam = pick(forms(r.text), "exam start", lambda f: f.fields.get("mode") == "mock")
        browser.think(rng, plan.think)
        r = browser.call(START, "POST", exam.action, (303,), data=exam.data())
        r = browser.follow(ITEM, r)
        for _ in range(plan.exam_answers):
            question = pick(forms(r.text), "question", lambda f: "item_id" in f.fields)
            browser.think(rng, plan.think)
            r = browser.call(EXAM_ANSWER, "POST", question.action, (303,), data=question.data(
                choice=rng.choice(question.choices)))
            r = browser.follow(ITEM, r)
    else:
        lessons = [f for f in page if "lesson_id" in f.fields]
        if lessons:
            lesson = rng.choice(lessons)
            browser.think(rng, plan.think)
            r = browser.call(START, "POST", lesson.action, (303,),
                             data=lesson.data(mode="lesson"))
            browser.follow(LESSON, r)
            browser.think(rng, 2 * plan.think)  # reading
        drill = rng.choice([f for f in page if "key_activity_id" in f.fields])
        browser.think(rng, plan.think)
        r = browser.call(START, "POST", drill.action, (303,), data=drill.data(mode="drill"))
        r = browser.follow(ITEM, r)
        for _ in range(plan.answers):
            question = pick(forms(r.text), "question", lambda f: "item_id" in f.fields)
            browser.think(rng, plan.think)
            r = browser.call(ANSWER, "POST", question.action, (200,), data=question.data(
                choice=rng.choice(question.choices)))
            next_link = re.search(r'href="([^"]+)"[^>]*>Next question', r.text)
            if next_link is None:
                break  # the drill closed itself
            browser.think(rng, plan.think / 4)  # read the feedback
            r = browser.call(ITEM, "GET", next_link.group(1).replace("&amp;", "&"), (200,))
    check = re.search(r'href="([^"]+/submit[^"]*)">Review and submit', r.text)
    if check is not None:  # a test or exam: the check before submitting, then confirm
        browser.think(rng, plan.think)
        r = browser.call(CHECK, "GET", check.group(1).replace("&amp;", "&"), (200,))
    end = pick(forms(r.text), "submit", lambda f: f.action.endswith("/submit"))
    browser.think(rng, plan.think)
    r = browser.call(SUBMIT, "POST", end.action, (303,), data=end.data())
    browser.follow(RESULTS, r)
    browser.think(rng, plan.think)
    browser.call(MASTERY, "GET", "/mastery", (200,))


def instructor(browser: Browser, lms_: Lms, member: Member, rng: Random, plan: Plan) -> None:
    launch(browser, lms_, member, STAFF_LAUNCH, (200,))
    for _ in range(plan.instructor_views):
        browser.think(rng, 3 * plan.think)
        browser.call(CLASS, "GET", "/instructor/class", (200,))
        browser.think(rng, 3 * plan.think)
        browser.call(ITEMS, "GET", "/instructor/items", (200,))


def crowd(base: str, lms_: Lms, learners: list[Member], staff: list[Member], plan: Plan,
          ramp: float, duration: float, recorder: Recorder, seed: int
          ) -> tuple[float, dict[str, int]]:
    """Everyone at once, each arriving at a random moment of the ramp; returns the phase's
    wall time and how many people finished, were cut short, or failed."""
    began = time.monotonic()
    deadline = began + duration
    outcomes: dict[str, int] = defaultdict(int)

    def one(job: tuple[int, Member, bool]) -> str:
        n, member, is_staff = job
        rng = Random(f"{seed}-{n}")
        # Instructors look in once their class is under way.
        arrive = rng.uniform(ramp / 3, ramp) if is_staff else rng.uniform(0, ramp)
        time.sleep(max(0.0, began + arrive - time.monotonic()))
        browser = Browser(base, recorder, deadline)
        try:
            if is_staff:
                instructor(browser, lms_, member, rng, plan)
            else:
                student(browser, lms_, member, rng, plan,
                        plan.exam_every > 0 and n % plan.exam_every == plan.exam_every - 1)
            return "finished"
        except Stop:
            return "cut short"
        except Failed:
            return "failed"
        except (RuntimeError, KeyError) as exc:  # a page without what the script needs
            recorder.add("script", None, f"{type(exc).__name__}: {exc}")
            return "failed"
        finally:
            browser.close()

    jobs = [(n, m, False) for n, m in enumerate(learners)] + [
        (len(learners) + k, m, True) for k, m in enumerate(staff)]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        for outcome in pool.map(one, jobs):
            outcomes[outcome] += 1
    return time.monotonic() - began, dict(outcomes)


# -- saturation ----------------------------------------------------------------------------
def for_seconds(connections: int, seconds: float, work: Callable[[requests.Session], bool]
                ) -> tuple[float, int, int]:
    """``connections`` threads call ``work`` back to back for ``seconds`` (or until it says
    there is nothing left); returns (rate of successes per second, successes, failures)."""
    counts = [[0, 0] for _ in range(connections)]
    failures: list[str] = []
    start = threading.Barrier(connections + 1)
    end_at = [0.0]

    def run(k: int) -> None:
        http = requests.Session()
        start.wait()
        try:
            while time.monotonic() < end_at[0]:
                http.cookies.clear()
                try:
                    outcome = work(http)
                except StopIteration:
                    return
                except (requests.RequestException, KeyError, ValueError) as exc:
                    outcome = False
                    failures.append(f"{type(exc).__name__}: {exc}")
                counts[k][0 if outcome else 1] += 1
        finally:
            http.close()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    end_at[0] = time.monotonic() + seconds
    began = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    ok, bad = sum(c[0] for c in counts), sum(c[1] for c in counts)
    for failure in failures[:5]:
        print(f"  saturation request failed: {failure}")
    return ok / elapsed, ok, bad


@dataclass
class Saturation:
    ping_before: float
    ping_after: float
    login: float
    launch: float
    launches: int
    errors: int
    reasons: list[str]
    cost: dict[str, float]  # tool workers' CPU ms per request; "<route> machine": cores busy

    @property
    def ping(self) -> float:
        return (self.ping_before + self.ping_after) / 2

    def requests(self, seconds: float) -> int:
        return int((self.ping_before + self.ping_after + self.login) * seconds) + self.launches

    @property
    def round_trip(self) -> float:
        return 1 / (1 / self.login + 1 / self.launch) if self.login and self.launch else 0.0


def saturate(base: str, lms_: Lms, learners: list[Member], connections: int,
             seconds: float, usage: Callable[[], Usage]) -> Saturation:
    """Each route alone at full speed; with the tool workers' CPU per request (from /proc,
    so it holds even when other work shares the machine) and the machine's busy cores."""
    reasons: list[str] = []
    lock = threading.Lock()

    def note(what: str) -> bool:
        with lock:
            if len(reasons) < 20:
                reasons.append(what)
        return False

    def ping(http: requests.Session) -> bool:
        r = http.get(f"{base}/ping", timeout=60)
        return r.status_code == 200 or note(f"/ping: status {r.status_code}")

    logins = iter(range(10**9))
    pending: list[tuple[Member, str, str, str, dict[str, str]]] = []

    def login(http: requests.Session) -> bool:
        member = learners[next(logins) % len(learners)]
        storage = member.section.platform.storage_target is not None
        r = http.post(f"{base}/lti/login", data=lms_.login_params(member),
                      allow_redirects=False, timeout=60)
        if r.status_code != (200 if storage else 302):
            return note(f"{LOGIN}: status {r.status_code}")
        if storage:
            cfg = re.search(r'<script id="lti-storage" type="application/json">(.*?)</script>',
                            r.text, re.S)
            location = json.loads(cfg.group(1))["redirect"] if cfg else ""
        else:
            location = r.headers["Location"]
        q = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        pending.append((member, q["state"], q["nonce"], q["redirect_uri"], dict(r.cookies)))
        return True

    def launch_(http: requests.Session) -> bool:
        try:
            state, token, redirect_uri, cookies = ready.pop()
        except IndexError:
            raise StopIteration from None
        r = http.post(redirect_uri, data={"id_token": token, "state": state}, cookies=cookies,
                      allow_redirects=False, timeout=60)
        if r.status_code != 303:
            return note(f"{LAUNCH}: status {r.status_code} ({error_title(r.text)})")
        return True

    cost: dict[str, list[float]] = defaultdict(list)

    def segment(name: str, work: Callable[[requests.Session], bool]) -> tuple[float, int, int]:
        before = usage()
        rate, ok, bad = for_seconds(connections, seconds, work)
        after = usage()
        cost[name].append((after.server - before.server) / max(1, ok + bad) * 1000)
        cost[name + " machine"].append((after.machine - before.machine) / (after.at - before.at))
        return rate, ok, bad

    ping_before, _, bad_ping1 = segment("ping", ping)
    login_rate, _, bad_login = segment("login", login)
    ready = [(state, lms_.id_token(member, nonce), uri, cookies)
             for member, state, nonce, uri, cookies in pending]
    launch_rate, launched, bad_launch = segment("launch", launch_)
    ping_after, _, bad_ping2 = segment("ping", ping)
    return Saturation(ping_before, ping_after, login_rate, launch_rate, launched,
                      bad_ping1 + bad_login + bad_launch + bad_ping2, reasons,
                      {k: statistics.mean(v) for k, v in cost.items()})


# -- the server ----------------------------------------------------------------------------
def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def prepare(url: str, settings: Settings) -> dict[str, tuple[str, str]]:
    """Fresh schema, tool key, sandbox platforms, curriculum; returns the sandbox
    platforms' (kid, private key PEM) for the client to sign with."""
    if make_url(url).get_backend_name() == "postgresql":
        reset_postgres(url)
    upgrade_to_head(url)
    now = datetime.now(UTC)
    factories.prepare(settings, lambda: now)
    engine, sessions = db_sessions(settings)
    try:
        with transaction(sessions) as db:
            keys = {}
            for platform in PLATFORMS.values():
                key = sandbox_key(db, platform)
                keys[platform.key] = (key.kid, key.private_key_pem)
            return keys
    finally:
        engine.dispose()


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU a live process has used (/proc/<pid>/stat); None once it ended."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy() -> float:
    """CPU seconds all cores have spent busy since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


class Watch:
    """Samples every second, so that processes which exit are still counted: the gunicorn
    workers (which pids served, peak RSS from VmHWM, CPU) and the PostgreSQL backends
    serving our database (CPU)."""

    def __init__(self, master_pid: int, database_url: str) -> None:
        self.master_pid = master_pid
        self.peaks: dict[int, float] = {}
        self.worker_cpu: dict[int, float] = {}
        self.db_cpu: dict[int, float] = {}
        self._db = (create_engine(database_url, poolclass=NullPool)
                    if make_url(database_url).get_backend_name() == "postgresql" else None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _db_pids(self) -> list[int]:
        if self._db is None:
            return []
        try:
            with self._db.connect() as conn:
                return list(conn.execute(text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()")).scalars())
        except Exception:  # noqa: BLE001 - accounting must not stop the benchmark
            return []

    def sample(self) -> None:
        for pid in worker_pids(self.master_pid):
            peak, cpu = peak_rss_mib(pid), cpu_seconds(pid)
            if peak is not None:
                self.peaks[pid] = max(peak, self.peaks.get(pid, 0.0))
            if cpu is not None:
                self.worker_cpu[pid] = max(cpu, self.worker_cpu.get(pid, 0.0))
        for pid in self._db_pids():
            cpu = cpu_seconds(pid)  # None when the server is not on this machine
            if cpu is not None:
                self.db_cpu[pid] = max(cpu, self.db_cpu.get(pid, 0.0))

    def usage(self) -> Usage:
        self.sample()
        return Usage(time.monotonic(), machine_busy(), sum(self.worker_cpu.values()),
                     sum(self.db_cpu.values()), sum(os.times()[:2]))

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.sample()

    @contextmanager
    def watching(self) -> Iterator[Watch]:
        self.sample()
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()
            if self._db is not None:
                self._db.dispose()


@dataclass(frozen=True)
class Usage:
    """CPU seconds used so far: the whole machine, the tool's workers, our database
    backends, this client (signing included)."""

    at: float
    machine: float
    server: float
    database: float
    client: float

    def since(self, start: Usage, requests_: int, label: str) -> str:
        wall = self.at - start.at
        cores = {name: (getattr(self, name) - getattr(start, name)) / wall
                 for name in ("machine", "server", "database", "client")}
        others = cores["machine"] - cores["server"] - cores["database"] - cores["client"]
        per = (self.server - start.server) / max(1, requests_) * 1000
        db = f", PostgreSQL backends {cores['database']:.2f}" if cores["database"] else ""
        return (f"CPU during {label} (cores busy of {os.cpu_count()}): machine "
                f"{cores['machine']:.2f} = tool workers {cores['server']:.2f} ({per:.1f} ms "
                f"per request){db}, this client {cores['client']:.2f}, everything else "
                f"{max(0.0, others):.2f} (other people's work, the LMS origin)")


def log_problems(log: IO[bytes]) -> list[str]:
    log.flush()
    log.seek(0)
    lines = log.read().decode(errors="replace").splitlines()
    return [line for line in lines if re.search(
        r"\[ERROR\]|Traceback|WORKER TIMEOUT|ERROR|CRITICAL|unexpected error", line)]


# -- one backend ---------------------------------------------------------------------------
def mark(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def run_backend(name: str, url: str, args: argparse.Namespace) -> bool:
    port, lms_port = free_port(), free_port()
    # test, not development: no template auto-reload (production refuses the sandbox);
    # a sealing key of the run: the servers open the tool key prepare() sealed.
    variables = tool_env(url, f"http://127.0.0.1:{port}", sealing_key=new_key(),
                         CPT_LTI_SANDBOX_BASE_URL=f"http://127.0.0.1:{lms_port}",
                         CPT_LTI_LOG_LEVEL="WARNING")
    settings = load_settings(env=variables)
    began = time.monotonic()
    keys = prepare(url, settings)
    lms_ = Lms(settings, keys)
    learners, staff = people(args.students)
    plan = Plan(args.think_ms / 1000, args.answers, args.exam_answers, args.exam_every,
                args.instructor_views)
    env = {**os.environ, **variables}
    print(f"\n=== {name}: setup {time.monotonic() - began:.1f}s; {len(learners)} students "
          f"in {len(staff)} sections, {args.workers} gunicorn workers x "
          f"{os.environ.get('CPT_LTI_GUNICORN_THREADS', '1')} thread, {os.cpu_count()} CPUs",
          flush=True)
    with tempfile.TemporaryFile() as log, tempfile.TemporaryFile() as lms_log, \
            gunicorn_server(lms_port, 1, env, lms_log), \
            gunicorn_server(port, args.workers, env, log) as (base, master), \
            Watch(master.pid, url).watching() as watch:
        # Warm-up (not timed): every section's instructor places the tool, then a few
        # students run the whole script with no think time.
        warm = Recorder()
        for member in staff:
            browser = Browser(base, warm, time.monotonic() + 60)
            try:
                launch(browser, lms_, member, STAFF_LAUNCH, (200,))
            except Failed:
                pass
            finally:
                browser.close()
        warm_learners = [Member(staff[0].section, Person(
            f"load-warmup-{n}", "Warm", f"Up {n}", f"warm{n}@load.test", "learner"))
            for n in range(2 * args.workers)]
        crowd(base, lms_, warm_learners, [], Plan(0.0, 3, 3, 2, 1), 0.0, 120, warm, 0)
        if warm.errors:
            print(f"warm-up errors: {sum(warm.errors.values())}: {warm.reasons[:5]}")
        signed_before = len(lms_.sign_seconds)

        recorder = Recorder()
        before = watch.usage()
        seconds, outcomes = crowd(base, lms_, learners, staff, plan, args.ramp, args.duration,
                                  recorder, args.seed)
        crowd_cpu = watch.usage().since(before, recorder.requests, "exam week")
        signing = lms_.sign_seconds[signed_before:]
        print(f"exam week: {len(learners)} students + {len(staff)} instructors arriving "
              f"over {args.ramp:.0f}s, think {args.think_ms:.0f} ms mean, {args.answers} "
              f"drill answers, 1 in {args.exam_every} takes a mock exam "
              f"({args.exam_answers} answers); {seconds:.1f}s; people: "
              + ", ".join(f"{v} {k}" for k, v in sorted(outcomes.items())), flush=True)
        sat = saturate(base, lms_, learners, args.connections, args.saturation, watch.usage)
        problems = log_problems(log)

    total = recorder.requests
    errors = sum(recorder.errors.values())
    header = (f"{'route':<38}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}"
              f"{'p99 ms':>9}{'errors':>8}  p95 < {P95_TARGET_MS:.0f} ms")
    print(header)
    student_all: list[float] = []
    p95_ok = True
    for route in ROUTES:
        values = recorder.seconds.get(route, [])
        errs = recorder.errors.get(route, 0) + recorder.errors.get(route + " (no answer)", 0)
        if not values and not errs:
            continue
        target = ""
        if route not in STAFF_ROUTES:
            student_all += values
            ok = pct(values, .95) < P95_TARGET_MS
            p95_ok &= ok
            target = mark(ok)
        print(f"{route:<38}{len(values):>9}{len(values) / seconds:>8.1f}{pct(values, .5):>9.1f}"
              f"{pct(values, .95):>9.1f}{pct(values, .99):>9.1f}{errs:>8}  {target}")
    every = [v for values in recorder.seconds.values() for v in values]
    print(f"{'all student routes':<38}{len(student_all):>9}"
          f"{len(student_all) / seconds:>8.1f}{pct(student_all, .5):>9.1f}"
          f"{pct(student_all, .95):>9.1f}{pct(student_all, .99):>9.1f}{'':>8}  "
          f"{mark(pct(student_all, .95) < P95_TARGET_MS)}")
    print(f"{'all routes':<38}{len(every):>9}{len(every) / seconds:>8.1f}{pct(every, .5):>9.1f}"
          f"{pct(every, .95):>9.1f}{pct(every, .99):>9.1f}{errors:>8}")
    if recorder.timeline:  # where the tail comes from: the arrival peak, or throughout
        began = min(t for t, _ in recorder.timeline)
        windows: dict[int, list[float]] = defaultdict(list)
        for t, took in recorder.timeline:
            windows[int((t - began) // TIMELINE_WINDOW)].append(took)
        print(f"latency over time, all routes, {TIMELINE_WINDOW:.0f} s windows: "
              + "; ".join(f"{k * TIMELINE_WINDOW:.0f}s {len(v) / TIMELINE_WINDOW:.0f}/s "
                          f"p95 {pct(v, .95):.0f}" for k, v in sorted(windows.items())))
    if signing:
        print(f"client-side id_token signing (the LMS's work, in no latency above): "
              f"{len(signing)} tokens, mean {statistics.mean(signing) * 1000:.2f} ms, "
              f"p95 {pct(signing, .95):.2f} ms")
    all_errors = errors + sat.errors
    all_requests = total + sat.requests(args.saturation)
    print(f"errors: exam week {errors} of {total} requests, saturation {sat.errors}; error rate "
          f"{100 * all_errors / max(1, all_requests):.3f}%  [target 0: "
          f"{mark(all_errors == 0)}]")
    for reason in (recorder.reasons + sat.reasons)[:10]:
        print(f"  {reason}")
    ratio = sat.launch / sat.ping if sat.ping else 0.0
    print(f"saturation: {args.connections} connections, {args.saturation:.0f}s per route")
    c = sat.cost
    print(f"  /ping {sat.ping:.0f}/s (before {sat.ping_before:.0f}/s, after "
          f"{sat.ping_after:.0f}/s); tool workers' CPU {c['ping']:.2f} ms per request, "
          f"machine {c['ping machine']:.2f} cores busy")
    print(f"  {LOGIN} {sat.login:.0f}/s = {sat.login / sat.ping:.2f} of /ping; "
          f"{c['login']:.2f} ms CPU per request, machine {c['login machine']:.2f} cores busy")
    print(f"  {LAUNCH} {sat.launch:.0f}/s ({sat.launches} launches) = {ratio:.2f} of /ping "
          f"[target >= {LAUNCH_RATIO_TARGET:.2f}: {mark(ratio >= LAUNCH_RATIO_TARGET)}]; "
          f"{c['launch']:.2f} ms CPU per request, machine {c['launch machine']:.2f} cores busy")
    print(f"  whole launch (login + launch, signing excluded) {sat.round_trip:.0f}/s = "
          f"{sat.round_trip / sat.ping:.2f} of /ping")
    print(crowd_cpu)
    peaks = ", ".join(f"{pid}: {mib:.0f} MiB" for pid, mib in sorted(watch.peaks.items()))
    print(f"peak RSS per gunicorn worker (VmHWM; {len(watch.peaks)} worker pids seen): {peaks}")
    print(f"server log: {len(problems)} error lines" + "".join(
        f"\n  {line[:200]}" for line in problems[:5]))
    print(f"{name} total {time.monotonic() - began:.0f}s", flush=True)
    return (all_errors == 0 and p95_ok and pct(student_all, .95) < P95_TARGET_MS
            and ratio >= LAUNCH_RATIO_TARGET and not problems)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--postgres-url", default=os.environ.get("CPT_LTI_TEST_POSTGRES_URL"),
                        help="default: $CPT_LTI_TEST_POSTGRES_URL, else a throwaway cluster")
    parser.add_argument("--think-ms", type=float, default=8000.0)
    parser.add_argument("--answers", type=int, default=5)
    parser.add_argument("--exam-every", type=int, default=5)
    parser.add_argument("--exam-answers", type=int, default=5)
    parser.add_argument("--instructor-views", type=int, default=3)
    parser.add_argument("--ramp", type=float, default=45.0)
    parser.add_argument("--duration", type=float, default=180.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--saturation", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if min(args.students, args.workers, args.connections, args.answers,
           args.exam_answers) < 1 or min(args.think_ms, args.ramp, args.exam_every,
                                          args.instructor_views) < 0 \
            or not 0 < args.duration <= 900 or not 0 < args.saturation <= 60:
        parser.error("counts must be at least 1, times positive (--duration at most 900, "
                     "--saturation at most 60)")
    began = time.monotonic()
    ok = True
    if args.database in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            ok &= run_backend("SQLite", f"sqlite:///{tmp}/load.db", args)
    if args.database in ("postgres", "both"):
        if args.postgres_url:
            ok &= run_backend("PostgreSQL", args.postgres_url, args)
        else:
            with postgres_cluster() as url:
                if url is None:
                    print("\n=== PostgreSQL: skipped (no --postgres-url, "
                          "CPT_LTI_TEST_POSTGRES_URL unset, and no PostgreSQL server "
                          "installed to start a throwaway cluster)")
                else:
                    ok &= run_backend("PostgreSQL (throwaway cluster)", url, args)
    print(f"\nall targets {'met' if ok else 'NOT met'}; {time.monotonic() - began:.0f}s "
          f"in all")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
