"""ORM tables. UTC-aware datetimes, enum statuses, unique constraints carry the invariants."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always hands back aware datetimes (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class DeploymentPolicy(enum.StrEnum):
    """What to do with a deployment id the platform sends that we have not seen."""

    STRICT = "strict"
    AUTO_REGISTER = "auto-register"


class LmsFamily(enum.StrEnum):
    """Which LMS a platform is, decided once per platform row (lti/platforms/family.py
    detects it and keys every per-LMS difference on it); an admin may correct it."""

    CANVAS = "canvas"
    MOODLE = "moodle"
    OTHER = "other"

    def spoken(self, platform_name: str = "") -> str:
        """The LMS as a person calls it in a sentence ("Canvas accepted"): the family's
        name, else the platform's own name, else "the LMS". Here, not in lti/, because the
        engine's grade wording (delivery/provenance.py) needs it and imports no LTI code."""
        named = {LmsFamily.CANVAS: "Canvas", LmsFamily.MOODLE: "Moodle"}
        return named.get(self, "") or platform_name.strip() or "the LMS"


class Role(enum.StrEnum):
    LEARNER = "learner"
    INSTRUCTOR = "instructor"
    ADMIN = "admin"


class Platform(Base):
    """One LMS registration: Canvas shares one issuer across schools, so issuer+client_id."""

    __tablename__ = "platform"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    auth_login_url: Mapped[str] = mapped_column(String(1024))
    auth_token_url: Mapped[str] = mapped_column(String(1024))
    key_set_url: Mapped[str] = mapped_column(String(1024))
    auth_audience: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    # Space-separated extra origins allowed to frame the tool (CSP frame-ancestors), for an
    # LMS served from a domain its issuer does not name (a college's vanity Canvas domain).
    frame_origins: Mapped[str] = mapped_column(Text, default="", server_default="")
    deployment_policy: Mapped[DeploymentPolicy] = mapped_column(
        Enum(DeploymentPolicy, native_enum=False, length=20,
             values_callable=lambda e: [m.value for m in e]),
        default=DeploymentPolicy.STRICT,
    )
    # Set where the row is created (lti/platforms/family.py ``detect``), then only by an admin.
    lms_family: Mapped[LmsFamily] = mapped_column(
        Enum(LmsFamily, native_enum=False, length=20,
             values_callable=lambda e: [m.value for m in e]),
        default=LmsFamily.OTHER, server_default=LmsFamily.OTHER.value,
    )
    # Space-separated sub-roles (``Instructor#TeachingAssistant``) that open the instructor
    # view on their own, without their parent role (lti/roles.py). Empty, the safe default:
    # Open edX sends a discussion moderator as a bare TeachingAssistant.
    staff_roles: Mapped[str] = mapped_column(Text, default="", server_default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_launch_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The kid in the header of the platform's last valid id_token (lti/records.py): the
    # launch doctor (ops/doctor.py) checks that the platform's key set still holds it.
    last_launch_kid: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The last refused launch whose (unverified) iss and aud name this platform, for the
    # admin console (ops/launch_failures.py): when, the error code and the error's fixed
    # title - never a claim of the token, which anyone could have forged.
    last_failed_launch_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_failed_launch_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    last_failed_launch_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)

    deployments: Mapped[list[Deployment]] = relationship(
        back_populates="platform", cascade="all, delete-orphan"
    )


class PlatformCheck(Base):
    """The launch doctor's last run for a platform (ops/doctor.py): when it ran, whether
    every check passed, and each check's line as it was shown. One row per platform,
    replaced by each run, so the admin console shows what the doctor last found."""

    __tablename__ = "platform_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(
        ForeignKey("platform.id", ondelete="CASCADE"), unique=True)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool]
    # [{"name", "status" ("ok", "failed", "skipped"), "detail", "fix"}], texts trimmed.
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    ran_by: Mapped[str] = mapped_column(String(120), default="")


class PlatformRegistration(Base):
    """A Dynamic Registration waiting for a tool admin (issue 15). The registration page is
    open to anyone, so what it receives is only a proposal: a new platform (when approval
    is required) or new URLs for one already registered (always) wait here, change
    nothing, launch nothing and frame nothing until approved (lti/registration.py). One
    per issuer and client ID: a repeated registration replaces the waiting proposal."""

    __tablename__ = "platform_registration"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    auth_login_url: Mapped[str] = mapped_column(String(1024))
    auth_token_url: Mapped[str] = mapped_column(String(1024))
    key_set_url: Mapped[str] = mapped_column(String(1024))
    deployment_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    openid_configuration: Mapped[str] = mapped_column(String(1024))
    # Detected from the registration (its product family), given to the platform approved.
    lms_family: Mapped[LmsFamily] = mapped_column(
        Enum(LmsFamily, native_enum=False, length=20,
             values_callable=lambda e: [m.value for m in e]),
        default=LmsFamily.OTHER, server_default=LmsFamily.OTHER.value,
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Deployment(Base):
    __tablename__ = "deployment"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(default=True)
    auto_registered: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    platform: Mapped[Platform] = relationship(back_populates="deployments")


class ToolKey(Base):
    """The tool's signing keys; every key stays published in JWKS until retired."""

    __tablename__ = "tool_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    # The PKCS#8 PEM sealed with the sealing key (lti_tool.delivery.sealed), never the PEM itself:
    # KeyService opens it only to sign.
    private_key_sealed: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A rotated-in key is published at once but signs only from this moment: platforms
    # that cached the JWKS before it existed refetch in the meantime (null: from creation).
    activates_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class User(Base):
    """A person as one platform knows them; name/email kept only when the platform sends them."""

    __tablename__ = "lti_user"
    __table_args__ = (UniqueConstraint("platform_id", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    given_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    family_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Course(Base):
    """An LTI context; keyed per deployment so two schools' "MFG101" never meet."""

    __tablename__ = "course"
    __table_args__ = (UniqueConstraint("deployment_id", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"))
    context_id: Mapped[str] = mapped_column(String(255))
    label: Mapped[str | None] = mapped_column(String(255), nullable=True)
    title: Mapped[str | None] = mapped_column(String(512), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The course's roster service (NRPS) as the latest launch that named one gave it; a
    # launch without the claim (Deep Linking requests often) keeps it (lti/records.py).
    nrps_url: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    # Fetching the roster (lti/roster.py): the last fetch that worked, the last one that
    # ended (worked or not) and its error, and the claim of the one under way (one at a
    # time per course, whichever process or thread holds it; cleared when it ends).
    roster_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    roster_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    roster_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    roster_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    deployment: Mapped[Deployment] = relationship()


class GradingPolicy(enum.StrEnum):
    """Which of a student's attempts on a graded link the gradebook shows."""

    BEST = "best"
    LATEST = "latest"
    AVERAGE = "average"


class ResourceLink(Base):
    __tablename__ = "resource_link"
    __table_args__ = (UniqueConstraint("course_id", "link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    link_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(512), nullable=True)
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ags_lineitems_url: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    ags_lineitem_url: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    ags_scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    grading_policy: Mapped[GradingPolicy] = mapped_column(
        Enum(GradingPolicy, native_enum=False, length=20,
             values_callable=lambda e: [m.value for m in e]),
        default=GradingPolicy.BEST, server_default=GradingPolicy.BEST.value)
    # Course copy (lti/copies.py): the link of the same deployment this one was copied
    # from, and the activity carried from it when the copy's own custom names none.
    copied_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("resource_link.id", ondelete="SET NULL"), nullable=True)
    carried_placement: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Enrollment(Base):
    """The role a user had in a course at their latest launch, plus the raw LTI roles."""

    __tablename__ = "enrollment"
    __table_args__ = (UniqueConstraint("course_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    lti_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Accommodation set by the instructor (1.5x or 2x time on timed exams), kept across
    # launches and applied by the server, never by the browser.
    time_multiplier: Mapped[float] = mapped_column(default=1.0, server_default="1.0")
    last_launch_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LaunchValue(Base):
    """pylti1p3's launch data, nonces and state, shared by every process through the DB."""

    __tablename__ = "launch_value"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Who started the login that stored this row (a keyed hash of the client address):
    # logins are anonymous, so each client's waiting ones are capped (lti/storage.py).
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)


Index("ix_launch_value_owner_expires_at", LaunchValue.owner, LaunchValue.expires_at)


class ToolSession(Base):
    """A signed-in launch: the browser holds only the random id (cookie or URL)."""

    __tablename__ = "tool_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), nullable=True
    )
    resource_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("resource_link.id", ondelete="CASCADE"), nullable=True
    )
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    launch_id: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Idle expiry: the last request, written at most once a minute (web/sessions.py).
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # SHA-256 of the launching browser's User-Agent: an id copied out of a URL does not
    # open the session from another browser. None for sessions older than the check.
    agent_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)


# A relaunch ends the person's older sessions of the same link context (web/sessions.py).
Index("ix_tool_session_user_id_resource_link_id", ToolSession.user_id,
      ToolSession.resource_link_id)


class ContentRelease(Base):
    """One load of the curriculum data: which bank version the DB holds, and when."""

    __tablename__ = "content_release"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    blueprint_version: Mapped[int]
    items: Mapped[int]
    lessons: Mapped[int]
    added: Mapped[int]
    updated: Mapped[int]
    retired: Mapped[int]
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CurriculumModule(Base):
    __tablename__ = "curriculum_module"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    required: Mapped[bool]
    summary: Mapped[str] = mapped_column(Text)
    exam_items: Mapped[int]
    exam_minutes: Mapped[int]
    exam_source: Mapped[str] = mapped_column(Text)
    position: Mapped[int]
    pass_percent: Mapped[int | None] = mapped_column(default=None)


class CurriculumKeyActivity(Base):
    __tablename__ = "curriculum_key_activity"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    module_id: Mapped[str] = mapped_column(ForeignKey("curriculum_module.id"))
    title: Mapped[str] = mapped_column(String(512))
    knowledge: Mapped[list[str]] = mapped_column(JSON)
    position: Mapped[int]
    retired: Mapped[bool] = mapped_column(default=False)
    # Share of the module's exam (0-1) by the rule in curriculum/weights.py.
    weight: Mapped[float | None] = mapped_column(default=None)


class CurriculumItem(Base):
    """A bank item. Rows are never deleted: an item dropped from the data is retired, so
    responses that point at it keep their meaning; ``revision`` counts content changes."""

    __tablename__ = "curriculum_item"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    module_id: Mapped[str] = mapped_column(ForeignKey("curriculum_module.id"), index=True)
    key_activity_id: Mapped[str] = mapped_column(ForeignKey("curriculum_key_activity.id"),
                                                 index=True)
    topic: Mapped[str] = mapped_column(String(255))
    difficulty: Mapped[int]
    cognitive: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    industry40: Mapped[str | None] = mapped_column(String(40), nullable=True)
    stem: Mapped[str] = mapped_column(Text)
    figure: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reference: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(default=1)
    retired: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CurriculumLesson(Base):
    __tablename__ = "curriculum_lesson"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    module_id: Mapped[str] = mapped_column(ForeignKey("curriculum_module.id"), index=True)
    key_activity_id: Mapped[str] = mapped_column(ForeignKey("curriculum_key_activity.id"),
                                                 index=True)
    title: Mapped[str] = mapped_column(String(512))
    objectives: Mapped[list[str]] = mapped_column(JSON)
    body: Mapped[str] = mapped_column(Text)
    example: Mapped[str] = mapped_column(Text)
    key_terms: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    checks: Mapped[list[str]] = mapped_column(JSON)
    # Drawings that teach better than words (gauges, LOTO steps, control charts): each a
    # dict like an item's figure plus where it goes in the lesson.
    figures: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    digest: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(default=1)
    retired: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AttemptMode(enum.StrEnum):
    LESSON = "lesson"
    DRILL = "drill"
    PRACTICE = "practice"
    MOCK = "mock"


class AttemptStatus(enum.StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"


def _enum(kind: type[enum.Enum]) -> Enum:
    return Enum(kind, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class Attempt(Base):
    """One sitting of a lesson check, drill, practice test or mock exam.

    The id is a UUID because it is also the xAPI ``registration``. ``version`` is bumped by
    every write, so two tabs racing on one attempt cannot both win (optimistic locking).
    """

    __tablename__ = "attempt"
    __table_args__ = (UniqueConstraint("user_id", "open_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"),
                                         index=True)
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), nullable=True, index=True)
    resource_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("resource_link.id", ondelete="SET NULL"), nullable=True)
    mode: Mapped[AttemptMode] = mapped_column(_enum(AttemptMode))
    status: Mapped[AttemptStatus] = mapped_column(_enum(AttemptStatus), index=True)
    module_id: Mapped[str] = mapped_column(ForeignKey("curriculum_module.id"))
    key_activity_id: Mapped[str | None] = mapped_column(
        ForeignKey("curriculum_key_activity.id"), nullable=True)
    lesson_id: Mapped[str | None] = mapped_column(
        ForeignKey("curriculum_lesson.id"), nullable=True)
    # While open: "<mode>:<scope>:<course>", so one open attempt per activity and person
    # (a relaunch resumes it); cleared on submit.
    open_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    item_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    time_multiplier: Mapped[float] = mapped_column(default=1.0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    auto_submitted: Mapped[bool] = mapped_column(default=False)
    score_raw: Mapped[int | None] = mapped_column(nullable=True)
    score_max: Mapped[int | None] = mapped_column(nullable=True)
    # True only for an attempt of exactly the activity its link placed (mode, module, full
    # size): the only attempts a link's grade is made of (practice/placement.py).
    counts_for_grade: Mapped[bool] = mapped_column(default=False, server_default=false())
    # A drill's question on screen: the only item it takes an answer for, so a drill
    # cannot be asked for the key of any item the student names.
    served_item_id: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # Positions the student flagged for review in a test or exam (shown in the navigator
    # and on the page before submitting); no effect on scoring.
    flagged: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=0)

    __mapper_args__ = {"version_id_col": version}


class Response(Base):
    """One answer. ``idempotency_key`` makes a double-submitted answer land once."""

    __tablename__ = "response"
    __table_args__ = (UniqueConstraint("attempt_id", "position"),
                      UniqueConstraint("attempt_id", "idempotency_key"))

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[str] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"),
                                            index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("curriculum_item.id"), index=True)
    item_revision: Mapped[int]
    position: Mapped[int]
    choice: Mapped[int]
    correct: Mapped[bool]
    idempotency_key: Mapped[str] = mapped_column(String(64))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int | None] = mapped_column(nullable=True)


class Mastery(Base):
    """A person's Elo-style ability on one key activity (logit scale)."""

    __tablename__ = "mastery"
    __table_args__ = (UniqueConstraint("user_id", "key_activity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"),
                                         index=True)
    key_activity_id: Mapped[str] = mapped_column(ForeignKey("curriculum_key_activity.id"))
    theta: Mapped[float] = mapped_column(default=0.0)
    evidence: Mapped[int] = mapped_column(default=0)
    correct: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxKind(enum.StrEnum):
    XAPI = "xapi"
    AGS = "ags"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up: shown to operators, never deleted


class Outbox(Base):
    """Work to deliver outside: written in the same transaction as the event it reports."""

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("kind", "dedupe_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OutboxKind] = mapped_column(_enum(OutboxKind))
    dedupe_key: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # xAPI only. An event is queued with no destination; the worker fans it out, one row
    # per LRS ("default" or "lrs:<id>"), and freezes the statement JSON in ``body`` before
    # the first POST, so every retry resends the very same bytes with the same id.
    destination: Mapped[str | None] = mapped_column(String(64), nullable=True)
    body: Mapped[str | None] = mapped_column(Text, nullable=True)


Index("ix_outbox_delivery", Outbox.kind, Outbox.status, Outbox.destination, Outbox.id)


class StatementLedger(Base):
    """Which statement about whom went to which LRS, kept after the delivered outbox row
    is purged: an erasure (ops/privacy.py) voids each of them in each LRS that got it.
    Written where a statement is frozen for a destination (delivery/xapi.py fan_out)."""

    __tablename__ = "statement_ledger"
    __table_args__ = (UniqueConstraint("statement_id", "destination"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"),
                                         index=True)
    statement_id: Mapped[str] = mapped_column(String(36))
    destination: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Erasure(Base):
    """An erasure an officer can file and re-read after the LRSs caught up: when, which
    platform, a hash of the person's ``sub`` (enough to answer "was X erased?" from the
    sub, not enough to name X), what the tool removed, and the voiding rows per LRS."""

    __tablename__ = "erasure"

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed: Mapped[dict[str, Any]] = mapped_column(JSON)
    # {destination key: [outbox row ids of its voiding statements]}
    voids: Mapped[dict[str, Any]] = mapped_column(JSON)


class GradeRecord(Base):
    """Why one grade sent to the LMS is what it is (issue 20): the policy, the attempts
    that counted with their scores, when it was queued, and where its delivery stands.
    Kept as long as the person and the link are - not purged with the delivered outbox
    row it was queued as (``outbox_key`` names that row while it exists); erasure and a
    deleted link take it with them (delivery/provenance.py)."""

    __tablename__ = "grade_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_key: Mapped[str] = mapped_column(String(128), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    resource_link_id: Mapped[int] = mapped_column(
        ForeignKey("resource_link.id", ondelete="CASCADE"))
    policy: Mapped[str] = mapped_column(String(20))
    # [{"id": attempt id, "score": raw, "max": maximum, "submitted_at": iso}], oldest first
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    score_given: Mapped[float]
    score_maximum: Mapped[float]
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(20), default="queued")  # queued/sent/retrying/failed
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


Index("ix_grade_record_resource_link_id_user_id", GradeRecord.resource_link_id,
      GradeRecord.user_id)
Index("ix_grade_record_user_id", GradeRecord.user_id)


class GradeDeliveryTry(Base):
    """One try at sending a grade: when, what the LMS answered (HTTP status and the start
    of its body; none when it could not be reached) and what the tool made of it."""

    __tablename__ = "grade_delivery_try"

    id: Mapped[int] = mapped_column(primary_key=True)
    grade_record_id: Mapped[int] = mapped_column(
        ForeignKey("grade_record.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    http_status: Mapped[int | None] = mapped_column(nullable=True)
    body: Mapped[str | None] = mapped_column(String(500), nullable=True)
    outcome: Mapped[str] = mapped_column(String(20))  # sent / retrying / failed
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)


class ActorIdentity(enum.StrEnum):
    """How a learner is named in statements. ``account`` (the platform's issuer and the
    LTI ``sub``) lets no personal data leave the tool; the e-mail forms need the platform
    to send e-mail and a college that chose them."""

    ACCOUNT = "account"
    MBOX_SHA1SUM = "mbox_sha1sum"
    MBOX = "mbox"


class LrsEndpoint(Base):
    """A college's Learning Record Store. A platform may have several (each gets every
    statement, delivered independently); a platform with none uses the default LRS from
    the settings, if there is one."""

    __tablename__ = "lrs_endpoint"
    __table_args__ = (UniqueConstraint("platform_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"),
                                             index=True)
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(1024))
    username: Mapped[str] = mapped_column(String(255))
    # Fernet-sealed with the sealing key (delivery.sealed), separate from the cookie secret:
    # a copy of the database alone does not give away the college's LRS credentials.
    password_sealed: Mapped[str] = mapped_column(Text)
    actor_identity: Mapped[ActorIdentity] = mapped_column(_enum(ActorIdentity),
                                                          default=ActorIdentity.ACCOUNT)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccessToken(Base):
    """OAuth2 access tokens from a platform, shared by every process until they expire:
    LMSs throttle token requests, so one signature per token lifetime, not per score."""

    __tablename__ = "access_token"
    __table_args__ = (UniqueConstraint("platform_id", "scope_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    scope_key: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RosterMember(Base):
    """A course member as the LMS's roster (NRPS) lists them, launched or not."""

    __tablename__ = "roster_member"
    __table_args__ = (UniqueConstraint("course_id", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"),
                                           index=True)
    sub: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]))
    status: Mapped[str] = mapped_column(String(20), default="Active")
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AdminUser(Base):
    """A tool administrator (the college IT admin's door), separate from LTI users: made
    with `cpt-lti admin create`, signs in with a password at /admin/login."""

    __tablename__ = "admin_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AdminSession(Base):
    """A signed-in admin: the browser holds the random id in a strict, HttpOnly cookie."""

    __tablename__ = "admin_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("admin_user.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AdminLoginFailure(Base):
    """Failed admin sign-ins, kept in the DB so the rate limit holds across instances."""

    __tablename__ = "admin_login_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Counter(Base):
    """Cluster-wide event counters (launches by outcome): every app instance adds to the
    same row, so /metrics tells the same story whichever instance answers."""

    __tablename__ = "counter"
    __table_args__ = (UniqueConstraint("name", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(64))
    value: Mapped[int] = mapped_column(default=0)
