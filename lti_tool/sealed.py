"""Credentials kept in the database (LRS passwords), sealed with the tool's secret key.

A database backup or a read-only SQL account then does not hand out a college's LRS
password. Fernet (from ``cryptography``) does the sealing; the key is derived from
``CPT_LTI_SECRET_KEY`` with HKDF, so there is no second secret to manage. Changing the
secret key makes sealed values unreadable: the LRS must be added again (the delivery
error says so).
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class UnsealError(ValueError):
    """A sealed value cannot be opened with this secret key."""


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"cpt-lti sealed credentials v1").derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret_key: str, plain: str) -> str:
    return _fernet(secret_key).encrypt(plain.encode()).decode()


def unseal(secret_key: str, sealed: str) -> str:
    try:
        return _fernet(secret_key).decrypt(sealed.encode()).decode()
    except InvalidToken as exc:
        raise UnsealError("the stored credential was sealed with another secret key; "
                          "add the LRS again (cpt-lti lrs add)") from exc
