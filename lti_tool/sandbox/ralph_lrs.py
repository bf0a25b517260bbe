"""A local Ralph LRS on a loopback port, for `make run` and the tests.

Ralph (PyPI ``ralph-malph``) runs as its own process (uvicorn + ralph_app.py, which
fixes its filesystem backend), keeps statements in one JSON-lines file in ``data_dir``
and checks basic auth against an auth file written by Ralph's own ``ralph auth``
command. ``stop()`` ends exactly the process ``start()`` began.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# (username, password) -> the auth file `ralph auth` wrote for them (hash only).
_AUTH_FILES: dict[tuple[str, str], bytes] = {}


class RalphServer:
    """One Ralph process with the filesystem backend and one user of scope ``all``."""

    def __init__(self, data_dir: Path, username: str = "cpt-lti", password: str = "",
                 port: int | None = None, host: str = "127.0.0.1") -> None:
        self.data_dir = Path(data_dir)
        self.username = username
        self.password = password or os.urandom(12).hex()
        self.host = host
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def endpoint_url(self) -> str:
        """What an LRS client is given: the xAPI base ending in a slash."""
        return f"{self.base_url}/xAPI/"

    def _env(self) -> dict[str, str]:
        statements = self.data_dir / "statements"
        statements.mkdir(parents=True, exist_ok=True)
        return {**os.environ,
                "RALPH_APP_DIR": str(self.data_dir / "app"),
                "RALPH_AUTH_FILE": str(self.auth_file),
                "RALPH_RUNSERVER_BACKEND": "fs",
                "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(statements),
                "RALPH_BACKENDS__DATA__FS__DEFAULT_DIRECTORY_PATH": str(statements),
                "RALPH_SENTRY_DSN": ""}

    @property
    def auth_file(self) -> Path:
        return self.data_dir / "auth.json"

    def _auth_process(self) -> subprocess.Popen[bytes] | None:
        """Ralph's own ``ralph auth`` writes the user (bcrypt hash, scope ``all``). The
        password goes in on stdin (its prompt, answered twice), never on the command line
        where ``ps`` would show it. Its output is kept per (username, password) for the
        life of this process: the command takes 1.5 s (it imports all of Ralph, then
        bcrypt), and tests start a fresh Ralph with the same test user many times."""
        if self.auth_file.exists():
            self.auth_file.unlink()  # --write-to-disk appends; a restart keeps no old users
        cached = _AUTH_FILES.get((self.username, self.password))
        if cached is not None:
            self.auth_file.write_bytes(cached)
            return None
        with open(self.data_dir / "ralph-auth.log", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "ralph", "auth", "--username", self.username,
                 "--scope", "all", "--agent-ifi-account", self.username,
                 "http://127.0.0.1", "--write-to-disk"],
                env=self._env(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=log)
        assert process.stdin is not None
        process.stdin.write(f"{self.password}\n{self.password}\n".encode())
        process.stdin.close()
        return process

    def _finish_auth(self, process: subprocess.Popen[bytes] | None, timeout: float) -> None:
        if process is None:
            return
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise RuntimeError("`ralph auth` did not finish") from None
        if process.returncode != 0 or not self.auth_file.exists():
            log = (self.data_dir / "ralph-auth.log").read_text(errors="replace")
            tail = log.strip().splitlines()[-1:] or ["?"]
            raise RuntimeError(f"`ralph auth` failed ({process.returncode}): "
                               f"{tail[0].replace(self.password, '***')}")
        _AUTH_FILES[(self.username, self.password)] = self.auth_file.read_bytes()

    def write_credentials(self) -> None:
        """Write the auth file now (``start`` does it too, while the server boots)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._finish_auth(self._auth_process(), timeout=60)

    def start(self, timeout: float = 30.0) -> RalphServer:
        """Start Ralph and return once it answers. The auth file is written while the
        server boots (Ralph reads it at the first authenticated request, not at start);
        both must have succeeded before this returns."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        auth = self._auth_process()
        if self.port is None:
            self.port = free_port()
        log = open(self.data_dir / "ralph.log", "ab")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "lti_tool.sandbox.ralph_app:app",
             "--host", self.host, "--port", str(self.port), "--log-level", "warning"],
            env=self._env(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        try:
            self._finish_auth(auth, timeout)
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"Ralph exited with {self.process.returncode}; see "
                                       f"{self.data_dir / 'ralph.log'}")
                try:
                    if requests.get(f"{self.base_url}/__heartbeat__", timeout=1).ok:
                        return self
                except requests.RequestException:
                    pass
                time.sleep(0.05)
            raise RuntimeError(f"Ralph did not answer on {self.base_url} within "
                               f"{timeout:.0f} s")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> RalphServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
