"""``/api/v1/feedback``: the confirmed diagnosis, a rating and a comment on a prediction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from ocais.serve.deps import Clinician, Researcher, ServicesDep, audit
from ocais.serve.schemas.common import ERROR_RESPONSES
from ocais.serve.schemas.feedback import FeedbackCreate, FeedbackOut, FeedbackPage

router = APIRouter(prefix="/feedback", tags=["feedback"], responses=ERROR_RESPONSES)


@router.post("", name="feedback.create", response_model=FeedbackOut, status_code=201)
def create_feedback(
    body: FeedbackCreate, request: Request, services: ServicesDep, principal: Clinician
) -> FeedbackOut:
    """Feedback on your own prediction. ``confirmed_diagnosis.disease_id`` must be a known
    disease (else 422); a free-text ``label`` alone is accepted. The comment is never logged."""
    audit(request, prediction_id=body.prediction_id)
    created = services.feedback.add(principal, body)
    audit(request, feedback_id=str(created.id))
    return created


@router.get("", name="feedback.list", response_model=FeedbackPage)
def list_feedback(
    services: ServicesDep,
    principal: Researcher,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    prediction_id: str | None = None,
) -> FeedbackPage:
    """Feedback, oldest first, with the rank of each confirmed disease (comments: admins only)."""
    items = services.feedback.list_feedback(
        principal, limit=limit, offset=offset, prediction_id=prediction_id
    )
    return FeedbackPage(limit=limit, offset=offset, items=items)
