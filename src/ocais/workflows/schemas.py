"""Inputs and outputs of the case use cases, shared by the API (as bodies) and the CLI."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ocais.schemas import Case, Curie, HpoId, Sex
from ocais.store.results import CaseSummary


class StrictInput(BaseModel):
    """Inputs reject unknown keys (a typo is an error, not silently ignored)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ObservationInput(StrictInput):
    id: HpoId
    excluded: bool = False
    onset_age_years: float | None = Field(default=None, ge=0, le=150)


class DiagnosisInput(StrictInput):
    disease_id: Curie
    label: str | None = Field(default=None, max_length=300)
    status: Literal["confirmed", "provisional", "excluded"] = "confirmed"


class NoteInput(StrictInput):
    text: str = Field(min_length=1)
    kind: str = Field(default="note", max_length=40)


class CaseData(StrictInput):
    """A case as structured data. There is no field for names, record numbers or dates."""

    phenotypes: list[ObservationInput] = Field(default_factory=list, max_length=500)
    sex: Sex = Sex.UNKNOWN
    age_years: float | None = Field(default=None, ge=0, le=150)
    diagnoses: list[DiagnosisInput] = Field(default_factory=list, max_length=50)
    cohort: str | None = Field(default=None, max_length=100)
    notes: list[NoteInput] = Field(
        default_factory=list,
        max_length=20,
        description="Stored only de-identified, and only when de-identification is configured "
        "(OCAIS_DEID_SECRET); otherwise left out with a warning.",
    )


class CasePage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[CaseSummary]


class CreatedCase(BaseModel):
    case: Case
    warnings: list[str] = Field(default_factory=list)
