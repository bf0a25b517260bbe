"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL.

``cpt-lti init`` runs on every deploy, so upgrading an up-to-date database must change
nothing, and a model change without a revision must fail here rather than in production.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

import lti_tool.sandbox.models  # noqa: F401 - the sandbox tables are part of the schema
from lti_tool.models import Base
from lti_tool.ops.migrate import alembic_config, current_revision, head_revision, upgrade_to_head

POSTGRES_URL = os.environ.get("CPT_LTI_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="set CPT_LTI_TEST_POSTGRES_URL to test on PostgreSQL")


def _schema(url: str) -> dict[str, object]:
    """Tables with their columns, indexes, unique and foreign keys: what a no-op must keep."""
    engine = create_engine(url)
    try:
        insp = inspect(engine)
        return {
            table: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)],
                sorted(i["name"] or "" for i in insp.get_indexes(table)),
                sorted(u["name"] or "" for u in insp.get_unique_constraints(table)),
                sorted(f["name"] or "" for f in insp.get_foreign_keys(table)),
            )
            for table in sorted(insp.get_table_names())
        }
    finally:
        engine.dispose()


def _check_fresh_upgrade(url: str) -> None:
    assert current_revision(url) is None

    upgrade_to_head(url)
    schema = _schema(url)
    assert set(schema) == set(Base.metadata.tables) | {"alembic_version"}
    assert current_revision(url) == head_revision()

    upgrade_to_head(url)
    assert _schema(url) == schema
    assert current_revision(url) == head_revision()

    # Autogenerate finds nothing to do: the revisions and the models describe the same schema.
    command.check(alembic_config(url))


def test_upgrade_on_a_fresh_sqlite_file_creates_every_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'fresh.db'}"
    _check_fresh_upgrade(url)


def test_constraints_carry_the_naming_convention_names(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'names.db'}"
    upgrade_to_head(url)
    schema = _schema(url)
    _cols, indexes, uniques, fks = schema["platform"]  # type: ignore[misc]
    assert uniques == ["uq_platform_issuer_client_id"]  # every column: no two constraints clash
    _cols, _idx, _uq, fks = schema["deployment"]  # type: ignore[misc]
    assert fks == ["fk_deployment_platform_id_platform"]
    _cols, indexes, _uq, _fk = schema["launch_value"]  # type: ignore[misc]
    assert indexes == ["ix_launch_value_expires_at", "ix_launch_value_owner_expires_at"]
    _cols, _idx, uniques, _fk = schema["platform_registration"]  # type: ignore[misc]
    assert uniques == ["uq_platform_registration_issuer_client_id"]


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    upgrade_to_head(url)
    command.downgrade(alembic_config(url), "base")
    assert set(_schema(url)) == {"alembic_version"}
    upgrade_to_head(url)
    assert set(_schema(url)) == set(Base.metadata.tables) | {"alembic_version"}


def test_a_percent_sign_in_the_url_survives_the_config() -> None:
    url = "postgresql+psycopg://cpt:p%25ss@db.example.edu/cpt"
    assert alembic_config(url).get_main_option("sqlalchemy.url") == url


@pytest.fixture
def fresh_postgres_database() -> Iterator[str]:
    """A brand-new database next to the CI one, so the shared test schema is left alone."""
    assert POSTGRES_URL
    name = f"cpt_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@needs_postgres
def test_upgrade_on_a_fresh_postgres_database_creates_every_table(
        fresh_postgres_database: str) -> None:
    _check_fresh_upgrade(fresh_postgres_database)
