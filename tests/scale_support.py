"""Several real tool instances behind one address, as a college runs them: gunicorn
processes on their own loopback ports, a small reverse proxy in front that the test steers
(which instance serves each request), and `cpt-lti worker` processes.

Each piece stops exactly the processes it started, also when a test fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import factories
import requests
from factories import served_thread, stop_served

from lti_tool.sandbox.ralph_lrs import free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "scale-test-secret-key-shared-by-every-instance"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "content-length"}


def tool_env(database_url: str, base_url: str, **extra: str) -> dict[str, str]:
    """What every instance and worker of one installation shares: the database, the public
    address, the secret key (cookies) and the sealing key (sealed private keys and LRS
    passwords must read the same)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPT_LTI_")}
    env.update(factories.tool_env(database_url, base_url, **{
        "CPT_LTI_SECRET_KEY": SECRET_KEY, "CPT_LTI_EMBEDDED_WORKER": "false", **extra}))
    return env


class Instance:
    """One gunicorn serving the tool on its own port (one worker process: the test is about
    instances not sharing memory, and it keeps the suite light)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = env
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Instance:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config",
             str(ROOT / "config" / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{self.port}",
             "--workers", "1", "lti_tool:create_app()"],
            env=self._env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self._process.returncode}")
            try:
                if requests.get(f"{self.url}/ping", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not answer within 60 s")

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)


@dataclass
class Hop:
    method: str
    path: str
    instance: int
    status: int


@dataclass
class Proxy:
    """A reverse proxy in front of the instances. ``choose(method, path)`` names the
    instance for each request (round robin by default); ``hops`` records who served what."""

    backends: list[str]
    choose: Callable[[str, str], int] | None = None
    hops: list[Hop] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._turn = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                index = proxy.pick(self.command, self.path)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in HOP_BY_HOP}
                answer = requests.request(self.command, proxy.backends[index] + self.path,
                                          headers=headers, data=body, allow_redirects=False,
                                          timeout=60)
                with proxy._lock:
                    proxy.hops.append(Hop(self.command, self.path.split("?")[0], index,
                                          answer.status_code))
                self.send_response(answer.status_code)
                for key, value in answer.raw.headers.items():
                    if key.lower() not in HOP_BY_HOP and key.lower() != "content-encoding":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_DELETE = _forward  # noqa: N815 - http.server API

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = served_thread(self._server)

    def pick(self, method: str, path: str) -> int:
        if self.choose is not None:
            return self.choose(method, path)
        with self._lock:
            self._turn += 1
            return self._turn % len(self.backends)

    def start(self) -> Proxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        stop_served(self._server, self._thread)

    def served(self, path_suffix: str) -> list[int]:
        """Which instance served each request whose path ends with ``path_suffix``."""
        return [h.instance for h in self.hops if h.path.endswith(path_suffix)]


class Worker:
    """`cpt-lti worker` as its own process, its output kept to see what it delivered."""

    def __init__(self, env: dict[str, str], log: Path, limit: int = 5) -> None:
        self._env = env
        self._log_path = log
        self._limit = limit
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        self._log = self._log_path.open("wb")
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from lti_tool.cli import main; main()", "worker",
             "--limit", str(self._limit)],
            env=self._env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()

    def output(self) -> str:
        return self._log_path.read_text(errors="replace")
