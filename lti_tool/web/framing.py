"""Which sites may show the tool in an iframe: the CSP ``frame-ancestors`` allow-list.

An LMS frames the tool from its own origin, so the list is built from the registered,
enabled platforms: the origin of each issuer and login URL (Moodle, Brightspace and
self-hosted LMSs serve their pages there), every ``*.instructure.com`` school for a Canvas
Cloud platform's shared issuer (a school's Canvas lives on its own subdomain, which no
registration names: ``lti.platforms.family.shared_issuer_suffix``), and the extra origins
an admin gave with ``cpt-lti platform add --frame-origin`` (a vanity domain such as
``https://canvas.college.edu``). Any other site gets a blank
frame instead of a tool it could overlay (clickjacking).

The same list is the CSP ``form-action``: the pages that post to an LMS (the Deep Linking
response, a launch finished through platform storage) post to the platform that framed
them, so a form injected into a page cannot send what it collects to any other site.

The list is read from the database and kept for ``TTL_SECONDS`` per process: every
instance computes the same list, so several instances stay consistent, and a platform
registered on one instance frames on all of them within that time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.lti.platforms.family import detect, shared_issuer_suffix
from lti_tool.models import LmsFamily, Platform

TTL_SECONDS = 30.0


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, or None when it has none."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    host = parts.hostname
    default = {"http": 80, "https": 443}[parts.scheme]
    try:
        port = parts.port
    except ValueError:
        return None
    suffix = f":{port}" if port and port != default else ""
    return f"{parts.scheme}://{host}{suffix}"


def platform_origins(issuer: str, auth_login_url: str, frame_origins: str,
                     lms_family: LmsFamily | None = None) -> list[str]:
    """The origins one platform frames the tool from. ``lms_family`` is the row's; None
    (a platform not stored yet) detects it as registering would."""
    found = [origin_of(issuer), origin_of(auth_login_url), *frame_origins.split()]
    family = lms_family if lms_family is not None else detect(issuer, auth_login_url)
    shared = shared_issuer_suffix(family, issuer)
    if shared:
        found.append("https://*" + shared)
    return [o for o in found if o]


def frame_ancestors(session: Session, extra: Iterable[str] = ()) -> str:
    """The ``frame-ancestors`` source list: the tool itself, ``extra`` and every enabled
    platform's origins, sorted so the header is stable between instances."""
    rows = session.execute(
        select(Platform.issuer, Platform.auth_login_url, Platform.frame_origins,
               Platform.lms_family)
        .where(Platform.enabled.is_(True))).all()
    origins = {o for row in rows for o in platform_origins(*row)}
    origins.update(o for o in extra if o)
    return " ".join(["'self'", *sorted(origins)])


class FrameAncestorsCache:
    """``frame_ancestors`` recomputed at most every ``ttl`` seconds. If the database
    cannot be read, the last list is kept (or only 'self' before the first read): an
    outage must not open framing to everyone, nor turn every page into an error."""

    def __init__(self, compute: Callable[[], str], ttl: float = TTL_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._compute = compute
        self._ttl = ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._value = "'self'"
        self._expires = float("-inf")

    def get(self) -> str:
        now = self._monotonic()
        if now < self._expires:
            return self._value
        with self._lock:
            if now < self._expires:
                return self._value
            try:
                self._value = self._compute()
                self._expires = now + self._ttl
            except Exception:  # noqa: BLE001 - the database is down: keep the last list
                self._expires = now + min(self._ttl, 5.0)
            return self._value

    def clear(self) -> None:
        """Forget the list, e.g. right after this process registered a platform."""
        with self._lock:
            self._expires = float("-inf")
