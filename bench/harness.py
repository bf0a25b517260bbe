"""What every benchmark needs: a free loopback port (the one Ralph's launcher uses) and
gunicorn serving the tool. The scripts put the project root on sys.path first."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from lti_tool.sandbox.ralph_lrs import free_port

ROOT = Path(__file__).resolve().parent.parent
__all__ = ["free_port", "gunicorn"]


@contextmanager
def gunicorn(port: int, workers: int, env: dict[str, str]) -> Iterator[str]:
    """Serve ``lti_tool:create_app()`` on 127.0.0.1:port; yields the base URL once it
    answers, and stops exactly the server it started."""
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "config" / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "lti_tool:create_app()"],
        env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if requests.get(f"{base}/ping", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
