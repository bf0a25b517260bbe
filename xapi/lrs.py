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

How Ralph 5.1 answers a resent id (checked by tests/integration/test_xapi_ralph.py):
a statement equal to the stored one (Ralph compares actor, verb, object, id, result,
context, attachments, and timestamp/version when both have them) is dropped from the
batch, not refused: 204 with an empty body when every statement was already stored, 200
with only the new ids otherwise. Only a *different* statement under a stored id gets 409
("Differing statements already exist with the same ID: ..."), and then the whole batch
is refused. Two statements with one id in the same batch get 400. Other LRSs answer an
identical resend with 409, which is why a lone 409 is settled by reading the id back.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from xapi.statements import canonical_bytes

XAPI_VERSION = "1.0.3"
SPLIT_STATUSES = {400, 413, 422}
AUTH_STATUSES = {401, 403}
REASON_CHARS = 500


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


@dataclass(frozen=True)
class BatchOutcome:
    """One POST's answer, for the batch as a whole (``deliver`` splits it per statement).

    ``outcome.kind`` is delivered, retry, or - when the batch may hold a bad statement
    among good ones - rejected or conflict. ``status`` is None when no answer came.
    ``stored_ids`` are the ids a 200 listed (the LRS's newly stored ones; a resent
    statement it already held is not listed, and a 204 lists none).
    """

    outcome: Outcome
    status: int | None = None
    stored_ids: tuple[str, ...] = ()


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
        return f"HTTP {response.status_code}: {'; '.join(parts)}"[:REASON_CHARS]
    if isinstance(detail, str):
        return f"HTTP {response.status_code}: {detail}"[:REASON_CHARS]
    text = (response.text or "").strip().replace("\n", " ")
    return f"HTTP {response.status_code}: {text}"[:REASON_CHARS] if text else \
        f"HTTP {response.status_code}"


def _failure(exc: requests.RequestException) -> str:
    """What a failed call may say: the exception's type only - its text can carry the URL
    (and a URL can carry credentials an operator pasted there) - unless the session's own
    policy raised it and marked its message as safe to show (``public_message``: the
    tool's outbound policy names the rule it applied, e.g. a refused address)."""
    if getattr(exc, "public_message", False):
        return str(exc)
    return type(exc).__name__


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # absent, or an HTTP date: the worker's own backoff applies


def _stored_ids(response: requests.Response) -> tuple[str, ...]:
    try:
        ids = response.json() if response.content else []
    except ValueError:
        return ()
    return tuple(i for i in ids if isinstance(i, str)) if isinstance(ids, list) else ()


def _body(statement: bytes | dict[str, Any]) -> bytes:
    return statement if isinstance(statement, bytes) else canonical_bytes(statement)


class LrsClient:
    """One LRS, one keep-alive session. Never puts the password in a message: it only
    travels in the Authorization header, and errors are reported by type and status.

    The tool passes its outbound session (lti_tool.delivery.outbound: checked and pinned
    addresses, a wall-clock deadline for each call, a cap on the answer's size); without
    one, a plain requests session with ``timeout`` per read is used."""

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

    def post_batch(self, statements: Sequence[bytes | dict[str, Any]]) -> BatchOutcome:
        """One POST of these statements as a JSON array, classified as a whole.

        Bytes are sent as they are (the outbox's stored bytes, so a retry is identical);
        dicts are serialized canonically first.
        """
        payload = b"[" + b",".join(_body(s) for s in statements) + b"]"
        try:
            answer = self.http.post(self.endpoint.statements_url, data=payload,
                                    timeout=self.timeout)
        except requests.RequestException as exc:
            return BatchOutcome(Outcome("retry", f"{self.endpoint.name} unreachable: "
                                                 f"{_failure(exc)}"))
        status = answer.status_code
        if status in (200, 204):
            return BatchOutcome(DELIVERED, status, _stored_ids(answer))
        if status in AUTH_STATUSES:
            return BatchOutcome(Outcome(
                "retry", f"{self.endpoint.name} refused the credentials ({_reason(answer)}); "
                         "fix them with `cpt-lti lrs add`", auth_problem=True), status)
        if status == 409:
            return BatchOutcome(Outcome("conflict", _reason(answer)), status)
        if status in SPLIT_STATUSES:
            return BatchOutcome(Outcome("rejected", _reason(answer)), status)
        if status == 429 or status >= 500:
            return BatchOutcome(Outcome("retry", f"{self.endpoint.name}: {_reason(answer)}",
                                        retry_after=_retry_after(answer)), status)
        # Anything else (404 from a wrong endpoint URL, 3xx): the configuration is wrong;
        # keep the statements and retry while an operator fixes it.
        return BatchOutcome(Outcome("retry", f"{self.endpoint.name}: unexpected "
                                             f"{_reason(answer)}; check the LRS endpoint URL"),
                            status)

    def deliver(self, statements: Sequence[tuple[Hashable, bytes]]
                ) -> list[tuple[Hashable, Outcome]]:
        """POST these statements (in order, one request when the LRS takes them all) and
        say what became of each. Never raises for anything the LRS or network does."""
        if not statements:
            return []
        batch = self.post_batch([body for _, body in statements])
        outcome = batch.outcome
        if outcome.kind in ("delivered", "retry"):
            return [(key, outcome) for key, _ in statements]
        if len(statements) > 1:
            middle = len(statements) // 2
            first = self.deliver(statements[:middle])
            stalled = next((o for _, o in first if o.kind == "retry"), None)
            if stalled is not None:
                # The LRS went away mid-split: keep the rest behind it, in order.
                return first + [(key, stalled) for key, _ in statements[middle:]]
            return first + self.deliver(statements[middle:])
        key, body = statements[0]
        if outcome.kind == "conflict":
            return [(key, self._settle_conflict(body, outcome.message))]
        return [(key, outcome)]

    def _settle_conflict(self, body: bytes, reason: str) -> Outcome:
        """A 409 for one statement: delivered before (same statement) or a real conflict."""
        mine = json.loads(body)
        try:
            answer = self.http.get(self.endpoint.statements_url,
                                   params={"statementId": mine["id"]}, timeout=self.timeout)
        except requests.RequestException as exc:
            return Outcome("retry", f"{self.endpoint.name} unreachable while checking a "
                                    f"conflict: {_failure(exc)}")
        if answer.status_code != 200:
            return Outcome("retry", f"{self.endpoint.name}: checking a conflict gave "
                                    f"{_reason(answer)}")
        stored = _one_statement(answer, mine["id"])
        if stored is not None and same_statement(mine, stored):
            return DELIVERED
        return Outcome("conflict", f"the LRS holds a different statement with id "
                                   f"{mine['id']} ({reason})")


def _one_statement(answer: requests.Response, statement_id: str) -> dict[str, Any] | None:
    """The statement a ``?statementId=`` GET returned. The spec says the statement itself;
    Ralph 5.1 wraps it in a StatementResult (``{"statements": [...]}``). Both are read."""
    try:
        data = answer.json()
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("statements"), list):
        data = next((s for s in data["statements"]
                     if isinstance(s, dict) and s.get("id") == statement_id), None)
    return data if isinstance(data, dict) else None


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
    if a is None or b is None:
        return a == b
    try:
        return datetime.fromisoformat(a.replace("Z", "+00:00")) == \
            datetime.fromisoformat(b.replace("Z", "+00:00"))
    except ValueError:
        return a == b
