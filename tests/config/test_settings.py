"""Settings: environment, .env file shared with other OCAIS_* variables, validation errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocais.config import load_settings
from ocais.errors import ConfigError


def test_env_file_may_hold_other_ocais_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "OCAIS_SITE=clinic-a\nOCAIS_DEID_SECRET=some-long-secret-value\n"
        "OCAIS_SERVE_RATE_LIMIT_PER_MINUTE=100\n"
    )
    settings = load_settings(data_dir=tmp_path)
    assert settings.site == "clinic-a"
    assert settings.resolved_store_url == f"sqlite:///{tmp_path / 'ocais.db'}"


def test_invalid_settings_are_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCAIS_BATCH_SIZE", "0")
    with pytest.raises(ConfigError, match="batch_size"):
        load_settings()
    monkeypatch.delenv("OCAIS_BATCH_SIZE")
    with pytest.raises(ConfigError):
        load_settings(site="   ")
