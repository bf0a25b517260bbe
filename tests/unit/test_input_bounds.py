"""Values longer than their column are refused by the service with a clear error, on SQLite
and PostgreSQL (issue 15, point 7). SQLite stores a string of any length in a VARCHAR(255);
PostgreSQL refuses it, and the admin console's LRS form answered 500. The CLI maps these
errors to exit 2, the admin console to a notice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from support import make_settings
from werkzeug.exceptions import BadRequest

from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.delivery.destinations import LrsConfigError, add_lrs
from lti_tool.lti.claims import check_envelope, check_message
from lti_tool.lti.errors import BadClaimError
from lti_tool.lti.platforms import PlatformError, PlatformService, PlatformSpec
from lti_tool.models import LrsEndpoint, Platform
from lti_tool.web.inputs import json_number

LONG = "x" * 3000
URL = "https://lms.example.edu/"


@pytest.fixture
def db(database_url) -> Iterator[Session]:
    engine = make_engine(database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


def _spec(**changes: str) -> PlatformSpec:
    values = {"issuer": "https://lms.example.edu", "client_id": "c1", "auth_login_url": URL,
              "auth_token_url": URL, "key_set_url": URL}
    return PlatformSpec(**{**values, **changes})


@pytest.mark.parametrize("field", ["issuer", "client_id", "auth_login_url", "key_set_url",
                                   "name", "auth_audience", "deployment_ids"])
def test_platform_add_refuses_values_longer_than_their_column(db, field):
    """``cpt-lti platform add`` with a 3,000-character value: a PlatformError naming the
    field (exit 2), not a database error."""
    value: object = (LONG,) if field == "deployment_ids" else (
        URL + LONG if field.endswith("url") else LONG)
    with pytest.raises(PlatformError, match="at most"):
        PlatformService(db).add(_spec(**{field: value}))
    assert db.scalars(select(Platform).where(Platform.client_id == "c1")).first() is None


@pytest.mark.parametrize("field", ["url", "username"])
def test_lrs_add_refuses_values_longer_than_their_column(db, database_url, field):
    """The admin console's LRS form with a 3,000-character endpoint or user name (a 500 on
    PostgreSQL): refused with an LrsConfigError the console shows as a notice."""
    platform = PlatformService(db).add(_spec()).platform
    values = {"name": "lrs", "url": "https://lrs.example.test/xapi/", "username": "u",
              "password": "p"}
    values[field] = values[field] + LONG if field == "url" else LONG
    with pytest.raises(LrsConfigError, match="at most"):
        add_lrs(db, make_settings(database_url), platform, **values)
    assert db.scalars(select(LrsEndpoint)).first() is None


@pytest.mark.parametrize("value", [2 ** 63, -1, 10 ** 30, True, 1.5, "5"])
def test_json_numbers_out_of_range_are_a_400_naming_the_field(value):
    with Flask(__name__).test_request_context(), pytest.raises(BadRequest) as caught:
        json_number({"duration_ms": value}, "duration_ms", 0, 86_400_000)
    assert "duration_ms" in caught.value.description


def test_claim_checks_name_the_claim_and_never_echo_its_value():
    """The refusal names the claim; a hostile value (here a script tag) never reaches the
    message, and a hostile member name is cut."""
    body = {"https://purl.imsglobal.org/spec/lti/claim/context": {
        "id": "<script>alert(1)</script>" * 20}}
    with pytest.raises(BadClaimError) as caught:
        check_message(body, {"issuer": None, "client_id": None})
    assert "context.id" in caught.value.detail and "script" not in caught.value.detail
    deep: dict = {}
    node = deep
    for _ in range(40):
        node["k" * 30] = {}
        node = node["k" * 30]
    with pytest.raises(BadClaimError) as caught:
        check_envelope({"ext": deep}, {"issuer": None, "client_id": None})
    assert "nests deeper" in caught.value.detail and len(caught.value.detail) < 200
