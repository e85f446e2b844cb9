"""Store fixtures: a ``repo`` on every backend (SQLite file; PostgreSQL via pgserver).

The PostgreSQL server is started once per test session (pgserver, in a temporary directory);
every test gets a fresh database on it. Run only SQLite with ``-m "not postgres"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ocais.store import Repository


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
