"""``GET /api/v1/audit`` (admins): who did what and when — ids and statuses, never content."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ocais.serve.deps import Admin, ServicesDep
from ocais.serve.schemas.common import ERROR_RESPONSES
from ocais.store.service_models import AuditRecord

router = APIRouter(prefix="/audit", tags=["users"], responses=ERROR_RESPONSES)


@router.get("", name="audit.list", response_model=list[AuditRecord])
def list_audit(
    services: ServicesDep,
    principal: Admin,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[AuditRecord]:
    """Audit entries, newest first: time, user id, route name, object ids, status, request id."""
    return services.store.list_audit(limit=limit, offset=offset)
