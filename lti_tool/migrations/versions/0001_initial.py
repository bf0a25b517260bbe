"""Initial schema.

LTI: platforms and deployments, tool keys, users, courses, resource links, enrollments,
launch values (state, nonces, JWKS cache) and tool sessions. Curriculum: modules, key
activities, items, lessons and content releases (items and lessons are retired, never
deleted). Practice: attempts, responses (unique per attempt and position, and per attempt
and idempotency key), mastery, and the outbox of deliveries. Sandbox LMS: its keys,
tokens, gradebook and placed links.

Every constraint carries the name the models' naming convention gives it, so later
revisions (and batch mode on SQLite) can address constraints by name on every backend.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "content_release",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("blueprint_version", sa.Integer(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("lessons", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_release")),
        sa.UniqueConstraint("digest", name=op.f("uq_content_release_digest")),
    )
    op.create_table(
        "curriculum_module",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("exam_items", sa.Integer(), nullable=False),
        sa.Column("exam_minutes", sa.Integer(), nullable=False),
        sa.Column("exam_source", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_curriculum_module")),
    )
    op.create_table(
        "launch_value",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_launch_value")),
    )
    with op.batch_alter_table("launch_value", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_launch_value_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("xapi", "ags", name="outboxkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("dedupe_key", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "sent", "failed", name="outboxstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("kind", "dedupe_key", name=op.f("uq_outbox_kind_dedupe_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_status"), ["status"], unique=False)

    op.create_table(
        "platform",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("auth_login_url", sa.String(length=1024), nullable=False),
        sa.Column("auth_token_url", sa.String(length=1024), nullable=False),
        sa.Column("key_set_url", sa.String(length=1024), nullable=False),
        sa.Column("auth_audience", sa.String(length=1024), nullable=True),
        sa.Column(
            "deployment_policy",
            sa.Enum(
                "strict", "auto-register", name="deploymentpolicy", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_launch_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform")),
        sa.UniqueConstraint("issuer", "client_id", name=op.f("uq_platform_issuer_client_id")),
    )
    op.create_table(
        "sandbox_assertion",
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_sandbox_assertion")),
    )
    op.create_table(
        "sandbox_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_key", sa.String(length=20), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_key_pem", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_key")),
        sa.UniqueConstraint("platform_key", name=op.f("uq_sandbox_key_platform_key")),
    )
    op.create_table(
        "sandbox_line_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_key", sa.String(length=20), nullable=False),
        sa.Column("context_id", sa.String(length=255), nullable=False),
        sa.Column("resource_link_id", sa.String(length=255), nullable=True),
        sa.Column("resource_id", sa.String(length=255), nullable=True),
        sa.Column("tag", sa.String(length=255), nullable=True),
        sa.Column("label", sa.String(length=512), nullable=False),
        sa.Column("score_maximum", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_line_item")),
    )
    op.create_table(
        "sandbox_token",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("platform_key", sa.String(length=20), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_sandbox_token")),
    )
    op.create_table(
        "tool_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_key_pem", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tool_key")),
        sa.UniqueConstraint("kid", name=op.f("uq_tool_key_kid")),
    )
    op.create_table(
        "curriculum_key_activity",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("module_id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("knowledge", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["curriculum_module.id"],
            name=op.f("fk_curriculum_key_activity_module_id_curriculum_module"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_curriculum_key_activity")),
    )
    op.create_table(
        "deployment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("auto_registered", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["platform.id"],
            name=op.f("fk_deployment_platform_id_platform"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment")),
        sa.UniqueConstraint(
            "platform_id", "deployment_id", name=op.f("uq_deployment_platform_id_deployment_id")
        ),
    )
    op.create_table(
        "lti_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("sub", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("given_name", sa.String(length=255), nullable=True),
        sa.Column("family_name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["platform.id"],
            name=op.f("fk_lti_user_platform_id_platform"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_user")),
        sa.UniqueConstraint("platform_id", "sub", name=op.f("uq_lti_user_platform_id_sub")),
    )
    op.create_table(
        "sandbox_placed_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_key", sa.String(length=20), nullable=False),
        sa.Column("context_id", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=False),
        sa.Column("custom", sa.JSON(), nullable=False),
        sa.Column("line_item_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_item_id"],
            ["sandbox_line_item.id"],
            name=op.f("fk_sandbox_placed_link_line_item_id_sandbox_line_item"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_placed_link")),
    )
    op.create_table(
        "sandbox_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("score_given", sa.Float(), nullable=True),
        sa.Column("score_maximum", sa.Float(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_item_id"],
            ["sandbox_line_item.id"],
            name=op.f("fk_sandbox_result_line_item_id_sandbox_line_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_result")),
        sa.UniqueConstraint(
            "line_item_id", "user_id", name=op.f("uq_sandbox_result_line_item_id_user_id")
        ),
    )
    op.create_table(
        "sandbox_score",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("score_given", sa.Float(), nullable=True),
        sa.Column("score_maximum", sa.Float(), nullable=True),
        sa.Column("activity_progress", sa.String(length=40), nullable=False),
        sa.Column("grading_progress", sa.String(length=40), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_item_id"],
            ["sandbox_line_item.id"],
            name=op.f("fk_sandbox_score_line_item_id_sandbox_line_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_score")),
    )
    op.create_table(
        "course",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.String(length=255), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=True),
        sa.Column("title", sa.String(length=512), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployment.id"],
            name=op.f("fk_course_deployment_id_deployment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course")),
        sa.UniqueConstraint(
            "deployment_id", "context_id", name=op.f("uq_course_deployment_id_context_id")
        ),
    )
    op.create_table(
        "curriculum_item",
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("module_id", sa.String(length=40), nullable=False),
        sa.Column("key_activity_id", sa.String(length=80), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("difficulty", sa.Integer(), nullable=False),
        sa.Column("cognitive", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("industry40", sa.String(length=40), nullable=True),
        sa.Column("stem", sa.Text(), nullable=False),
        sa.Column("figure", sa.JSON(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_activity_id"],
            ["curriculum_key_activity.id"],
            name=op.f("fk_curriculum_item_key_activity_id_curriculum_key_activity"),
        ),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["curriculum_module.id"],
            name=op.f("fk_curriculum_item_module_id_curriculum_module"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_curriculum_item")),
    )
    with op.batch_alter_table("curriculum_item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_curriculum_item_key_activity_id"), ["key_activity_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_curriculum_item_module_id"), ["module_id"], unique=False
        )

    op.create_table(
        "curriculum_lesson",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("module_id", sa.String(length=40), nullable=False),
        sa.Column("key_activity_id", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("objectives", sa.JSON(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("example", sa.Text(), nullable=False),
        sa.Column("key_terms", sa.JSON(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_activity_id"],
            ["curriculum_key_activity.id"],
            name=op.f("fk_curriculum_lesson_key_activity_id_curriculum_key_activity"),
        ),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["curriculum_module.id"],
            name=op.f("fk_curriculum_lesson_module_id_curriculum_module"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_curriculum_lesson")),
    )
    with op.batch_alter_table("curriculum_lesson", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_curriculum_lesson_key_activity_id"), ["key_activity_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_curriculum_lesson_module_id"), ["module_id"], unique=False
        )

    op.create_table(
        "mastery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key_activity_id", sa.String(length=80), nullable=False),
        sa.Column("theta", sa.Double(), nullable=False),
        sa.Column("evidence", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_activity_id"],
            ["curriculum_key_activity.id"],
            name=op.f("fk_mastery_key_activity_id_curriculum_key_activity"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["lti_user.id"],
            name=op.f("fk_mastery_user_id_lti_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mastery")),
        sa.UniqueConstraint(
            "user_id", "key_activity_id", name=op.f("uq_mastery_user_id_key_activity_id")
        ),
    )
    with op.batch_alter_table("mastery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mastery_user_id"), ["user_id"], unique=False)

    op.create_table(
        "enrollment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum("learner", "instructor", "admin", name="role", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("lti_roles", sa.JSON(), nullable=False),
        sa.Column("nrps_url", sa.String(length=1024), nullable=True),
        sa.Column("last_launch_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["course.id"],
            name=op.f("fk_enrollment_course_id_course"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["lti_user.id"],
            name=op.f("fk_enrollment_user_id_lti_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment")),
        sa.UniqueConstraint("course_id", "user_id", name=op.f("uq_enrollment_course_id_user_id")),
    )
    op.create_table(
        "resource_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=True),
        sa.Column("custom", sa.JSON(), nullable=False),
        sa.Column("ags_lineitems_url", sa.String(length=1024), nullable=True),
        sa.Column("ags_lineitem_url", sa.String(length=1024), nullable=True),
        sa.Column("ags_scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["course.id"],
            name=op.f("fk_resource_link_course_id_course"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_link")),
        sa.UniqueConstraint(
            "course_id", "link_id", name=op.f("uq_resource_link_course_id_link_id")
        ),
    )
    op.create_table(
        "attempt",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("resource_link_id", sa.Integer(), nullable=True),
        sa.Column(
            "mode",
            sa.Enum(
                "lesson",
                "drill",
                "practice",
                "mock",
                name="attemptmode",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("open", "submitted", name="attemptstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("module_id", sa.String(length=40), nullable=False),
        sa.Column("key_activity_id", sa.String(length=80), nullable=True),
        sa.Column("lesson_id", sa.String(length=80), nullable=True),
        sa.Column("open_key", sa.String(length=255), nullable=True),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("time_multiplier", sa.Double(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("auto_submitted", sa.Boolean(), nullable=False),
        sa.Column("score_raw", sa.Integer(), nullable=True),
        sa.Column("score_max", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["course.id"],
            name=op.f("fk_attempt_course_id_course"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["key_activity_id"],
            ["curriculum_key_activity.id"],
            name=op.f("fk_attempt_key_activity_id_curriculum_key_activity"),
        ),
        sa.ForeignKeyConstraint(
            ["lesson_id"],
            ["curriculum_lesson.id"],
            name=op.f("fk_attempt_lesson_id_curriculum_lesson"),
        ),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["curriculum_module.id"],
            name=op.f("fk_attempt_module_id_curriculum_module"),
        ),
        sa.ForeignKeyConstraint(
            ["resource_link_id"],
            ["resource_link.id"],
            name=op.f("fk_attempt_resource_link_id_resource_link"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["lti_user.id"],
            name=op.f("fk_attempt_user_id_lti_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempt")),
        sa.UniqueConstraint("user_id", "open_key", name=op.f("uq_attempt_user_id_open_key")),
    )
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attempt_course_id"), ["course_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attempt_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_attempt_user_id"), ["user_id"], unique=False)

    op.create_table(
        "tool_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("resource_link_id", sa.Integer(), nullable=True),
        sa.Column(
            "role",
            sa.Enum("learner", "instructor", "admin", name="role", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("launch_id", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["course.id"],
            name=op.f("fk_tool_session_course_id_course"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resource_link_id"],
            ["resource_link.id"],
            name=op.f("fk_tool_session_resource_link_id_resource_link"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["lti_user.id"],
            name=op.f("fk_tool_session_user_id_lti_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tool_session")),
    )
    op.create_table(
        "response",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.String(length=20), nullable=False),
        sa.Column("item_revision", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("choice", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempt.id"],
            name=op.f("fk_response_attempt_id_attempt"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["curriculum_item.id"], name=op.f("fk_response_item_id_curriculum_item")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response")),
        sa.UniqueConstraint(
            "attempt_id", "idempotency_key", name=op.f("uq_response_attempt_id_idempotency_key")
        ),
        sa.UniqueConstraint("attempt_id", "position", name=op.f("uq_response_attempt_id_position")),
    )
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_response_attempt_id"), ["attempt_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_response_item_id"), ["item_id"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_response_item_id"))
        batch_op.drop_index(batch_op.f("ix_response_attempt_id"))

    op.drop_table("response")
    op.drop_table("tool_session")
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attempt_user_id"))
        batch_op.drop_index(batch_op.f("ix_attempt_status"))
        batch_op.drop_index(batch_op.f("ix_attempt_course_id"))

    op.drop_table("attempt")
    op.drop_table("resource_link")
    op.drop_table("enrollment")
    with op.batch_alter_table("mastery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mastery_user_id"))

    op.drop_table("mastery")
    with op.batch_alter_table("curriculum_lesson", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_curriculum_lesson_module_id"))
        batch_op.drop_index(batch_op.f("ix_curriculum_lesson_key_activity_id"))

    op.drop_table("curriculum_lesson")
    with op.batch_alter_table("curriculum_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_curriculum_item_module_id"))
        batch_op.drop_index(batch_op.f("ix_curriculum_item_key_activity_id"))

    op.drop_table("curriculum_item")
    op.drop_table("course")
    op.drop_table("sandbox_score")
    op.drop_table("sandbox_result")
    op.drop_table("sandbox_placed_link")
    op.drop_table("lti_user")
    op.drop_table("deployment")
    op.drop_table("curriculum_key_activity")
    op.drop_table("tool_key")
    op.drop_table("sandbox_token")
    op.drop_table("sandbox_line_item")
    op.drop_table("sandbox_key")
    op.drop_table("sandbox_assertion")
    op.drop_table("platform")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_status"))
        batch_op.drop_index(batch_op.f("ix_outbox_next_attempt_at"))

    op.drop_table("outbox")
    with op.batch_alter_table("launch_value", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_launch_value_expires_at"))

    op.drop_table("launch_value")
    op.drop_table("curriculum_module")
    op.drop_table("content_release")
