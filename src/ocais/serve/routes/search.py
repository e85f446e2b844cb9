"""``POST /api/v1/search``: similar cases by phenotype, text or case, with structured filters."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ocais.serve.deps import Reader, ServicesDep, audit
from ocais.serve.schemas.common import ERROR_RESPONSES
from ocais.workflows.cases import search_cases
from ocais.workflows.types import SearchQuery, SearchResult

router = APIRouter(tags=["search"], responses=ERROR_RESPONSES)


@router.post("/search", name="search", response_model=SearchResult)
def search(
    body: SearchQuery, request: Request, services: ServicesDep, principal: Reader
) -> SearchResult:
    """One call: a query (text, HPO terms or a stored case) + filters + k. Each hit says why.
    Only cases the caller may see are searched (clinicians: the cases they created)."""
    if body.like_case:
        audit(request, case_id=body.like_case)
    return search_cases(services.core, principal, body)
