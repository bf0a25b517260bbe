"""Issue 15, point 8: anyone could lock the admin out. Five bad passwords for ``admin``
from anywhere blocked the real admin from everywhere, and again after each pause.

Now failures lock only the (client address, account) pair that made them; guessing from
many addresses at one account is slowed (each further try is held a little), never locked.
"""

from __future__ import annotations

import pytest

from lti_tool.db import transaction
from lti_tool.ops.admin import MAX_DELAY_SECONDS, MAX_FAILURES, AdminService
from lti_tool.web import admin as admin_views
from lti_tool.web.runtime import system_clock

PASSWORD = "correct horse battery"
ATTACKER = "203.0.113.66"
ADMIN_DESK = "10.0.0.1"


@pytest.fixture
def admin_client(app, client, monkeypatch):
    with transaction(app.extensions["cpt_lti"].sessions) as db:
        AdminService(db, system_clock).create("admin", PASSWORD)
    waits: list[float] = []
    monkeypatch.setattr(admin_views, "pause", waits.append)  # the held time, not slept
    client.waits = waits
    return client


def _sign_in(client, password: str = PASSWORD, address: str = ADMIN_DESK,
             username: str = "admin"):
    return client.post("/admin/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_a_stranger_cannot_lock_the_admin_out(admin_client):
    for _round in range(2):  # repeatably
        for _ in range(MAX_FAILURES):
            assert _sign_in(admin_client, "wrong password!!", ATTACKER).status_code in (
                401, 429)
        # The stranger's own tries for this account are paused...
        paused = _sign_in(admin_client, PASSWORD, ATTACKER)
        assert paused.status_code == 429 and "Too many failed sign-ins" in paused.text
        # ...while the admin at their desk signs in at once.
        answer = _sign_in(admin_client)
        assert answer.status_code == 302, answer.text[:500]
        assert answer.headers["Location"].endswith("/admin/")
        admin_client.post("/admin/logout")  # (no CSRF: just drop the cookie)
        admin_client.delete_cookie("cpt_admin", path="/admin")


def test_a_pause_for_one_account_is_not_a_pause_for_others(admin_client, app):
    with transaction(app.extensions["cpt_lti"].sessions) as db:
        AdminService(db, system_clock).create("second-admin", PASSWORD)
    for _ in range(MAX_FAILURES):
        _sign_in(admin_client, "wrong password!!", ATTACKER)
    assert _sign_in(admin_client, PASSWORD, ATTACKER).status_code == 429
    assert _sign_in(admin_client, PASSWORD, ATTACKER, "second-admin").status_code == 302


def test_guessing_from_many_addresses_is_slowed_never_locked(admin_client):
    """A botnet spreading guesses over addresses stays under every pair's limit: the
    account as a whole then holds each further try (growing, bounded), so total guessing
    stays slow; the real admin's try is held the same way and then succeeds."""
    for n in range(14):
        assert _sign_in(admin_client, "wrong password!!", f"198.51.100.{n}"
                        ).status_code == 401
    waits = admin_client.waits
    assert waits and waits[-1] > 0, waits  # the later guesses were held
    assert waits == sorted(waits) and max(waits) <= MAX_DELAY_SECONDS
    answer = _sign_in(admin_client)
    assert answer.status_code == 302, answer.text[:500]
    assert waits[-1] > 0
    # A success from the admin's desk does not clear the account's record of the botnet's
    # failures (it would let the botnet guess at full speed again).
    _sign_in(admin_client, "wrong password!!", "198.51.100.200")
    assert waits[-1] > 0
