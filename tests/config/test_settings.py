"""Settings: environment, .env file shared with other OCAIS_* variables, validation errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocais.config import known_settings, load_settings, unknown_settings
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
    with pytest.raises(ConfigError, match="OCAIS_BATCH_SIZE: Input should be greater than 0"):
        load_settings()
    monkeypatch.delenv("OCAIS_BATCH_SIZE")
    with pytest.raises(ConfigError):
        load_settings(site="   ")


def test_one_settings_object_holds_the_service_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCAIS_SERVE_PORT", "8765")
    monkeypatch.setenv("OCAIS_SERVE_HOST", "0.0.0.0")
    settings = load_settings()
    assert (settings.serve.host, settings.serve.port) == ("0.0.0.0", 8765)
    monkeypatch.setenv("OCAIS_SERVE_PORT", "70000")
    with pytest.raises(ConfigError, match="OCAIS_SERVE_PORT: Input should be less than"):
        load_settings()


def test_unknown_settings_are_reported_with_the_closest_name(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("OCAIS_STOER_URL=sqlite://\nOTHER_TOOL=1\n")
    messages = unknown_settings(
        {"OCAIS_SERVE_PROT": "1", "OCAIS_SITE": "a", "HOME": "/root"}, env_file=env_file
    )
    assert messages == [
        "OCAIS_SERVE_PROT is not an OCAIS setting and is ignored; did you mean OCAIS_SERVE_PORT?",
        "OCAIS_STOER_URL is not an OCAIS setting and is ignored; did you mean OCAIS_STORE_URL?",
    ]
    assert unknown_settings({"OCAIS_SITE": "a"}, env_file=None) == []
    assert "OCAIS_SEARCH_EMBEDDER" in known_settings() and "OCAIS_DEID_SECRET" in known_settings()


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert [name for name in sorted(known_settings()) if f"`{name}`" not in readme] == []


def test_predictor_options_reach_every_predictor_built(
    monkeypatch: pytest.MonkeyPatch, tiny_release: Path, tmp_path: Path
) -> None:
    from ocais.errors import ConfigError
    from ocais.workflows.services import Services

    monkeypatch.setenv("OCAIS_HPO_DIR", str(tiny_release))
    monkeypatch.setenv("OCAIS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OCAIS_PREDICTOR_OPTIONS", '{"genomic": {"miss_lr": 0.01}}')
    services = Services(load_settings())
    genomic = services.predictor("genomic")
    assert genomic.genotype_options.miss_lr == 0.01  # type: ignore[attr-defined]
    assert services.predictor("genomic", miss_lr=0.1).genotype_options.miss_lr == 0.1  # type: ignore[attr-defined]
    monkeypatch.setenv("OCAIS_PREDICTOR_OPTIONS", '{"genomic": {"no_such_option": 1}}')
    with pytest.raises(ConfigError, match="genomic"):
        Services(load_settings()).predictor("genomic")
