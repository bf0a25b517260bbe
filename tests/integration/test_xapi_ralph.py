"""xapi.lrs against a real Ralph LRS over HTTP: every statement kind lands and reads back,
resends are harmless, a bad or conflicting statement is isolated from its batch, and an
LRS that is down or refuses the credentials keeps the statements for later.

What Ralph 5.1 does with a resent id is pinned here, because the outbox relies on it
(see the xapi.lrs docstring): identical -> dropped from the batch (204 when nothing is
new, 200 listing only the new ids); different -> 409 for the whole batch.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from ralph.models.xapi.base.statements import BaseXapiStatement

from lti_tool.sandbox.ralph_lrs import free_port
from xapi import events as ev
from xapi.lrs import LrsClient, LrsEndpoint, same_statement
from xapi.statements import canonical_bytes, statement_bytes, statement_json

ISSUER = "https://moodle.college.test"
START = datetime(2026, 11, 25, 14, 0, 0, 250000, tzinfo=UTC)


def _session(registration: str | None = None, mode: str = "mock") -> list[ev.Event]:
    """One attempt with every statement kind, in the profile's order."""
    registration = registration or str(uuid.uuid4())
    tick = iter(range(100))

    def common(**over) -> dict:
        base = dict(statement_id=str(uuid.uuid4()),
                    timestamp=START + timedelta(seconds=10 * next(tick)),
                    actor=ev.Actor(ISSUER, "sub-7"),
                    lms=ev.LmsContext(ISSUER, "dep-9", "ctx-3", "CPT cohort", "link-1"),
                    registration=registration, mode=mode, module_id="quality",
                    module_title="Quality Practices and Measurement")
        return base | over

    lesson = dict(lesson_id="LES-quality-spc", lesson_title="Control charts")
    return [
        ev.SessionInitialized(**common()),
        ev.LessonExperienced(**lesson, **common()),
        ev.ItemAnswered(item_id="QUA-010", stem="What does a control chart show?",
                        choices=("Variation over time", "Cost", "Inventory"),
                        correct_index=0, chosen_index=0, success=True,
                        duration_seconds=21.004, **lesson, **common()),
        ev.LessonCompleted(duration_seconds=95.5, **lesson, **common()),
        ev.ItemAnswered(item_id="QUA-011", stem="Which tool measures 0.001 in?",
                        choices=("Tape", "Micrometer", "Ruler", "Square"), correct_index=1,
                        chosen_index=3, success=False, duration_seconds=40, **common()),
        ev.AttemptCompleted(score_raw=1, score_max=2, duration_seconds=130.0, **common()),
        ev.AttemptJudged(passed=False, score_raw=1, score_max=2, duration_seconds=130.0,
                         **common()),
        ev.MasteryProgressed(key_activity_id="quality.measure",
                             key_activity_title="Measure parts", estimate=0.41,
                             **common()),
        ev.SessionTerminated(duration_seconds=140.2, **common()),
    ]


def _client(ralph, password: str | None = None, url: str | None = None) -> LrsClient:
    username, right = ralph.auth if ralph else ("nobody", "")
    return LrsClient(LrsEndpoint("college LRS", url or ralph.endpoint, username,
                                 password or right), timeout=(1.0, 5.0))


def _keyed(events: list[ev.Event]) -> list[tuple[str, bytes]]:
    return [(e.statement_id, statement_bytes(e)) for e in events]


def test_every_statement_kind_lands_and_reads_back_by_registration(ralph):
    events = _session()
    outcomes = _client(ralph).deliver(_keyed(events))
    assert [o.kind for _, o in outcomes] == ["delivered"] * len(events)
    assert {type(e).__name__ for e in events} == {t.__name__ for t in ev.EVENT_TYPES}
    stored = {s["id"]: s for s in ralph.statements(registration=events[0].registration)}
    assert set(stored) == {e.statement_id for e in events}
    for event in events:
        copy = stored[event.statement_id]
        BaseXapiStatement.model_validate(copy)
        assert same_statement(statement_json(event), copy), type(event).__name__
        assert copy["version"] == "1.0.0"  # we pin none; the LRS sets it (xAPI 1.0.3)
    other = ralph.statements(registration=str(uuid.uuid4()))
    assert other == []


def test_ralph_takes_post_after_post_and_pages_them_back(ralph):
    """The APPEND fix in ralph_app.py: Ralph 5.1's file backend fails every write after
    the first without it. Also checks the helper follows ``more`` links."""
    client = _client(ralph)
    events = _session()
    for event in events:  # one POST each
        [(_, outcome)] = client.deliver([(event.statement_id, statement_bytes(event))])
        assert outcome.kind == "delivered"
    paged = ralph.statements(registration=events[0].registration, limit="2")
    assert sorted(s["id"] for s in paged) == sorted(e.statement_id for e in events)


def test_a_resent_batch_is_delivered_and_stored_once(ralph):
    client = _client(ralph)
    events = _session()
    first, rest = _keyed(events[:4]), _keyed(events[4:])

    landed = client.post_batch([body for _, body in first])
    assert (landed.outcome.kind, landed.status) == ("delivered", 200)
    assert landed.stored_ids == tuple(key for key, _ in first)

    # The worker died after the POST, before recording it: the same bytes again.
    again = client.post_batch([body for _, body in first])
    assert (again.outcome.kind, again.status, again.stored_ids) == ("delivered", 204, ())

    # A retry that mixes old and new statements: Ralph stores only the new ones.
    mixed = client.post_batch([body for _, body in first[2:] + rest])
    assert (mixed.outcome.kind, mixed.status) == ("delivered", 200)
    assert mixed.stored_ids == tuple(key for key, _ in rest)

    assert {o.kind for _, o in client.deliver(first + rest)} == {"delivered"}
    counts = ralph.count_by_id()
    assert set(counts) == {e.statement_id for e in events} and set(counts.values()) == {1}


def test_a_different_statement_under_a_stored_id_is_a_conflict_and_the_rest_land(ralph):
    client = _client(ralph)
    original, *others = _session()
    [(_, first)] = client.deliver([(original.statement_id, statement_bytes(original))])
    assert first.kind == "delivered"
    twin = statement_json(original)
    twin["context"]["language"] = "fr-FR"  # same id, different statement
    batch = _keyed(others[:2]) + [("twin", canonical_bytes(twin))] + _keyed(others[2:4])

    whole = client.post_batch([body for _, body in batch])
    assert whole.status == 409 and whole.outcome.kind == "conflict"  # all refused at once

    outcomes = dict(client.deliver(batch))
    assert outcomes.pop("twin").kind == "conflict"
    assert {o.kind for o in outcomes.values()} == {"delivered"}
    assert set(ralph.count_by_id()) == {original.statement_id} | set(outcomes)
    [kept] = [s for s in ralph.statements() if s["id"] == original.statement_id]
    assert kept["context"]["language"] == "en-US"  # the LRS kept the first one


def test_one_bad_statement_is_rejected_alone_and_the_rest_land(ralph):
    client = _client(ralph)
    events = _session()
    broken = statement_json(events[3])
    del broken["actor"]
    batch = _keyed(events[:3]) + [("broken", canonical_bytes(broken))] + _keyed(events[4:])

    outcomes = dict(client.deliver(batch))
    rejected = outcomes.pop("broken")
    assert rejected.kind == "rejected"
    assert rejected.message == "HTTP 422: actor: Field required"
    assert {o.kind for o in outcomes.values()} == {"delivered"}
    assert set(ralph.count_by_id()) == set(outcomes)


def test_ralph_is_laxer_than_its_own_models(ralph):
    """Why the unit tests validate every statement with Ralph's strict pydantic models
    (and the events validate themselves): the LRS stores a verb id that is not an IRI."""
    event = _session()[0]
    odd = statement_json(event)
    odd["verb"]["id"] = "not an iri"
    with pytest.raises(ValidationError, match="not a valid 'IRI'"):
        BaseXapiStatement.model_validate(odd)
    [(_, outcome)] = _client(ralph).deliver([("odd", json.dumps(odd).encode())])
    assert outcome.kind == "delivered"
    assert ralph.count_by_id() == {event.statement_id: 1}


def test_an_unreachable_lrs_is_a_retry_and_nothing_is_raised():
    url = f"http://127.0.0.1:{free_port()}/xAPI/"  # nothing listens there
    client = _client(None, password="pw-" + secrets.token_hex(8), url=url)
    outcomes = client.deliver(_keyed(_session()[:3]))
    assert [o.kind for _, o in outcomes] == ["retry"] * 3
    outcome = outcomes[0][1]
    assert outcome.message == "college LRS unreachable: ConnectionError"
    assert not outcome.auth_problem and outcome.retry_after is None
    assert client.post_batch([]).status is None


def test_a_wrong_password_is_a_retry_flagged_for_an_operator_and_never_shown(ralph):
    wrong = "wrong-" + secrets.token_hex(12)
    client = _client(ralph, password=wrong)
    outcomes = client.deliver(_keyed(_session()[:4]))
    assert {o.kind for _, o in outcomes} == {"retry"}
    assert all(o.auth_problem for _, o in outcomes)
    shown = " ".join(f"{o} {o!r} {o.message}" for _, o in outcomes) + repr(client.endpoint)
    assert "HTTP 401" in shown and "cpt-lti lrs add" in shown
    for secret in (wrong, ralph.auth[1]):
        assert secret not in shown
    assert ralph.count_by_id() == {}
