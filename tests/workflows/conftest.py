"""Workflow fixtures: the use-case services on the tiny release in a fresh data directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ocais.config import Settings, load_settings
from ocais.workflows import Services, build_services


@pytest.fixture
def settings(tmp_path: Path, tiny_release: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        hpo_dir=tiny_release,
        cache_dir=tmp_path / "cache",
        workers=1,
        batch_size=2,
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    notices: list[str] = []
    built = build_services(settings, notify=notices.append)
    yield built
    built.close()
