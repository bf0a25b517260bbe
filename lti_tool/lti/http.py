"""One HTTP session type for every call to an LMS: a timeout on every request.

pylti1p3 calls ``session.get(url)`` and ``session.post(url, ...)`` without a timeout; a
hung platform must not hang a launch or a worker.
"""

from __future__ import annotations

from typing import Any

import requests


class TimeoutSession(requests.Session):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout
        self.headers["User-Agent"] = "cpt-lti (pylti1p3)"

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout)
        return super().request(*args, **kwargs)
