"""Tool RSA keys: generation, JWKS publication, rotation with an overlap window.

The private half is stored sealed with the sealing key (lti_tool.delivery.sealed) and opened only
to sign; the JWKS is built from the stored public JWK, never from the private key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.delivery.sealed import SEALER_INFO_KEY, Sealer, UnsealError
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
    """Keys live in the DB so every process signs with, and publishes, the same set.

    Rotation is staged: a new key is published in the JWKS at once and starts signing
    after an overlap window, so a platform that cached the JWKS just before the rotation
    has refetched it (we send ``max-age=300``) by the time it sees the new ``kid``. The old
    key stays published until it is retired.
    """

    def __init__(self, session: Session, clock: Callable[[], datetime] | None = None,
                 sealer: Sealer | None = None) -> None:
        """``sealer``: by default the one the session factory carries (lti_tool.db); only
        creating a key and signing need it, listing and retiring do not."""
        self.session = session
        self.clock = clock or (lambda: datetime.now(UTC))
        self._sealer = sealer if sealer is not None else session.info.get(SEALER_INFO_KEY)

    @property
    def sealer(self) -> Sealer:
        if self._sealer is None:
            raise ToolKeyError("no sealing key for the tool's private keys: make the session "
                               "with make_session_factory(engine, sealer_for(settings))")
        return self._sealer

    def private_pem(self, key: ToolKey) -> str:
        """The key's PEM, opened from its sealed column for one signature."""
        try:
            return self.sealer.unseal(key.private_key_sealed)
        except UnsealError as exc:
            raise ToolKeyError(f"tool key {key.kid} cannot be opened with "
                               "CPT_LTI_SEALING_KEY: run `cpt-lti init` (it seals keys "
                               "stored before the sealing key existed); if the sealing key "
                               "was replaced, list the previous one after it and run "
                               "`cpt-lti sealing rotate`") from exc

    def all(self) -> list[ToolKey]:
        return list(self.session.scalars(select(ToolKey).order_by(ToolKey.created_at,
                                                                    ToolKey.id)))

    def _signs_now(self, key: ToolKey, now: datetime) -> bool:
        return key.active and (key.activates_at is None or key.activates_at <= now)

    def active(self) -> ToolKey | None:
        """The key that signs now: the newest one whose overlap window has passed."""
        now = self.clock()
        for key in reversed(self.all()):
            if self._signs_now(key, now):
                return key
        return None

    def pending(self) -> ToolKey | None:
        """A rotated-in key still waiting for its overlap window, if any."""
        now = self.clock()
        return next((k for k in reversed(self.all())
                     if k.active and k.activates_at is not None and k.activates_at > now), None)

    def ensure_key(self) -> ToolKey:
        """Used by ``cpt-lti init``: create the first key only if there is none."""
        return self.active() or self.rotate()

    def rotate(self, overlap: timedelta = timedelta(0)) -> ToolKey:
        """Publish a new key that signs after ``overlap`` (at once for the first key or
        with no overlap, e.g. after a key was exposed); older keys stay published."""
        now = self.clock()
        pem = generate_rsa_pem()
        jwk = public_jwk_from_pem(pem)
        has_signer = self.active() is not None
        key = ToolKey(kid=jwk["kid"], private_key_sealed=self.sealer.seal(pem),
                      public_jwk=jwk, active=True,
                      created_at=now,
                      activates_at=now + overlap if overlap and has_signer else None)
        self.session.add(key)
        self.session.flush()
        return key

    def rotate_if_due(self, every: timedelta, overlap: timedelta) -> ToolKey | None:
        """Scheduled rotation: a new key when the newest one is older than ``every``."""
        keys = self.all()
        if not keys or self.pending() is not None:
            return None
        if self.clock() - keys[-1].created_at < every:
            return None
        return self.rotate(overlap)

    def retire(self, kid: str) -> None:
        """Remove a key from JWKS for good; never the key that signs now, nor an old key
        while its successor is still waiting to take over."""
        key = self.session.scalars(select(ToolKey).where(ToolKey.kid == kid)).first()
        if key is None:
            raise ToolKeyError(f"no key with kid {kid!r}")
        signer = self.active()
        if signer is not None and key.id == signer.id:
            waiting = self.pending()
            hint = (f"; the next key signs from {waiting.activates_at.isoformat()}"
                    if waiting else "; rotate first")
            raise ToolKeyError(f"key {kid} is the signing key{hint}")
        self.session.delete(key)
        self.session.flush()

    def status(self, key: ToolKey) -> str:
        now = self.clock()
        signer = self.active()
        if signer is not None and key.id == signer.id:
            return "signing"
        if key.active and key.activates_at is not None and key.activates_at > now:
            return "next"
        return "published"

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        return {"keys": [dict(k.public_jwk) for k in self.all()]}

    def signing_key(self) -> SigningKey:
        key = self.active()
        if key is None:
            raise ToolKeyError("the tool has no signing key: run `cpt-lti init`")
        return SigningKey(kid=key.kid, private_key_pem=self.private_pem(key))
