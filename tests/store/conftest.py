"""Store fixtures: a ``repo`` on every backend (SQLite file; PostgreSQL via pgserver).

The PostgreSQL server is started once per test session (pgserver, in a temporary directory);
every test gets a fresh database on it. Run only SQLite with ``-m "not postgres"``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from ocais.store import Repository


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A PostgreSQL 16 server from pgserver, started once; skipped if pgserver is missing."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        pgserver = pytest.importorskip(
            "pgserver", reason="pgserver is not installed (pip install -e '.[dev]')"
        )
    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed")
    del psycopg
    pgdata = tempfile.mkdtemp(prefix="ocais-pg-")
    started = time.perf_counter()
    try:
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
    except Exception as exc:  # pragma: no cover - depends on the machine
        shutil.rmtree(pgdata, ignore_errors=True)
        if os.environ.get("CI"):
            raise  # CI must test PostgreSQL for real, never skip it silently
        pytest.skip(f"pgserver could not start PostgreSQL: {exc}")
    server.ocais_startup_seconds = time.perf_counter() - started
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: Any) -> Iterator[str]:
    """URL of a new, empty database on the session's server, dropped after the test."""
    import psycopg

    name = f"ocais_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_server.get_uri(name)
    finally:
        with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A store URL on each backend; the SQLite file's directory does not exist yet."""
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'store' / 'ocais.db').as_posix()}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def repo(store_url: str) -> Iterator[Repository]:
    """An opened (migrated) repository on each backend."""
    with Repository.open(store_url) as repository:
        yield repository
