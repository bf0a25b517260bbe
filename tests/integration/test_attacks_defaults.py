"""Attack tests for issue 15 point 5: development defaults in production.

What was reproduced: the tool's private keys were stored in plain text, and LRS passwords
were sealed with a key derived from the (then public, by default) cookie secret, so anyone
with a copy of the database - or the secret - held the college's signing key and its LRS
credentials. Now both are sealed with the sealing key (``CPT_LTI_SEALING_KEY``), which is
separate from the cookie secret, and launches and deep linking still sign with them.
The refusals of a fresh install are in tests/unit/test_settings.py and test_cli.py.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import stat

import jwt
import pytest
import requests
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from lti_helpers import full_launch
from sqlalchemy import text
from support import make_settings, parse_form, prepare
from test_deep_linking import _deep_link_launch

from lti_tool.db import make_engine, make_session_factory, transaction
from lti_tool.delivery.destinations import add_lrs, destinations_for
from lti_tool.delivery.sealed import SealedValues, UnsealError, sealer_for
from lti_tool.models import Platform
from lti_tool.sandbox.platforms import CANVAS, MOODLE
from lti_tool.settings import load_settings

PEM_MARK = "PRIVATE KEY"


def _legacy_fernet(secret_key: str) -> Fernet:
    """The key the tool used to seal with: HKDF of the cookie secret."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"cpt-lti sealed credentials v1").derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _tool_key_column(database_url: str) -> list[str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT private_key_sealed FROM tool_key")).scalars())
    finally:
        engine.dispose()


def _deep_link(server, platform, person) -> requests.Response:
    """An instructor places one activity; the sandbox verifies the tool's signature."""
    s, picker = _deep_link_launch(server, platform, person)
    action, fields = parse_form(picker.text)
    fields["activity"] = ["lessons:quality"]
    back = s.post(server.url + action.replace("&amp;", "&"), data=fields)
    return_url, form = parse_form(back.text)
    header = jwt.get_unverified_header(form["JWT"])
    assert header["alg"] == "RS256" and header["kid"]
    return s.post(return_url, data=form)


def test_tool_private_keys_are_sealed_at_rest_and_still_sign(live_server):
    """ATTACK (issue 15.5): ``tool_key`` held the private key as a plain PEM. The column now
    holds a Fernet token that only the sealing key opens, and launches (id_token checks),
    Deep Linking responses (signed with that key) still work."""
    [stored] = _tool_key_column(live_server.settings.database_url)
    assert PEM_MARK not in stored and not stored.startswith("-----BEGIN")
    opened = Fernet(live_server.settings.sealing_key.split(",")[0].encode()).decrypt(
        stored.encode()).decode()
    assert opened.startswith("-----BEGIN PRIVATE KEY-----")
    with pytest.raises(InvalidToken):  # the cookie secret does not open it
        _legacy_fernet(live_server.settings.secret_key).decrypt(stored.encode())

    instructor = next(p for p in MOODLE.people if p.persona == "instructor")
    placed = _deep_link(live_server, MOODLE, instructor)
    assert placed.status_code == 200 and "1 activity added" in placed.text
    launched = full_launch(live_server, "canvas", CANVAS.people[0].sub)
    assert launched.status_code == 200


def test_no_page_or_key_set_shows_key_material(live_server):
    """The JWKS publishes public keys only; no page carries a private key or sealed value."""
    [stored] = _tool_key_column(live_server.settings.database_url)
    jwks = requests.get(live_server.url + "/lti/jwks").json()
    assert all(not {"d", "p", "q", "dp", "dq", "qi"} & set(k) for k in jwks["keys"])
    pages = [requests.get(live_server.url + path) for path in
             ("/", "/lti/jwks", "/health", "/lti/canvas.json")]
    pages.append(full_launch(live_server, "canvas", CANVAS.people[0].sub))
    for page in pages:
        assert PEM_MARK not in page.text and stored not in page.text
        assert stored[:40] not in page.text


def test_lrs_passwords_follow_the_sealing_key_not_the_secret(database_url):
    """ATTACK (issue 15.5): an LRS password was sealed with a key derived from the cookie
    secret, so the public development secret (or a leaked one) opened it. Now: changing
    the secret keeps it readable, it does not open with the secret-derived key, and a new
    sealing key opens it only after a rotation while the old key is still listed."""
    settings = make_settings(database_url)
    prepare(settings)
    old_key = settings.sealing_key
    new_key = Fernet.generate_key().decode()
    engine = make_engine(database_url)
    sessions = make_session_factory(engine, sealer_for(settings))
    try:
        with transaction(sessions) as db:
            platform = db.query(Platform).filter_by(client_id=CANVAS.client_id).one()
            row, _ = add_lrs(db, settings, platform, name="district",
                             url="https://lrs.college.edu/xapi/", username="key",
                             password="lrs-secret-123")
            platform_id, stored = platform.id, row.password_sealed
        assert "lrs-secret-123" not in stored
        with pytest.raises(InvalidToken):
            _legacy_fernet(settings.secret_key).decrypt(stored.encode())

        def password(s) -> str:
            with transaction(sessions) as db:
                [destination] = destinations_for(db, s, platform_id)
                return destination.password

        new_secret = dataclasses.replace(settings, secret_key="another-secret-" + "x" * 40)
        assert password(new_secret) == "lrs-secret-123"
        swapped = dataclasses.replace(settings, sealing_key=new_key)
        with pytest.raises(UnsealError, match="sealing rotate"):
            password(swapped)

        both = dataclasses.replace(settings, sealing_key=f"{new_key},{old_key}")
        assert password(both) == "lrs-secret-123"
        with transaction(sessions) as db:
            report = SealedValues(db, sealer_for(both), settings.secret_key).rotate()
        assert report.resealed == 2  # the tool key and the LRS password
        assert password(swapped) == "lrs-secret-123"  # the old key is no longer needed
        with pytest.raises(UnsealError):
            password(settings)
    finally:
        engine.dispose()


def test_development_makes_its_own_sealing_key_file(tmp_path, monkeypatch):
    """Development with no sealing key keeps a generated one in var/ (mode 0600), the
    same for every process started there; production never does (it refuses instead)."""
    monkeypatch.chdir(tmp_path)
    env = {"CPT_LTI_ENVIRONMENT": "development",
           "CPT_LTI_DATABASE_URL": f"sqlite:///{tmp_path}/dev.db"}
    first = sealer_for(load_settings(env=env))
    key_file = tmp_path / "var" / "sealing.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    token = first.seal("hello")
    again = sealer_for(load_settings(env={**env, "CPT_LTI_LOG_LEVEL": "DEBUG"}))
    assert again.unseal(token) == "hello"
    assert Fernet(key_file.read_text().strip().encode()).decrypt(token.encode()) == b"hello"
