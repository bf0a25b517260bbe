"""The statement quality gate, where a statement is frozen for delivery.

Every statement the fan-out renders is checked by ``xapi.quality.check`` (xAPI 1.0.3 and
our own profile's templates) before its JSON becomes an outbox row's body. A statement
that fails is refused at the source: its row gets no body and no destination, so it is
never POSTed to any LRS; it is parked as failed with "refused by the statement quality
gate: <rule> ..." (never retried on its own, listed by ``cpt-lti outbox``; ``outbox retry``
renders it again, through the gate again, once the cause is fixed), logged as a warning
naming the rule, and counted per rule for /metrics. An event is refused as a whole when
the statement for any of its LRSs fails: colleges with two LRSs keep the same records.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from lti_tool.models import Outbox, OutboxStatus
from lti_tool.ops.metrics import XAPI_REFUSED, bump
from xapi.quality import Violation, check

log = logging.getLogger(__name__)

REFUSED = XAPI_REFUSED  # the counter /metrics shows per rule
REFUSAL = "refused by the statement quality gate"


def violations(body: str) -> list[Violation]:
    """What is wrong with one frozen statement (its JSON text)."""
    try:
        statement = json.loads(body)
    except ValueError as exc:
        return [Violation("statement.type", "$", f"not JSON: {exc}")]
    return check(statement)


def admit(session: Session, row: Outbox, bodies: Sequence[str]) -> bool:
    """True when every statement of ``row`` may be sent; otherwise the row is refused
    (failed, with the first broken rule) and False."""
    for body in bodies:
        found = violations(body)
        if found:
            refuse(session, row, found)
            return False
    return True


def refuse(session: Session, row: Outbox, found: Sequence[Violation]) -> None:
    first = found[0]
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    row.status = OutboxStatus.FAILED
    row.destination = row.body = None
    row.last_error = f"{REFUSAL}: {first}{more}"[:500]
    bump(session, REFUSED, first.rule)
    log.warning("xAPI statement %s (outbox row %s) %s: %s; all: %s",
                (row.payload or {}).get("statement_id"), row.id, REFUSAL, first.rule,
                "; ".join(str(v) for v in found)[:2000])
