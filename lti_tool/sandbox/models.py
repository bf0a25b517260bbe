"""Tables of the sandbox LMS (its keys, gradebook and tokens); never used in production."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.models import Base, UTCDateTime, utcnow


class SandboxKey(Base):
    """The signing key of one sandbox platform ("canvas" or "moodle")."""

    __tablename__ = "sandbox_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_key: Mapped[str] = mapped_column(String(20), unique=True)
    kid: Mapped[str] = mapped_column(String(64))
    private_key_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)


class SandboxToken(Base):
    """An OAuth2 access token the sandbox issued to the tool (client credentials grant)."""

    __tablename__ = "sandbox_token"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform_key: Mapped[str] = mapped_column(String(20))
    client_id: Mapped[str] = mapped_column(String(255))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SandboxAssertion(Base):
    """jti of every client assertion seen, so a replayed assertion is refused."""

    __tablename__ = "sandbox_assertion"

    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SandboxLineItem(Base):
    __tablename__ = "sandbox_line_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_key: Mapped[str] = mapped_column(String(20))
    context_id: Mapped[str] = mapped_column(String(255))
    resource_link_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    resource_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    tag: Mapped[str | None] = mapped_column(String(255), nullable=True)
    label: Mapped[str] = mapped_column(String(512))
    score_maximum: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SandboxScore(Base):
    """Every score POST as received; ``applied`` is false when an older timestamp lost."""

    __tablename__ = "sandbox_score"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_item_id: Mapped[int] = mapped_column(
        ForeignKey("sandbox_line_item.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(255))
    score_given: Mapped[float | None] = mapped_column(Float, nullable=True)
    score_maximum: Mapped[float | None] = mapped_column(Float, nullable=True)
    activity_progress: Mapped[str] = mapped_column(String(40))
    grading_progress: Mapped[str] = mapped_column(String(40))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    applied: Mapped[bool] = mapped_column(default=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SandboxResult(Base):
    """The current result per (line item, user): what the gradebook shows."""

    __tablename__ = "sandbox_result"
    __table_args__ = (UniqueConstraint("line_item_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    line_item_id: Mapped[int] = mapped_column(
        ForeignKey("sandbox_line_item.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(255))
    score_given: Mapped[float | None] = mapped_column(Float, nullable=True)
    score_maximum: Mapped[float | None] = mapped_column(Float, nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)


class SandboxPlacedLink(Base):
    """An activity an instructor placed with Deep Linking: the LMS's resource link."""

    __tablename__ = "sandbox_placed_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_key: Mapped[str] = mapped_column(String(20))
    context_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(512))
    url: Mapped[str] = mapped_column(String(1024))
    custom: Mapped[dict[str, Any]] = mapped_column(JSON)
    line_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("sandbox_line_item.id", ondelete="SET NULL"), nullable=True)
    # A course copy (sandbox/copies.py): the link this one is a copy of. Its chain is the
    # link's ``$ResourceLink.id.history``, and the chain's courses its ``$Context.id.history``.
    copied_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("sandbox_placed_link.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SandboxSwitch(Base):
    """A misbehaviour a test (or a developer) turns on for one sandbox platform, so the
    launch doctor can be shown each thing that goes wrong with a real LMS
    (sandbox/switches.py names them). Development and test only, as the sandbox is."""

    __tablename__ = "sandbox_switch"

    platform_key: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
