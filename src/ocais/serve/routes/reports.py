"""``GET /api/v1/reports/service``: accuracy of served predictions on confirmed diagnoses."""

from __future__ import annotations

from fastapi import APIRouter

from ocais.serve.deps import Researcher, ServicesDep
from ocais.serve.report import ServiceReport, build_report
from ocais.serve.schemas.common import ERROR_RESPONSES

router = APIRouter(prefix="/reports", tags=["reports"], responses=ERROR_RESPONSES)


@router.get("/service", name="reports.service", response_model=ServiceReport)
def service_report(services: ServicesDep, principal: Researcher) -> ServiceReport:
    """Top-k accuracy overall, by disease catalogue, sex, age group and number of phenotypes.

    The same figures as HTML with plots: ``ocais report service --out DIR``.
    """
    return build_report(services.store, services.knowledge)
