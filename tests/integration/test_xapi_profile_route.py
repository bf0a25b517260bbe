"""The tool serves its xAPI Profile at a stable URL, as the statements' category says."""

from __future__ import annotations

from xapi import vocabulary as v
from xapi.profile import load_profile


def test_profile_is_served_as_json_ld(client):
    answer = client.get("/xapi/profile")
    assert answer.status_code == 200
    assert answer.mimetype == "application/ld+json"
    document = answer.get_json(force=True)
    assert document == load_profile()
    assert document["versions"][0]["id"] == v.PROFILE_VERSION
    assert "max-age" in answer.headers["Cache-Control"]
