"""Bodies of ``/api/v1/cases``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from ocais.schemas import Case, Curie, HpoId, Sex
from ocais.serve.schemas.common import Strict
from ocais.store.results import CaseSummary


class ObservationInput(Strict):
    id: HpoId
    excluded: bool = False
    onset_age_years: float | None = Field(default=None, ge=0, le=150)


class DiagnosisInput(Strict):
    disease_id: Curie
    label: str | None = Field(default=None, max_length=300)
    status: Literal["confirmed", "provisional", "excluded"] = "confirmed"


class NoteInput(Strict):
    text: str = Field(min_length=1)
    kind: str = Field(default="note", max_length=40)


class CaseData(Strict):
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


class CaseCreate(Strict):
    """Exactly one of a structured case or a GA4GH Phenopacket v2 (JSON object)."""

    case: CaseData | None = None
    phenopacket: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> CaseCreate:
        if (self.case is None) == (self.phenopacket is None):
            raise ValueError("give exactly one of 'case' and 'phenopacket'")
        return self


class CaseCreated(BaseModel):
    id: str
    warnings: list[str] = Field(default_factory=list)
    case: Case


class CasePage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[CaseSummary]
