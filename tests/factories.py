"""Builders shared by the test fixtures, the test support modules and bench/: the settings
of a throwaway installation, what `cpt-lti init` puts in it, database sessions on it, the
rows of a course and its learners, the newest PostgreSQL server binaries, and a loopback
HTTP server in a thread.

One place each, so a test and a benchmark build the same thing the same way. This module
imports only lti_tool (never another test module): bench/ scripts import it too, with
tests/ on their sys.path.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from socketserver import BaseServer
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.curriculum.checks import load_bank
from lti_tool.curriculum.loader import sync_curriculum
from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.delivery.sealed import sealer_for
from lti_tool.lti.keys import KeyService
from lti_tool.models import (
    Attempt,
    AttemptMode,
    AttemptStatus,
    Course,
    Deployment,
    Enrollment,
    Platform,
    ResourceLink,
    Role,
    User,
)
from lti_tool.sandbox.setup import ensure_sandbox_platforms
from lti_tool.web.runtime import system_clock

# --- an installation -------------------------------------------------------------------

# One sealing key for the whole test run, so a `cpt-lti` process a test starts (see
# fault_support.tool_env) opens what the test process sealed; never a development key file.
TEST_SEALING_KEY = "WFG0Gt2qXZ1tbbqCumHYBpHkYF4tMbq45J3N_S3cSdU="  # Fernet.generate_key()

# The sandbox LMS and every test server listen here: allowed by name, never by default.
LOOPBACK_NETWORKS = "127.0.0.0/8, ::1/128"


def tool_env(database_url: str, base_url: str | None = None, *,
             sealing_key: str | None = TEST_SEALING_KEY, sandbox: bool = True,
             **extra: str) -> dict[str, str]:
    """The ``CPT_LTI_*`` variables of a test or benchmark installation: the environment
    named explicitly (the default is production), and loopback allowed, where the sandbox
    LMS, Ralph and the tests' own servers listen (the outbound policy refuses it
    otherwise). ``extra``: more variables, by their full names."""
    env = {"CPT_LTI_DATABASE_URL": database_url, "CPT_LTI_ENVIRONMENT": "test",
           "CPT_LTI_SANDBOX": "true" if sandbox else "false",
           "CPT_LTI_OUTBOUND_ALLOW_NETWORKS": LOOPBACK_NETWORKS}
    if base_url is not None:
        env["CPT_LTI_BASE_URL"] = base_url
    if sealing_key is not None:
        env["CPT_LTI_SEALING_KEY"] = sealing_key
    return env | extra


_BANK: list[Any] = []


def shipped_bank():
    """The shipped curriculum, parsed once per process."""
    if not _BANK:
        _BANK.append(load_bank())
    return _BANK[0]


def prepare(settings, clock: Callable[[], datetime] = system_clock) -> None:
    """What `cpt-lti init` does after migrating: a tool key, the sandbox platforms and the
    curriculum."""
    engine = make_engine(settings.database_url)
    with transaction(make_session_factory(engine, sealer_for(settings))) as db:
        KeyService(db).ensure_key()
        ensure_sandbox_platforms(db, settings)
        sync_curriculum(db, shipped_bank(), clock)
    engine.dispose()


def db_sessions(server_or_settings) -> tuple[Engine, sessionmaker[Session]]:
    """An engine and sessions on the database of a live server (or of settings), able to
    open what the tool sealed. The caller disposes of the engine."""
    settings = getattr(server_or_settings, "settings", server_or_settings)
    engine = make_engine(settings.database_url)
    return engine, make_session_factory(engine, sealer_for(settings))


# --- rows ------------------------------------------------------------------------------


def course_row(db: Session, name: str = "bench", *, context_id: str | None = None,
               title: str | None = None, issuer: str | None = None,
               client_id: str | None = None) -> Course:
    """A course on a platform of its own (platform, deployment, course), flushed."""
    platform = Platform(issuer=issuer or f"https://lms.{name}.test",
                        client_id=client_id or name, name=name,
                        auth_login_url="https://x.test/a", auth_token_url="https://x.test/t",
                        key_set_url="https://x.test/k")
    db.add(platform)
    db.flush()
    deployment = Deployment(platform_id=platform.id, deployment_id="dep")
    db.add(deployment)
    db.flush()
    course = Course(deployment_id=deployment.id, context_id=context_id or f"{name}-course",
                    title=title)
    db.add(course)
    db.flush()
    return course


def platform_id_of(db: Session, course: Course) -> int:
    deployment = db.get(Deployment, course.deployment_id)
    assert deployment is not None
    return deployment.platform_id


def learner(db: Session, platform_id: int, sub: str, course: Course | None = None,
            **fields: Any) -> User:
    """A user of the platform (flushed), enrolled as a learner in ``course`` if given."""
    user = User(platform_id=platform_id, sub=sub, **fields)
    db.add(user)
    db.flush()
    if course is not None:
        db.add(Enrollment(course_id=course.id, user_id=user.id, role=Role.LEARNER))
        db.flush()
    return user


def graded_link(db: Session, course: Course, module_id: str = "safety", size: int = 25,
                **fields: Any) -> ResourceLink:
    """A link of the course that places a practice test of ``module_id`` (graded)."""
    link = ResourceLink(course_id=course.id, link_id=f"link-{uuid.uuid4().hex[:8]}",
                        custom={"activity": "practice", "module": module_id,
                                "size": str(size)}, **fields)
    db.add(link)
    db.flush()
    return link


def submitted_attempt(db: Session, user_id: int, course_id: int, *, at: datetime | None = None,
                      link_id: int | None = None, module_id: str = "safety",
                      score_raw: int = 20, score_max: int = 25,
                      mode: AttemptMode = AttemptMode.PRACTICE, counts: bool | None = None,
                      **fields: Any) -> Attempt:
    """A finished attempt (no responses): what the class and grades pages count. It counts
    for the grade of ``link_id`` unless ``counts`` says otherwise."""
    when = at or datetime.now(UTC)
    graded = link_id is not None if counts is None else counts
    attempt = Attempt(id=str(uuid.uuid4()), user_id=user_id, course_id=course_id,
                      resource_link_id=link_id, mode=mode, status=AttemptStatus.SUBMITTED,
                      module_id=module_id, item_ids=[], counts_for_grade=graded,
                      started_at=when - timedelta(minutes=20), submitted_at=when,
                      updated_at=when, score_raw=score_raw, score_max=score_max, **fields)
    db.add(attempt)
    db.flush()
    return attempt


# --- processes and threads -------------------------------------------------------------


def postgres_bindir() -> Path | None:
    """The newest installed PostgreSQL server binaries (Debian keeps one dir per major)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def served_thread(server: BaseServer) -> threading.Thread:
    """A daemon thread that serves ``server`` once started (polled every 50 ms, so
    ``stop_served`` returns quickly)."""
    return threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                            daemon=True)


def stop_served(server: BaseServer, thread: threading.Thread) -> None:
    """Stop what ``served_thread`` serves and close its socket."""
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
