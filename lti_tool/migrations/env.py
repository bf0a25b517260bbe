"""Alembic environment: our metadata, batch mode on SQLite, the URL from the Config.

Only ``lti_tool.ops.migrate`` builds the Config, so there is no alembic.ini and no logging setup
here; the tool's own logging configuration stays in charge.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import context
from sqlalchemy import Connection, create_engine, event, pool, text
from sqlalchemy.engine import make_url

import lti_tool.sandbox.models  # noqa: F401 - registers the sandbox tables on Base.metadata
from lti_tool.models import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata

# Any constant works: it only has to be the same in every process that runs migrations.
_PG_MIGRATION_LOCK = 0x43505431  # "CPT1"


def _render_item(kind: str, obj: object, _autogen_context: object) -> str | bool:
    """Write our UTC column type as what it is in the database, so a revision does not
    import model code that may change after the revision was written."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_item=_render_item,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=True,
        compare_type=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    """Emit SQL for a DBA to review instead of touching a database."""
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True,
               dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several containers may run `cpt-lti init` at once: one migrates, the others
            # wait, then find the schema at head and do nothing.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": _PG_MIGRATION_LOCK})
        context.run_migrations()


def run_migrations_online() -> None:
    url = make_url(config.get_main_option("sqlalchemy.url") or "")
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, poolclass=pool.NullPool)
    if url.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _no_fk_enforcement(dbapi_conn: Any, _record: Any) -> None:
            # Batch mode drops and recreates tables; with foreign keys enforced that DROP
            # would cascade-delete every child row. The app turns enforcement on; we must not.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=OFF")
            cur.close()

    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
