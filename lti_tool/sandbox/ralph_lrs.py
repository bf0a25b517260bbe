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


class RalphServer:
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
                "RALPH_AUTH_FILE": str(self.data_dir / "auth.json"),
                "RALPH_RUNSERVER_BACKEND": "fs",
                "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(statements),
                "RALPH_BACKENDS__DATA__FS__DEFAULT_DIRECTORY_PATH": str(statements),
                "RALPH_SENTRY_DSN": ""}

    def write_credentials(self) -> None:
        """Ralph's own ``ralph auth`` writes the user (bcrypt hash, scope ``all``)."""
        env = self._env()
        auth = Path(env["RALPH_AUTH_FILE"])
        if auth.exists():
            auth.unlink()
        subprocess.run(
            [sys.executable, "-m", "ralph", "auth", "--username", self.username,
             "--password", self.password, "--scope", "all",
             "--agent-ifi-account", self.username, "http://127.0.0.1", "--write-to-disk"],
            env=env, check=True, capture_output=True, timeout=60)

    def start(self, timeout: float = 30.0) -> RalphServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.write_credentials()
        if self.port is None:
            self.port = free_port()
        log = open(self.data_dir / "ralph.log", "ab")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "lti_tool.sandbox.ralph_app:app",
             "--host", self.host, "--port", str(self.port), "--log-level", "warning"],
            env=self._env(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Ralph exited with {self.process.returncode}; see "
                                   f"{self.data_dir / 'ralph.log'}")
            try:
                if requests.get(f"{self.base_url}/__heartbeat__", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Ralph did not answer on {self.base_url} within {timeout:.0f} s")

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
