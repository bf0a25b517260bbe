"""Voiding statements: how an erasure reaches an LRS that already stored a person's
statements (xAPI 1.0.3, Data 2.3.2 "Voided").

A voiding statement names only the statement it voids (a StatementRef) and who voids it:
the tool itself, never the erased person, so erasing writes no personal data again. Built
with tincan and corrected as statements.py corrects every statement (no ``version``, a UTC
millisecond timestamp), and frozen once: a retry resends the same bytes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tincan import Agent, AgentAccount, LanguageMap, Statement, StatementRef, Verb

from xapi.statements import canonical_bytes

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
TOOL_ACCOUNT = "cpt-practice"


def voiding_json(statement_id: str, voids: str, tool_home: str,
                 when: datetime) -> dict[str, Any]:
    """The statement that voids ``voids``, sent by the tool (an account on ``tool_home``,
    the tool's base URL). ``when`` must be aware: a naive time has no meaning to an LRS."""
    if when.tzinfo is None:
        raise ValueError("a voiding statement's time must carry its time zone")
    statement = Statement(
        id=statement_id,
        actor=Agent(account=AgentAccount(home_page=tool_home, name=TOOL_ACCOUNT),
                    name="CPT Practice"),
        verb=Verb(id=VOIDED, display=LanguageMap({"en-US": "voided"})),
        object=StatementRef(id=voids))
    data = json.loads(statement.to_json())
    data.pop("version", None)  # tincan 1.0.0 stamps 1.0.3; the LRS sets it
    data["timestamp"] = when.astimezone(UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")
    return data


def voiding_body(statement_id: str, voids: str, tool_home: str, when: datetime) -> str:
    """The frozen text the outbox keeps for it."""
    return canonical_bytes(voiding_json(statement_id, voids, tool_home, when)).decode()
