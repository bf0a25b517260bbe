"""What every benchmark needs: a free loopback port (the one Ralph's launcher uses), gunicorn
serving the tool, its workers' memory, and a throwaway PostgreSQL when none is given. The
scripts put the project root on sys.path first, and tests/ after it: benchmarks build their
installation with the tests' builders (tests/factories.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import requests
from factories import postgres_bindir

from lti_tool.sandbox.ralph_lrs import free_port

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["free_port", "gunicorn", "gunicorn_server", "peak_rss_mib", "postgres_cluster",
           "worker_pids"]


@contextmanager
def gunicorn_server(port: int, workers: int, env: dict[str, str],
                    log: IO[bytes] | None = None
                    ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Serve ``lti_tool:create_app()`` on 127.0.0.1:port; yields the base URL once it
    answers and the master process (whose children are the workers), and stops exactly
    the server it started. ``log`` takes the server's output (default: ours)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "config" / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "lti_tool:create_app()"],
        env=env, cwd=ROOT, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn exited with status {server.returncode}")
            try:
                if requests.get(f"{base}/ping", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"gunicorn did not answer on {base}/ping")
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextmanager
def gunicorn(port: int, workers: int, env: dict[str, str]) -> Iterator[str]:
    """``gunicorn_server`` for benchmarks that only need the base URL."""
    with gunicorn_server(port, workers, env) as (base, _):
        yield base


def worker_pids(master_pid: int) -> list[int]:
    """The live children of a gunicorn master (its workers), read from /proc (Linux)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # the process ended while we looked
            continue
        if ppid == master_pid:
            pids.append(int(stat.parent.name))
    return sorted(pids)


def peak_rss_mib(pid: int) -> float | None:
    """A live process's peak resident set size so far (VmHWM) in MiB; None once it ended."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@contextmanager
def postgres_cluster() -> Iterator[str | None]:
    """A throwaway PostgreSQL on a free loopback port, as .ci/run starts one (fsync off,
    trust auth, data in a temp dir); yields its URL, or None when no server is installed.
    Stops the server and removes its files on every exit path."""
    bindir = postgres_bindir()
    if bindir is None:
        yield None
        return
    workdir = Path(tempfile.mkdtemp(prefix="cpt-bench-pg."))
    as_root = os.geteuid() == 0
    if as_root:
        shutil.chown(workdir, "postgres", "postgres")  # initdb refuses to run as root

    def run(*args: str) -> None:
        cmd = (["runuser", "-u", "postgres", "--"] if as_root else []) + list(args)
        subprocess.run(cmd, cwd=workdir, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)

    data, port = workdir / "data", free_port()
    started = False
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--locale=C.UTF-8")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(workdir / "server.log"), "-w",
            "-t", "60", "start", "-o",
            f"-c listen_addresses=127.0.0.1 -p {port} -k {workdir} -c fsync=off")
        started = True
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
            "cpt_bench")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/cpt_bench"
    finally:
        if started:
            try:
                run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
            except subprocess.SubprocessError:
                pass
        shutil.rmtree(workdir, ignore_errors=True)
