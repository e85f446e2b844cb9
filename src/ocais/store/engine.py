"""Engines for the store: URL parsing, SQLite pragmas and transaction control, connect check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from ocais.errors import StoreError

URL_HINT = "check OCAIS_STORE_URL (sqlite:///path/ocais.db or postgresql+psycopg://user@host/db)"

#: Execution option marking write transactions (``BEGIN IMMEDIATE`` on SQLite).
WRITE_OPTION = "ocais_write"


def normalise_url(url: str) -> URL:
    """Parse ``url``; plain ``postgresql://`` / ``postgres://`` use the psycopg 3 driver."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid store URL {url!r}: {exc}", hint=URL_HINT) from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL (``None`` for other backends and in-memory ones)."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:") or url.query.get("uri"):
        return None
    return Path(database)


def install_sqlite_pragmas(engine: Engine) -> None:
    """WAL, foreign keys, ``synchronous=NORMAL``; SQLAlchemy (not sqlite3) emits ``BEGIN``.

    The sqlite3 module's legacy transaction control is switched off so that reads and DDL are
    transactional too. Write transactions (execution option ``ocais_write``) use
    ``BEGIN IMMEDIATE`` so that concurrent writers wait for the lock (up to the 30 s busy
    timeout) instead of failing half-way; readers are never blocked (WAL).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def connect(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url`` whose database was reached once.

    Creates a SQLite file's parent directory. Raises :class:`StoreError` (with a hint) if the
    URL is invalid, its driver is missing or the database cannot be reached.
    """
    parsed = normalise_url(url)
    shown = parsed.render_as_string(hide_password=True)
    path = sqlite_file(parsed)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the store directory {path.parent}: {exc}",
                hint="choose a writable OCAIS_DATA_DIR or OCAIS_STORE_URL",
            ) from exc
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(parsed, echo=echo, connect_args={"timeout": 30})
            install_sqlite_pragmas(engine)
        else:
            engine = create_engine(parsed, echo=echo, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        hint = URL_HINT
        if parsed.get_backend_name() == "postgresql":
            hint = "install the PostgreSQL driver: pip install 'ocais[postgres]'"
        raise StoreError(f"cannot use store URL {shown}: {exc}", hint=hint) from exc
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(
            f"cannot connect to the store at {shown}: {exc.__class__.__name__}: {exc}",
            hint="check that the database exists, the server is running and the URL is right",
        ) from exc
    return engine
