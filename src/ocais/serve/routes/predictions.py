"""``GET /api/v1/predictions/{id}/fhir``: a stored prediction as a FHIR R4 ``RiskAssessment``."""

from __future__ import annotations

import json
from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from ocais.serve.deps import Clinician, ServicesDep, audit
from ocais.serve.schemas.common import ERROR_RESPONSES
from ocais.workflows.fhir_export import stored_prediction, stored_risk_assessment

FHIR_JSON = "application/fhir+json"

router = APIRouter(prefix="/predictions", tags=["predict"], responses=ERROR_RESPONSES)


class TermOut(BaseModel):
    id: str
    label: str | None


class StoredPrediction(BaseModel):
    prediction_id: str
    created_at: datetime
    origin: str = Field(description="api (asked by a user) or cds-hooks (asked by the EHR)")
    observed: list[TermOut]
    excluded: list[TermOut]
    sex: str
    age_years: float | None
    predictor: str
    knowledge_version: str


@router.get("/{prediction_id}", name="predictions.show", response_model=StoredPrediction)
def show_prediction(
    prediction_id: str, request: Request, services: ServicesDep, principal: Clinician
) -> StoredPrediction:
    """What a stored prediction was asked about (HPO terms, sex, age): the chat page opens a
    CDS Hooks card's differential from it. Readable by whoever asked for it, an admin, and —
    for a prediction the EHR asked for — any clinician; 404 otherwise."""
    audit(request, prediction_id=prediction_id)
    record = stored_prediction(services.store, principal, prediction_id)
    kb = services.knowledge

    def terms(ids: list[str]) -> list[TermOut]:
        return [TermOut(id=t, label=kb.name(t) if kb.resolve_id(t) == t else None) for t in ids]

    return StoredPrediction(
        prediction_id=record.id,
        created_at=record.created_at,
        origin="cds-hooks" if record.user_id is None else "api",
        observed=terms(record.observed),
        excluded=terms(record.excluded),
        sex=record.sex,
        age_years=record.age_years,
        predictor=record.predictor,
        knowledge_version=record.knowledge_version,
    )


@router.get(
    "/{prediction_id}/fhir",
    name="predictions.fhir",
    response_class=Response,
    responses={
        200: {
            "content": {FHIR_JSON: {}},
            "description": "A FHIR R4 RiskAssessment, one prediction per candidate disease",
        },
        404: ERROR_RESPONSES[403] | {"description": "No such prediction that you asked for"},
    },
)
def prediction_fhir(
    prediction_id: str, request: Request, services: ServicesDep, principal: Clinician
) -> Response:
    """Your stored prediction as a FHIR R4 ``RiskAssessment`` (``application/fhir+json``),
    validated with ``fhir.resources``: status ``final``, a display-only subject (OCAIS keeps no
    patient identifiers), the HPO terms it was made from as contained Observations in ``basis``,
    and one ``prediction`` per candidate (OMIM, Orphanet and MONDO codings, the posterior as
    ``probabilityDecimal``, rank and score in ``rationale``). Readable by whoever asked for the
    prediction, an admin, and — for a prediction the EHR asked for (CDS Hooks) — any
    clinician; for anybody else it does not exist (404)."""
    audit(request, prediction_id=prediction_id)
    resource = stored_risk_assessment(services.store, services.knowledge, principal, prediction_id)
    return Response(content=json.dumps(resource), media_type=FHIR_JSON)
