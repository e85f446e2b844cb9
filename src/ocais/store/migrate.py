"""Run the packaged Alembic migrations programmatically (no ``alembic.ini`` needed)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from ocais.store.engine import WRITE_OPTION

MIGRATIONS_PACKAGE = "ocais.store.migrations"


def script_location() -> Path:
    """Directory of the packaged migration environment (``env.py``, ``versions/``)."""
    return Path(str(files(MIGRATIONS_PACKAGE)))


def alembic_config(engine: Engine, connection: Connection | None = None) -> Config:
    """An Alembic config for ``engine``'s database, usable with :mod:`alembic.command`.

    If ``connection`` is given, ``env.py`` runs the migrations on it (inside its transaction).
    """
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    # configparser interpolates '%': escape it (URL-encoded passwords contain it).
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", url)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest revision shipped with this version of OCAIS."""
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (``None`` if it was never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` in one transaction.

    On PostgreSQL an advisory lock serialises concurrent upgrades; on SQLite the write
    transaction (``BEGIN IMMEDIATE``) does.
    """
    with engine.execution_options(**{WRITE_OPTION: True}).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(4240016)")
        command.upgrade(alembic_config(engine, connection), revision)
