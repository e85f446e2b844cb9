"""Configuration and result types of de-identification.

A :class:`DeidResult` never carries an original identifier: spans hold offsets into the original
text, a kind and the replacement that was written, nothing else. The site secret is a
:class:`~pydantic.SecretStr`, so it never shows in a ``repr``, a log line or a dumped model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from typing import Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from ocais.errors import ConfigError

DEFAULT_SECRET_ENV = "OCAIS_DEID_SECRET"
MIN_SECRET_CHARS = 16


class PhiKind(StrEnum):
    """Kinds of protected health information that are replaced (HIPAA Safe Harbor based)."""

    NAME = "NAME"
    DATE = "DATE"
    AGE_OVER_89 = "AGE_OVER_89"
    ID = "ID"
    PHONE = "PHONE"
    FAX = "FAX"
    EMAIL = "EMAIL"
    URL = "URL"
    IP = "IP"
    ADDRESS = "ADDRESS"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A recognizer's proposal: replace ``[start, end)`` (None: the kind's placeholder)."""

    kind: PhiKind
    start: int
    end: int
    replacement: str | None = None
    # overlaps keep the longest proposal; among equal lengths, the highest priority
    priority: int = 0


class PhiSpan(BaseModel):
    """One replaced stretch: ``[start, end)`` into the ORIGINAL text, never its value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: PhiKind
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    replacement: str


class DeidResult(BaseModel):
    """Scrubbed text, what was replaced where, and the patient's date shift."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str = Field(description="The de-identified text: safe to store and index.")
    spans: list[PhiSpan] = Field(description="Replaced spans, sorted, offsets into the original.")
    counts: dict[PhiKind, int] = Field(description="Number of spans per kind (zeros omitted).")
    date_shift_days: int = Field(description="Days added to every date of this patient (never 0).")
    method: str = Field(description="Recognizers used, e.g. 'ocais-deid-1+first-names'.")


class DeidConfig(BaseModel):
    """Settings of a :class:`~ocais.ingest.deid.Deidentifier`.

    ``secret`` is the site secret keyed into the per-patient date shift. Read it from the
    environment (:meth:`from_env`), never from a file that is stored with the data.
    """

    # hide_input_in_errors: a validation error must never echo the secret
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    secret: SecretStr = Field(
        description=f"Site secret for the date shift (>= {MIN_SECRET_CHARS} characters)."
    )
    max_shift_days: int = Field(
        default=365, ge=1, le=3650, description="Largest date shift, in days, either way."
    )
    min_shift_days: int = Field(
        default=1, ge=1, description="Smallest date shift, in days, either way (never 0)."
    )
    shift_years_alone: bool = Field(
        default=False,
        description="Also shift a year standing alone ('in 2019'); default keeps it.",
    )
    day_first: bool = Field(
        default=False, description="Read 03/04/2021 as 3 April (True) or March 4 (False, US)."
    )
    max_chars: int = Field(
        default=200_000, gt=0, description="Longest text accepted (InputTooLargeError above)."
    )
    first_name_dictionary: bool = Field(
        default=True,
        description=(
            "Flag capitalized 'Firstname Lastname' pairs whose first token is a US Census 1990 "
            "first name (the list ships with OCAIS as package data)."
        ),
    )
    propagate_names: bool = Field(
        default=True,
        description="Once a name is found, replace its other capitalized occurrences in the text.",
    )
    use_presidio: bool = Field(
        default=False,
        description=(
            "Add presidio-analyzer's pattern recognizers (phone, e-mail, URL, IP, SSN, credit "
            "card, date) to the built-in ones; needs the 'deid-presidio' extra."
        ),
    )

    @field_validator("secret")
    @classmethod
    def _secret_strong_enough(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if len(raw) < MIN_SECRET_CHARS or len(set(raw)) < 4:
            # the message must not echo the secret
            raise ValueError(
                f"the de-identification secret must have at least {MIN_SECRET_CHARS} characters "
                "and not be a placeholder; generate one with: "
                'python -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
        return value

    @model_validator(mode="after")
    def _shift_range(self) -> Self:
        if self.min_shift_days > self.max_shift_days:
            raise ValueError("min_shift_days must not exceed max_shift_days")
        return self

    @classmethod
    def from_env(cls, env_var: str = DEFAULT_SECRET_ENV, **settings: object) -> DeidConfig:
        """Build a config whose secret is read from ``env_var`` (default OCAIS_DEID_SECRET)."""
        secret = os.environ.get(env_var, "")
        if not secret:
            raise ConfigError(
                f"the de-identification secret is not set: environment variable {env_var} is empty",
                hint=(
                    f"export {env_var}=$(python -c "
                    "'import secrets; print(secrets.token_urlsafe(32))')"
                ),
            )
        try:
            return cls.model_validate({"secret": secret, **settings})
        except ValidationError as error:
            raise ConfigError(
                f"invalid de-identification settings: {error}",
                hint=f"check {env_var} and the settings passed",
            ) from None
