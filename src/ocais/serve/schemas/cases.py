"""Bodies of ``/api/v1/cases``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

from ocais.schemas import Case
from ocais.serve.schemas.common import Strict
from ocais.workflows.schemas import (
    CaseData,
    CasePage,
    DiagnosisInput,
    NoteInput,
    ObservationInput,
)

__all__ = [
    "CaseCreate",
    "CaseCreated",
    "CaseData",
    "CasePage",
    "CaseShared",
    "DiagnosisInput",
    "NoteInput",
    "ObservationInput",
]


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


class CaseShared(Strict):
    """Whether a case is a shared reference case every clinician may read."""

    shared: bool
