"""POSTing statements to an LRS, and what each answer means for the outbox.

tincan's ``RemoteLRS`` is not used for the transport: it opens a new connection per call
with no timeout (a hung LRS hangs the worker), retries nothing, and its
``save_statements`` crashes on the empty body of a 204. A ``requests.Session`` gives
keep-alive and timeouts; the bodies are the bytes statements.py made with tincan.

Classification (per statement, so the worker can record each row):

- 200/204: delivered.
- 409: the LRS already holds a statement with one of these ids. A batch is split down to
  single statements; a single one is then fetched back: the same statement means an
  earlier POST landed and its acknowledgement was lost (delivered), a different one is
  a real conflict, reported and parked, never silently dropped.
- 400/413/422: the batch is split in halves until the bad statement is alone; it is
  rejected with the LRS's reason and the others are delivered.
- 401/403: retry later, flagged as an authentication problem (an operator must fix the
  credentials; statements wait, they are not dropped).
- 429, 5xx, network errors, timeouts: retry the whole batch later (``Retry-After`` kept).
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import requests

XAPI_VERSION = "1.0.3"
SPLIT_STATUSES = {400, 413, 422}
AUTH_STATUSES = {401, 403}


@dataclass(frozen=True)
class LrsEndpoint:
    name: str
    url: str  # the xAPI base, e.g. http://127.0.0.1:8100/xAPI/
    username: str
    password: str = field(repr=False)

    @property
    def statements_url(self) -> str:
        return self.url.rstrip("/") + "/statements"


@dataclass(frozen=True)
class Outcome:
    kind: str  # delivered | retry | rejected | conflict
    message: str = ""
    retry_after: float | None = None
    auth_problem: bool = False


DELIVERED = Outcome("delivered")


def _reason(response: requests.Response) -> str:
    """The LRS's reason, short enough for an operator's screen. Validation errors in the
    common FastAPI/pydantic shape (Ralph) become "where: what" instead of an echo of the
    whole statement."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list) and detail and all(isinstance(d, dict) for d in detail):
        parts = [f"{'.'.join(str(p) for p in d.get('loc', [])[2:]) or 'statement'}: "
                 f"{d.get('msg', '?')}" for d in detail[:3]]
        return f"HTTP {response.status_code}: {'; '.join(parts)}"
    if isinstance(detail, str):
        return f"HTTP {response.status_code}: {detail[:400]}"
    text = (response.text or "").strip().replace("\n", " ")
    return f"HTTP {response.status_code}: {text[:400]}" if text else \
        f"HTTP {response.status_code}"


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class LrsClient:
    """One LRS, one keep-alive session. Never puts the password in a message."""

    def __init__(self, endpoint: LrsEndpoint, timeout: tuple[float, float] = (3.05, 15.0),
                 session: requests.Session | None = None) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.http = session or requests.Session()
        self.http.auth = (endpoint.username, endpoint.password)
        self.http.headers.update({"X-Experience-API-Version": XAPI_VERSION,
                                  "Content-Type": "application/json"})

    def close(self) -> None:
        self.http.close()

    def _post(self, bodies: list[bytes]) -> requests.Response | Outcome:
        payload = b"[" + b",".join(bodies) + b"]"
        try:
            return self.http.post(self.endpoint.statements_url, data=payload,
                                  timeout=self.timeout)
        except requests.RequestException as exc:
            # The exception text can carry the URL, never the credentials (not in the URL).
            return Outcome("retry", f"{self.endpoint.name} unreachable: "
                                    f"{type(exc).__name__}")

    def deliver(self, statements: list[tuple[Hashable, bytes]]
                ) -> list[tuple[Hashable, Outcome]]:
        """POST these statements (in order) and say what became of each."""
        if not statements:
            return []
        answer = self._post([body for _, body in statements])
        if isinstance(answer, Outcome):
            return [(key, answer) for key, _ in statements]
        status = answer.status_code
        if status in (200, 204):
            return [(key, DELIVERED) for key, _ in statements]
        if status in AUTH_STATUSES:
            outcome = Outcome("retry", f"{self.endpoint.name} refused the credentials "
                                       f"({_reason(answer)}); fix them with `cpt-lti lrs add`",
                              auth_problem=True)
            return [(key, outcome) for key, _ in statements]
        if status == 409 or status in SPLIT_STATUSES:
            if len(statements) > 1:
                middle = len(statements) // 2
                return self.deliver(statements[:middle]) + self.deliver(statements[middle:])
            key, body = statements[0]
            if status == 409:
                return [(key, self._settle_conflict(body, _reason(answer)))]
            return [(key, Outcome("rejected", _reason(answer)))]
        if status == 429 or status >= 500:
            outcome = Outcome("retry", f"{self.endpoint.name}: {_reason(answer)}",
                              retry_after=_retry_after(answer))
            return [(key, outcome) for key, _ in statements]
        # Anything else (404 from a wrong endpoint URL, 3xx): the configuration is wrong;
        # keep the statements and retry while an operator fixes it.
        outcome = Outcome("retry", f"{self.endpoint.name}: unexpected {_reason(answer)}; "
                                   "check the LRS endpoint URL")
        return [(key, outcome) for key, _ in statements]

    def _settle_conflict(self, body: bytes, reason: str) -> Outcome:
        """A 409 for one statement: delivered before (same statement) or a real conflict."""
        mine = json.loads(body)
        try:
            answer = self.http.get(self.endpoint.statements_url,
                                   params={"statementId": mine["id"]}, timeout=self.timeout)
        except requests.RequestException as exc:
            return Outcome("retry", f"{self.endpoint.name} unreachable while checking a "
                                    f"conflict: {type(exc).__name__}")
        if answer.status_code != 200:
            return Outcome("retry", f"{self.endpoint.name}: checking a conflict gave "
                                    f"{_reason(answer)}")
        if same_statement(mine, answer.json()):
            return DELIVERED
        return Outcome("conflict", f"the LRS holds a different statement with id "
                                   f"{mine['id']} ({reason})")


_LRS_SET = ("stored", "authority", "version")


def same_statement(sent: dict[str, Any], stored: dict[str, Any]) -> bool:
    """Whether the LRS's copy is the statement we sent, ignoring what an LRS adds
    (stored, authority, version) and how it may normalise the timestamp."""
    def core(data: dict[str, Any]) -> dict[str, Any]:
        data = {k: v for k, v in data.items() if k not in _LRS_SET}
        data.pop("timestamp", None)
        return data

    return core(sent) == core(stored) and _same_instant(sent.get("timestamp"),
                                                         stored.get("timestamp"))


def _same_instant(a: str | None, b: str | None) -> bool:
    from datetime import datetime

    if a is None or b is None:
        return a == b
    try:
        return datetime.fromisoformat(a.replace("Z", "+00:00")) == \
            datetime.fromisoformat(b.replace("Z", "+00:00"))
    except ValueError:
        return a == b
