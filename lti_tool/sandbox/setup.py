"""Registers the sandbox platforms with the tool and gives each its own RSA key."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.lti.keys import generate_rsa_pem, public_jwk_from_pem
from lti_tool.lti.platforms.family import detect
from lti_tool.models import Deployment, Platform
from lti_tool.sandbox.models import SandboxKey
from lti_tool.sandbox.platforms import PLATFORMS, SandboxPlatform
from lti_tool.settings import Settings


def sandbox_key(session: Session, platform: SandboxPlatform) -> SandboxKey:
    key = session.scalars(select(SandboxKey).where(
        SandboxKey.platform_key == platform.key)).first()
    if key is None:
        pem = generate_rsa_pem()
        jwk = public_jwk_from_pem(pem)
        key = SandboxKey(platform_key=platform.key, kid=jwk["kid"], private_key_pem=pem,
                         public_jwk=jwk)
        session.add(key)
        session.flush()
    return key


def _existing_row(session: Session, platform: SandboxPlatform, issuer: str) -> Platform | None:
    """The tool's row for this sandbox platform: the one with today's issuer, or else one
    registered when the tool ran on another base URL (the Moodle-shaped platform's issuer
    is its URL, ``http://127.0.0.1:5000/sandbox/moodle``, so it changes with the port).
    Found by its client id and an issuer ending in ``/sandbox/<key>``: moving that row
    keeps its users, courses and attempts, where adding a row would leave a stale twin."""
    rows = list(session.scalars(select(Platform).where(
        Platform.client_id == platform.client_id).order_by(Platform.id)))
    exact = [r for r in rows if r.issuer == issuer]
    if exact:
        return exact[0]
    moved = [r for r in rows if r.issuer.rstrip("/").endswith(f"/sandbox/{platform.key}")]
    return moved[0] if moved else None


def ensure_sandbox_platforms(session: Session, settings: Settings) -> list[Platform]:
    """Idempotent: create keys, platform rows and deployments; when the base URL moved
    (another port), move the existing rows' issuer and URLs instead of adding new ones."""
    rows = []
    for platform in PLATFORMS.values():
        if not platform.preregistered:
            continue  # it registers itself, by Dynamic Registration
        sandbox_key(session, platform)
        issuer = platform.issuer(settings)
        row = _existing_row(session, platform, issuer)
        login_url = platform.endpoint(settings, platform.auth_path)
        if row is None:
            # Decided once, as for any new platform (the sandbox names its product, as an
            # admin's --lms would).
            row = Platform(issuer=issuer, client_id=platform.client_id,
                           lms_family=detect(issuer, login_url, platform.shape))
            session.add(row)
        row.issuer = issuer
        row.name = platform.name
        row.auth_login_url = login_url
        row.auth_token_url = platform.endpoint(settings, platform.token_path)
        row.key_set_url = platform.endpoint(settings, platform.jwks_path)
        session.flush()
        exists = session.scalars(select(Deployment).where(
            Deployment.platform_id == row.id,
            Deployment.deployment_id == platform.deployment_id)).first()
        if exists is None:
            session.add(Deployment(platform_id=row.id, deployment_id=platform.deployment_id))
        session.flush()
        rows.append(row)
    return rows
