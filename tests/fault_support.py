"""Parts for the fault tests (tests/integration/test_faults.py): students who keep
answering over real HTTP, a clock the worker can be moved forward on, a slow proxy in
front of Ralph, a private throwaway PostgreSQL cluster and gunicorn serving the tool.

Every part here starts real processes or threads and stops exactly what it started.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import factories
import requests
from factories import (  # noqa: F401 - postgres_bindir: test_faults reads it here
    postgres_bindir,
    served_thread,
    stop_served,
)
from lti_helpers import full_launch

from lti_tool.sandbox.ralph_lrs import free_port

ROOT = Path(__file__).resolve().parent.parent
REQUEST_TIMEOUT = 15.0


class OffsetClock:
    """Real time plus an offset the test moves forward: rows written by a live server (at
    real time) stay due for the worker, and backoff is skipped by advancing, not sleeping."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **kw: float) -> None:
        self.offset += timedelta(**kw)


@dataclass
class Failure:
    """One request the app did not accept: when, what, and what came back."""

    what: str
    status: int | None  # None: no HTTP answer at all
    body: str
    content_type: str = ""
    at: float = 0.0  # time.monotonic() when the request started


@dataclass
class Accepted:
    attempt_id: str
    key: str
    status: int
    at: float  # time.monotonic() when the request started


class Student:
    """A learner who launches from the sandbox LMS, then takes short practice tests over
    the JSON API until told to stop. A request the app does not accept is retried as a
    browser would (same idempotency key), and recorded, so a test can say what failed
    and that every accepted answer is in the database."""

    def __init__(self, base_url: str, platform_key: str, sub: str, size: int = 5,
                 pause: float = 0.05) -> None:
        self.base_url = base_url
        self.platform_key = platform_key
        self.sub = sub
        self.size = size
        self.pause = pause
        self.http = requests.Session()
        self.accepted: list[Accepted] = []
        self.failures: list[Failure] = []
        self.attempts: list[str] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:  # what lti_helpers.full_launch needs of a server
        return self.base_url

    def launch(self) -> None:
        landed = full_launch(self, self.platform_key, self.sub, session=self.http)  # type: ignore[arg-type]
        assert landed.status_code == 200, landed.text[:500]
        match = re.search(r'<meta name="csrf-token" content="([^"]+)">', landed.text)
        assert match, "the landing page has no CSRF token"
        self.http.headers["X-CSRF-Token"] = match.group(1)

    def start(self) -> Student:
        self._thread = threading.Thread(target=self._run, name=f"student-{self.sub}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            assert not self._thread.is_alive(), f"student {self.sub} did not stop"

    def _call(self, what: str, method: str, path: str, ok: tuple[int, ...] = (200, 201),
              **kw: Any) -> tuple[int, Any, float] | None:
        """Send until the app accepts (or the test says stop): (status, JSON body, when it
        was sent); None when stopped."""
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                answer = self.http.request(method, self.base_url + path,
                                           timeout=REQUEST_TIMEOUT, **kw)
            except requests.RequestException as exc:
                self.failures.append(Failure(what, None, type(exc).__name__, at=started))
            else:
                if answer.status_code in ok:
                    body = answer.json() if answer.content else None
                    return answer.status_code, body, started
                self.failures.append(Failure(what, answer.status_code, answer.text[:2000],
                                             answer.headers.get("Content-Type", ""),
                                             started))
            self._stop.wait(0.2)
        return None

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                started = self._call("start", "POST", "/api/attempts", json={
                    "mode": "practice", "module_id": "safety", "size": self.size})
                if started is None:
                    return
                attempt_id = started[1]["id"]
                self.attempts.append(attempt_id)
                got = self._call("item", "GET", f"/api/attempts/{attempt_id}/item")
                if got is None:
                    return
                item = got[1]["item"]
                n = 0
                while item is not None:
                    key = uuid.uuid4().hex
                    sent = self._call("answer", "POST", f"/api/attempts/{attempt_id}/answers",
                                      json={"item_id": item["id"], "choice": n % 4,
                                            "idempotency_key": key, "duration_ms": 4000})
                    if sent is None:
                        return
                    status, body, at = sent
                    self.accepted.append(Accepted(attempt_id, key, status, at))
                    item = body["next_item"]
                    n += 1
                    self._stop.wait(self.pause)
                # 409: an earlier try was committed but its answer lost; it is submitted.
                if self._call("submit", "POST", f"/api/attempts/{attempt_id}/submit",
                              ok=(200, 409)) is None:
                    return
        except BaseException as exc:  # noqa: BLE001 - reported by the test, not lost
            self.error = exc


@contextmanager
def students(base_url: str, who: list[tuple[str, str]], **kw: Any) -> Iterator[list[Student]]:
    """Launch each (platform key, sub) and start them answering; stop them all on exit."""
    crowd = [Student(base_url, platform, sub, **kw) for platform, sub in who]
    for student in crowd:
        student.launch()
    try:
        yield [s.start() for s in crowd]
    finally:
        for student in crowd:
            student.stop()


# --- a slow LRS: a proxy that holds an answer ------------------------------------------------

class HoldingProxy:
    """An HTTP proxy in front of an LRS. It forwards every request; the answer to the
    ``hold_post``-th POST of statements is held back after the LRS has stored the batch
    (``posted`` is set then) until ``release`` is set: the moment a worker waits for an
    acknowledgement that was already written on the LRS's side."""

    def __init__(self, upstream: str, hold_post: int) -> None:
        self.upstream = upstream.rstrip("/")  # e.g. http://127.0.0.1:8100
        self.hold_post = hold_post
        self.posts = 0
        self.batches: list[list[str]] = []  # the statement ids of each POST, in order
        self.posted = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                answer = requests.request(self.command, proxy.upstream + self.path,
                                          data=data, headers=headers, timeout=30)
                if self.command == "POST" and "/statements" in self.path:
                    ids = [s.get("id") for s in json.loads(data or b"[]")]
                    with proxy._lock:
                        proxy.posts += 1
                        proxy.batches.append(ids)
                        number = proxy.posts
                    if number == proxy.hold_post:
                        proxy.posted.set()
                        proxy.release.wait(60)
                try:
                    self.send_response(answer.status_code)
                    for key, value in answer.headers.items():
                        if key.lower() not in ("content-length", "connection",
                                               "transfer-encoding", "content-encoding"):
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(answer.content)))
                    self.end_headers()
                    self.wfile.write(answer.content)
                except OSError:
                    pass  # the client is gone (killed): nobody to answer

            do_GET = do_POST = do_PUT = _forward  # noqa: N815 - http.server's names

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = served_thread(self._server)

    def start(self) -> HoldingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        stop_served(self._server, self._thread)


# --- a private PostgreSQL cluster ---------------------------------------------------------------

class PrivatePostgres:
    """A throwaway cluster in its own temp dir on a free loopback port (socket in the temp
    dir too), so a test can stop and start it without touching anyone else's server. As
    root it runs as the postgres user (initdb refuses root), like .ci/run."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="cpt-faults-pg."))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self.started = False

    def url(self, database: str = "cpt") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str, timeout: float = 60) -> None:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, cwd=self.dir, capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode != 0:
            log = self.dir / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr[-2000:]}"
                               f"\n{tail}")

    def init(self) -> PrivatePostgres:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E",
                  "UTF8", "--locale=C.UTF-8")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "cpt")
        return self

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w",
                  "-t", "60", "start", "-o",
                  f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir}")
        self.started = True

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")
        self.started = False

    def destroy(self) -> None:
        """Stop the cluster if it runs and remove its directory (teardown, even on failure)."""
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


# --- processes of the tool ---------------------------------------------------------------------

def tool_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment a `cpt-lti` process of these tests runs with."""
    return {**os.environ, **factories.tool_env(database_url, **{
        "CPT_LTI_CONFIG": "", "CPT_LTI_LOG_LEVEL": "WARNING", **extra})}


def cpt_lti() -> str:
    """The `cpt-lti` script of the interpreter running the tests."""
    script = Path(sys.executable).parent / "cpt-lti"
    return str(script) if script.exists() else shutil.which("cpt-lti") or "cpt-lti"


@dataclass
class Gunicorn:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def gunicorn(env: dict[str, str], log: Path, workers: int = 2,
             port: int | None = None) -> Iterator[Gunicorn]:
    """``lti_tool:create_app()`` under gunicorn with the project's config, as
    `cpt-lti serve --workers N` runs it (bench/harness.py's pattern, with its output kept
    in ``log`` and a start that fails loudly). Stops exactly the server it started."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**env, "CPT_LTI_BASE_URL": url}
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config",
             str(ROOT / "config" / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers), "lti_tool:create_app()"],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}: "
                                   f"{log.read_text(errors='replace')[-2000:]}")
            try:
                if requests.get(f"{url}/ping", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer within 60 s")
            time.sleep(0.1)
        yield Gunicorn(url, process, log)
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM as a service manager sends it; SIGKILL after 30 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def dev_server(database_url: str, cwd: Path, log: Path, port: int | None = None,
               **env: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """A real ``cpt-lti serve`` (what ``make run`` starts) on ``port`` (a free one by
    default), once it answers /ping: (its base URL, the process). Stopped on leaving."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    with open(log, "ab") as out:
        process = subprocess.Popen([cpt_lti(), "serve", "--port", str(port)],
                                   env=tool_env(database_url, CPT_LTI_BASE_URL=base,
                                                CPT_LTI_EMBEDDED_WORKER="false", **env),
                                   cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text(errors="replace")[-2000:]
            try:
                requests.get(f"{base}/ping", timeout=2)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, "cpt-lti serve did not start in 60 s"
                time.sleep(0.2)
        yield base, process
    finally:
        stop_process(process)
