"""Tool RSA keys: generation, JWKS publication, rotation with an overlap window."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models import ToolKey


class ToolKeyError(LookupError):
    """No such key, or the key asked for cannot be removed."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key_pem: str


def generate_rsa_pem(bits: int = 2048) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def public_jwk_from_pem(private_pem: str) -> dict[str, Any]:
    """Public JWK with kid = RFC 7638 thumbprint, so a kid always names exactly one key."""
    jwk = JWK.from_pem(private_pem.encode("ascii"))
    public = json.loads(jwk.export_public())
    public["kid"] = jwk.thumbprint()
    public["alg"] = "RS256"
    public["use"] = "sig"
    return public


class KeyService:
    """Keys live in the DB so every process signs with, and publishes, the same set."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def all(self) -> list[ToolKey]:
        return list(self.session.scalars(select(ToolKey).order_by(ToolKey.created_at,
                                                                    ToolKey.id)))

    def active(self) -> ToolKey | None:
        return self.session.scalars(
            select(ToolKey).where(ToolKey.active.is_(True))
            .order_by(ToolKey.created_at.desc(), ToolKey.id.desc())
        ).first()

    def ensure_key(self) -> ToolKey:
        """Used by ``cpt-lti init``: create the first key only if there is none."""
        return self.active() or self.rotate()

    def rotate(self) -> ToolKey:
        """Add a new active key; older keys stay published (platforms cache JWKS)."""
        pem = generate_rsa_pem()
        jwk = public_jwk_from_pem(pem)
        for old in self.all():
            old.active = False
        key = ToolKey(kid=jwk["kid"], private_key_pem=pem, public_jwk=jwk, active=True)
        self.session.add(key)
        self.session.flush()
        return key

    def retire(self, kid: str) -> None:
        """Remove a key from JWKS for good; the active key cannot be retired."""
        key = self.session.scalars(select(ToolKey).where(ToolKey.kid == kid)).first()
        if key is None:
            raise ToolKeyError(f"no key with kid {kid!r}")
        if key.active:
            raise ToolKeyError(f"key {kid} is the active signing key; rotate first")
        self.session.delete(key)
        self.session.flush()

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        return {"keys": [dict(k.public_jwk) for k in self.all()]}

    def signing_key(self) -> SigningKey:
        key = self.active()
        if key is None:
            raise ToolKeyError("the tool has no signing key: run `cpt-lti init`")
        return SigningKey(kid=key.kid, private_key_pem=key.private_key_pem)
