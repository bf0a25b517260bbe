"""gunicorn settings for `cpt-lti serve --workers N` (command-line bind/workers win).

Threads per worker let one process overlap DB and LMS/LRS waits; the app keeps nothing in
process memory that must be shared (sessions, nonces, JWKS cache live in the DB), so any
number of workers and instances can run side by side.
"""

import os

from lti_tool.ops.logs import gunicorn_logger_class

worker_class = "gthread"  # threads > 1 overlap slow LMS/LRS calls
threads = int(os.environ.get("CPT_LTI_GUNICORN_THREADS", "1"))  # CPU-bound: processes beat threads
timeout = 60
graceful_timeout = 30
keepalive = 5
accesslog = os.environ.get("CPT_LTI_ACCESS_LOG") or None  # a path, or "-" for stderr
# Session ids (``?s=`` in the request line and Referer, the X-CPT-Session header, the
# cookie) are blanked in every access-log atom, whatever access_log_format says.
logger_class = gunicorn_logger_class()
errorlog = "-"
forwarded_allow_ips = os.environ.get("CPT_LTI_FORWARDED_ALLOW_IPS", "127.0.0.1")


def worker_exit(server, worker):  # noqa: ARG001 - gunicorn's hook signature
    """A worker that stops (restart, scale-down, deploy) writes the launch counts it still
    holds; they would otherwise be lost (see lti_tool.ops.metrics.Tally)."""
    app = getattr(worker, "wsgi", None)
    rt = getattr(app, "extensions", {}).get("cpt_lti")
    if rt is not None:
        rt.tally.write(rt.sessions)
