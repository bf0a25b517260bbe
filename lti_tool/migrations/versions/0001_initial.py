"""Initial schema: platforms and deployments, tool keys, users, courses, resource links,
enrollments, launch values, tool sessions, and the sandbox LMS tables.

Every constraint carries the name the models' naming convention gives it, so later
revisions (and batch mode on SQLite) can address constraints by name on every backend.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 04:21:14.757899
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
        "launch_value",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_launch_value")),
    )
    op.create_index(op.f("ix_launch_value_expires_at"), "launch_value", ["expires_at"])
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
        sa.UniqueConstraint("issuer", "client_id", name=op.f("uq_platform_issuer")),
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
        sa.UniqueConstraint("platform_id", "deployment_id", name=op.f("uq_deployment_platform_id")),
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
        sa.UniqueConstraint("platform_id", "sub", name=op.f("uq_lti_user_platform_id")),
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
        sa.UniqueConstraint("line_item_id", "user_id", name=op.f("uq_sandbox_result_line_item_id")),
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
        sa.UniqueConstraint("deployment_id", "context_id", name=op.f("uq_course_deployment_id")),
    )
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
        sa.UniqueConstraint("course_id", "user_id", name=op.f("uq_enrollment_course_id")),
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
        sa.UniqueConstraint("course_id", "link_id", name=op.f("uq_resource_link_course_id")),
    )
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


def downgrade() -> None:
    op.drop_table("tool_session")
    op.drop_table("resource_link")
    op.drop_table("enrollment")
    op.drop_table("course")
    op.drop_table("sandbox_score")
    op.drop_table("sandbox_result")
    op.drop_table("lti_user")
    op.drop_table("deployment")
    op.drop_table("tool_key")
    op.drop_table("sandbox_token")
    op.drop_table("sandbox_line_item")
    op.drop_table("sandbox_key")
    op.drop_table("sandbox_assertion")
    op.drop_table("platform")
    op.drop_index(op.f("ix_launch_value_expires_at"), table_name="launch_value")
    op.drop_table("launch_value")
