"""`cpt-lti keys retire KID` for a kid that starts with "-".

A kid is an RFC 7638 thumbprint in base64url, so one key in 64 gets a kid that click read
as an option: `keys retire` then failed with a usage error (exit 2) and the operator could
not retire that key at all. test_cli's rotation test failed on it now and then.
"""

from __future__ import annotations

import json
import os

from sqlalchemy import create_engine, text
from test_cli import initialised, run  # noqa: F401 - the fixtures


def test_a_kid_that_starts_with_a_dash_can_be_retired(initialised) -> None:  # noqa: F811
    run_cli = initialised
    assert run_cli("keys", "rotate", "--now").exit_code == 0
    listed = json.loads(run_cli("keys", "list", "--json").stdout)
    [published] = [k["kid"] for k in listed if k["status"] == "published"]
    dashed = "-h" + published[2:]  # "-h" was also read as a request for help
    engine = create_engine(os.environ["CPT_LTI_DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(text("UPDATE tool_key SET kid = :new WHERE kid = :old"),
                           {"new": dashed, "old": published})
    engine.dispose()

    retired = run_cli("keys", "retire", dashed)

    assert retired.exit_code == 0, retired.stderr
    left = [k["kid"] for k in json.loads(run_cli("keys", "list", "--json").stdout)]
    assert dashed not in left and len(left) == 1


def test_retire_still_explains_itself(run) -> None:  # noqa: F811
    shown = run("keys", "retire", "--help")
    assert shown.exit_code == 0 and "Stop publishing key KID" in shown.stdout
