"""What a search asks and answers: the query, its structured filters, the caller's visibility and
the hits (the request and response bodies of ``POST /api/v1/search``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ocais.schemas import HpoId, Sex


@dataclass(frozen=True)
class Visibility:
    """The cases a caller may see: the ``owned`` ids, and every shared case if ``shared``."""

    owned: tuple[str, ...] = ()
    shared: bool = True


class SearchFilters(BaseModel):
    """Structured filters, all ANDed. Phenotype filters include descendants of the term."""

    model_config = ConfigDict(extra="forbid")

    sex: Sex | None = None
    age_min: float | None = Field(default=None, ge=0, le=150)
    age_max: float | None = Field(default=None, ge=0, le=150)
    diagnoses: list[str] = Field(default_factory=list, description="Any of these disease ids")
    phenotypes_present: list[HpoId] = Field(default_factory=list)
    phenotypes_absent: list[HpoId] = Field(
        default_factory=list, description="Explicitly excluded in the case"
    )
    source_format: str | None = None
    site: str | None = None
    cohort: str | None = None
    synthetic: bool | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None

    @model_validator(mode="after")
    def _ranges(self) -> SearchFilters:
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValueError("age_min is greater than age_max")
        return self

    def index_filters(self) -> dict[str, Any]:
        found = {
            "sex": self.sex.value if self.sex else None,
            "site": self.site,
            "source_format": self.source_format,
            "synthetic": self.synthetic,
        }
        return {k: v for k, v in found.items() if v is not None}

    def needs_store(self) -> bool:
        return any(
            (
                self.age_min is not None,
                self.age_max is not None,
                self.diagnoses,
                self.phenotypes_present,
                self.phenotypes_absent,
                self.cohort,
                self.created_from,
                self.created_to,
            )
        )


class SearchQuery(BaseModel):
    """What to look for: at most one of text, HPO terms or a stored case id; and filters."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, max_length=100_000)
    hpo: list[HpoId] = Field(default_factory=list, description="Observed terms of the query")
    like_case: str | None = Field(default=None, description="Find cases similar to this one")
    filters: SearchFilters = Field(default_factory=SearchFilters)
    k: int = Field(default=10, ge=1, le=1000)

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("text is empty")
        return value

    @model_validator(mode="after")
    def _one_query(self) -> SearchQuery:
        given = sum(bool(x) for x in (self.text, self.hpo, self.like_case))
        if given > 1:
            raise ValueError("give at most one of text, hpo and like_case")
        return self


class SearchHit(BaseModel):
    case_id: str
    external_id: str | None
    score: float | None
    sex: str
    age_years: float | None
    diagnoses: list[str]
    shared_phenotypes: list[dict[str, str]]
    reasons: list[str]


class SearchResult(BaseModel):
    hits: list[SearchHit]
    query_phenotypes: list[str] = Field(description="HPO terms the query was understood as")
    n_candidates: int | None = Field(
        description="Cases passing the store filters, or the cases the caller may see (none: "
        "an unfiltered search over every case)"
    )
    collection: str
    took_ms: float
