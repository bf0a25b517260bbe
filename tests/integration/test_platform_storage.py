"""Cookie-less launches through LTI Client Side postMessage storage (Canvas sends
``lti_storage_target``). The browser half is covered in tests/e2e; here the HTTP half:
what the tool asks the page to do, and what it accepts back."""

from __future__ import annotations

import requests
from lti_helpers import assert_refused, begin_launch, storage_config

from lti_tool.sandbox.platforms import CANVAS


def test_login_with_storage_target_asks_the_page_to_store_state_and_nonce(live_server):
    pending = begin_launch(live_server, "canvas")
    s = requests.Session()
    page = s.get(f"{live_server.url}/sandbox/canvas/launch/frame",
                 params={"user": CANVAS.people[0].sub})
    from support import parse_form

    action, fields = parse_form(page.text)
    assert fields["lti_storage_target"] == "post_message_forwarding"
    r = s.post(action, data=fields, allow_redirects=False)
    assert r.status_code == 200
    cfg = storage_config(r.text)
    assert cfg["mode"] == "put" and cfg["target"] == "post_message_forwarding"
    assert cfg["origin"] == live_server.url  # origin of the platform's auth URL
    assert cfg["redirect"].startswith(CANVAS.endpoint(live_server.settings, CANVAS.auth_path))
    assert f"state={cfg['state']}" in cfg["redirect"] and f"nonce={cfg['nonce']}" in \
        cfg["redirect"]
    # The state cookie is still set for browsers that keep it.
    assert any(c.name == f"lti1p3-{cfg['state']}" for c in s.cookies)
    assert pending.state != cfg["state"]


def _cookieless_launch(pending):
    token = pending.sign(pending.claims())
    r = pending.post(token, session=requests.Session())
    return token, r


def test_cookieless_launch_reads_state_back_from_platform_storage(live_server):
    pending = begin_launch(live_server, "canvas")
    token, r = _cookieless_launch(pending)
    assert r.status_code == 200
    cfg = storage_config(r.text)
    assert cfg == {"mode": "get", "target": "post_message_forwarding",
                   "origin": live_server.url, "state": pending.state, "nonce": pending.nonce}
    done = requests.post(pending.redirect_uri, data={
        "id_token": token, "state": pending.state,
        "lti_storage_state": pending.state, "lti_storage_nonce": pending.nonce})
    assert done.status_code == 200, done.text[:600]
    assert "Welcome, Ana" in done.text


def test_storage_answer_with_another_state_is_refused(live_server):
    pending = begin_launch(live_server, "canvas")
    token, _ = _cookieless_launch(pending)
    r = requests.post(pending.redirect_uri, data={
        "id_token": token, "state": pending.state,
        "lti_storage_state": "state-from-elsewhere", "lti_storage_nonce": pending.nonce})
    assert_refused(r, "bad_state")


def test_storage_answer_with_another_nonce_is_refused(live_server):
    pending = begin_launch(live_server, "canvas")
    token, _ = _cookieless_launch(pending)
    r = requests.post(pending.redirect_uri, data={
        "id_token": token, "state": pending.state,
        "lti_storage_state": pending.state, "lti_storage_nonce": "other-nonce"})
    assert_refused(r, "bad_state")


def test_empty_storage_answer_is_refused_with_new_window_offer(live_server):
    """The platform frame did not answer (old LMS, script blocked): explain, offer a window."""
    pending = begin_launch(live_server, "canvas")
    token, _ = _cookieless_launch(pending)
    r = requests.post(pending.redirect_uri, data={
        "id_token": token, "state": pending.state,
        "lti_storage_state": "", "lti_storage_nonce": ""})
    assert_refused(r, "bad_state")
    assert 'target="_blank"' in r.text


def test_storage_answer_is_not_accepted_when_login_used_no_storage(live_server):
    """A platform that did not offer storage (Moodle) cannot be talked into it."""
    pending = begin_launch(live_server, "moodle")
    token = pending.sign(pending.claims())
    r = requests.post(pending.redirect_uri, data={
        "id_token": token, "state": pending.state,
        "lti_storage_state": pending.state, "lti_storage_nonce": pending.nonce})
    assert_refused(r, "bad_state")


def test_storage_launch_cannot_be_replayed(live_server):
    pending = begin_launch(live_server, "canvas")
    token, _ = _cookieless_launch(pending)
    data = {"id_token": token, "state": pending.state,
            "lti_storage_state": pending.state, "lti_storage_nonce": pending.nonce}
    assert requests.post(pending.redirect_uri, data=data).status_code == 200
    assert_refused(requests.post(pending.redirect_uri, data=data), "bad_nonce")
