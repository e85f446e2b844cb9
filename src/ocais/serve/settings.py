"""Settings of the web service, read from ``OCAIS_SERVE_*`` environment variables.

Kept apart from :class:`ocais.config.Settings` (which owns data dir, store and knowledge) so the
service's knobs live with the service. Like every OCAIS setting, nothing is read at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ocais.errors import ConfigError


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

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard_with_credentials(cls, value: list[str]) -> list[str]:
        if "*" in value:
            raise ValueError("cors_origins must list origins; '*' is not allowed with cookies")
        return value


def load_serve_settings(**overrides: object) -> ServeSettings:
    """Build service settings from the environment and overrides; wrap validation errors."""
    try:
        return ServeSettings(**overrides)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigError(
            f"invalid service settings: {exc}", hint="check OCAIS_SERVE_* variables"
        ) from exc
