"""Alembic driven from code: ``cpt-lti init`` and the tests migrate without an alembic.ini.

Keeping the configuration in code means the migration scripts travel inside the installed
package and nobody has to run commands from a particular working directory.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import make_url

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic Config pointing at the package's migrations and at ``database_url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Config values go through ConfigParser interpolation: a '%' in a password must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_revision() -> str | None:
    """The newest revision shipped with this version of the tool."""
    return _scripts().get_current_head()


def is_known_revision(revision: str) -> bool:
    """False when the database was migrated by a newer version of the tool than this one."""
    return revision in {script.revision for script in _scripts().walk_revisions()}


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated.

    Asking must not create anything: a missing SQLite file is simply "not migrated".
    """
    url = make_url(database_url)
    if (url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
            and not Path(str(url.database)).exists()):
        return None
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def upgrade_to_head(database_url: str) -> None:
    """Bring the schema to the newest revision; a database already at head is left alone."""
    command.upgrade(alembic_config(database_url), "head")
