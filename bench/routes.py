"""Benchmark: what each student route costs the tool, in process - CPU and statements.

    .venv/bin/python bench/routes.py [--database sqlite|postgres] [--postgres-url URL]
                                     [--students 30]

bench/load.py measures latency under a crowd, which moves with the machine's speed and
load from run to run; this one measures what the code asks of the machine per request,
which does not: the CPU time of the thread serving each request and the statements it
sends (each one a round trip on PostgreSQL). Compare two commits by running it on each.

The tool runs in this process (werkzeug, threaded, a free loopback port) on a fresh
database prepared as bench/load.py does; ``--students`` students then run bench/load.py's
student script one after another with no think time (launch, home, module, lesson, drill
or mock exam, submit, results, mastery), and one instructor opens the class pages. A first
round of ten students warms caches and is not counted. Printed per route: requests, CPU
ms per request (thread time, so the client's share of this process is not counted), the
ratio to /ping's CPU in the same process, and statements per request.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from random import Random

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.append(str(ROOT / "tests"))  # tests/factories.py: builders shared with the tests

import load  # noqa: E402
import requests  # noqa: E402
from factories import tool_env  # noqa: E402
from harness import free_port, postgres_cluster  # noqa: E402
from sqlalchemy import event  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from lti_tool import create_app  # noqa: E402
from lti_tool.settings import load_settings  # noqa: E402

PING_REQUESTS = 300


class Meter:
    """WSGI middleware: thread CPU and statements per route (method + URL rule)."""

    def __init__(self, app) -> None:
        self.app = app
        self.inner = app.wsgi_app
        self.cpu: Counter[str] = Counter()
        self.statements: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.counting = False
        self._local = threading.local()
        engine = app.extensions["cpt_lti"].engine
        event.listen(engine, "before_cursor_execute", self._statement)
        app.wsgi_app = self

    def _statement(self, *_args) -> None:
        route = getattr(self._local, "route", None)
        if route is not None:
            self.statements[route] += 1

    def _route(self, environ) -> str:
        adapter = self.app.url_map.bind_to_environ(environ)
        try:
            rule, _ = adapter.match(return_rule=True)
            return f"{environ['REQUEST_METHOD']} {rule.rule}"
        except Exception:  # noqa: BLE001 - a 404 or 405: counted under its path
            return f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}"

    def __call__(self, environ, start_response):
        route = self._route(environ)
        self._local.route = route if self.counting else None
        began = time.thread_time()
        body = self.inner(environ, start_response)
        try:
            out = b"".join(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        if self.counting:
            self.cpu[route] += time.thread_time() - began
            self.requests[route] += 1
        self._local.route = None
        return [out]


@contextmanager
def database(kind: str, url: str | None) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/routes.db"
    elif url:
        yield url
    else:
        with postgres_cluster() as found:
            if found is None:
                raise SystemExit("no PostgreSQL server installed; give --postgres-url")
            yield found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get("CPT_LTI_TEST_POSTGRES_URL"))
    parser.add_argument("--students", type=int, default=30)
    args = parser.parse_args()
    if args.students < 1:
        parser.error("--students must be at least 1")

    with database(args.database, args.postgres_url) as url:
        port = free_port()
        settings = load_settings(env=tool_env(url, f"http://127.0.0.1:{port}",
                                              sealing_key=None, CPT_LTI_LOG_LEVEL="WARNING"))
        keys = load.prepare(url, settings)
        app = create_app(settings)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        meter = Meter(app)
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = settings.base_url
        try:
            lms_ = load.Lms(settings, keys)
            learners, staff = load.people(args.students + 10)
            plan = load.Plan(0.0, 5, 5, 5, 2)
            recorder = load.Recorder()

            def run(batch: list[load.Member]) -> None:
                for n, member in enumerate(batch):
                    browser = load.Browser(base, recorder, time.monotonic() + 600)
                    try:
                        load.student(browser, lms_, member, Random(n), plan, n % 5 == 4)
                    except load.Failed:
                        pass  # recorded with its reason
                    finally:
                        browser.close()
                for member in staff[:1]:
                    browser = load.Browser(base, recorder, time.monotonic() + 600)
                    try:
                        load.instructor(browser, lms_, member, Random(1), plan)
                    except load.Failed:
                        pass
                    finally:
                        browser.close()

            run(learners[:10])
            meter.counting = True
            with requests.Session() as http:
                for _ in range(PING_REQUESTS):
                    http.get(f"{base}/ping", timeout=30).raise_for_status()
            run(learners[10:])
            meter.counting = False
        finally:
            server.shutdown()
            server.server_close()
            app.extensions["cpt_lti"].engine.dispose()

    errors = sum(recorder.errors.values())
    ping = meter.cpu["GET /ping"] / max(1, meter.requests["GET /ping"]) * 1000
    print(f"{args.database}: {args.students} students, {errors} errors; /ping {ping:.2f} ms "
          f"CPU per request")
    print(f"{'route':42} {'requests':>8} {'CPU ms':>7} {'x /ping':>8} {'statements':>10}")
    total_cpu = total_requests = 0.0
    for route in sorted(meter.requests, key=lambda r: r.split(" ", 1)[1]):
        count = meter.requests[route]
        cpu = meter.cpu[route] / count * 1000
        print(f"{route:42} {count:8d} {cpu:7.2f} {cpu / ping:8.1f} "
              f"{meter.statements[route] / count:10.1f}")
        if route != "GET /ping":
            total_cpu += meter.cpu[route]
            total_requests += count
    print(f"{'all but /ping':42} {int(total_requests):8d} "
          f"{total_cpu / total_requests * 1000:7.2f} "
          f"{total_cpu / total_requests * 1000 / ping:8.1f}")
    if errors:
        print("errors:", recorder.reasons[:5])
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
