"""``/api/v1/knowledge``: HPO term autocomplete and details, diseases with their phenotypes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ocais.errors import UnknownDiseaseError, UnknownTermError
from ocais.knowledge import Term
from ocais.schemas import Disease
from ocais.serve.deps import CurrentUser, ServicesDep
from ocais.serve.errors import ApiError
from ocais.serve.schemas.common import ERROR_RESPONSES

router = APIRouter(prefix="/knowledge", tags=["knowledge"], responses=ERROR_RESPONSES)


@router.get("/terms", name="knowledge.terms", response_model=list[Term])
def search_terms(
    services: ServicesDep,
    principal: CurrentUser,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Words of a name")],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> list[Term]:
    """Terms whose name or synonym contains every word of ``q`` (exact matches first)."""
    return services.knowledge.search_terms(q, limit=limit)


@router.get("/terms/{term_id}", name="knowledge.term", response_model=Term)
def term(term_id: str, services: ServicesDep, principal: CurrentUser) -> Term:
    """One term by id (current, alternative or obsolete id), name or synonym."""
    try:
        return services.knowledge.term(term_id)
    except UnknownTermError as exc:
        raise ApiError(404, exc.code, exc.message, hint=exc.hint) from exc


@router.get("/diseases/{disease_id}", name="knowledge.disease", response_model=Disease)
def disease(disease_id: str, services: ServicesDep, principal: CurrentUser) -> Disease:
    """A disease (OMIM:..., ORPHA:...) with its annotated phenotypes and their frequencies."""
    try:
        return services.knowledge.disease(disease_id)
    except UnknownDiseaseError as exc:
        raise ApiError(404, exc.code, exc.message, hint=exc.hint) from exc
