"""What the repository returns: counts, case summaries, statistics and ingest-run records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UpsertCounts(_Result):
    """Outcome of :meth:`Repository.upsert_cases`, per input case."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(
            inserted=self.inserted + other.inserted,
            updated=self.updated + other.updated,
            unchanged=self.unchanged + other.unchanged,
        )


class CaseSummary(_Result):
    """One line of a case listing (no payload)."""

    id: str
    external_id: str | None
    source_format: str
    site: str
    sex: str
    age_years: float | None
    n_observed: int = Field(description="HPO terms observed")
    n_excluded: int = Field(description="HPO terms explicitly excluded")
    diagnoses: list[str] = Field(description="Disease ids, except diagnoses with status excluded")
    synthetic: bool


class StoreStats(_Result):
    """Counts over the whole store."""

    url: str = Field(description="Store URL, password masked")
    cases: int
    cases_by_source_format: dict[str, int]
    cases_by_site: dict[str, int]
    synthetic_cases: int
    observations_observed: int
    observations_excluded: int
    distinct_observed_hpo_ids: int
    diagnoses: int = Field(description="Diagnosis rows of any status")
    distinct_disease_ids: int
    findings_by_category: dict[str, int]
    documents: int
    ingest_runs: int


class IngestRunInfo(_Result):
    """One import run, as recorded by :meth:`Repository.start_run` / :meth:`finish_run`."""

    id: str
    source: str
    source_format: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    n_read: int
    n_inserted: int
    n_updated: int
    n_unchanged: int
    n_rejected: int
    rejects: list[dict[str, Any]]
    settings: dict[str, Any]
