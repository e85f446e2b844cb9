"""``/api/v1/cases``: create (structured or Phenopacket v2), list, show, share and delete cases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from ocais.schemas import Case
from ocais.serve.deps import Admin, Clinician, Reader, ServicesDep, audit
from ocais.serve.schemas.cases import CaseCreate, CaseCreated, CasePage, CaseShared
from ocais.serve.schemas.common import ERROR_RESPONSES
from ocais.workflows import cases as workflows
from ocais.workflows.types import CaseFilter

router = APIRouter(prefix="/cases", tags=["cases"], responses=ERROR_RESPONSES)


@router.post("", name="cases.create", response_model=CaseCreated, status_code=201)
def create_case(
    body: CaseCreate, request: Request, services: ServicesDep, principal: Clinician
) -> CaseCreated:
    """Store a case. It gets a new id and keeps no external identifiers or dates; notes are
    kept only de-identified (see ``warnings``)."""
    created = workflows.create_case(
        services.core,
        principal,
        data=body.case,
        packet=body.phenopacket,
        scrubber=services.scrubber,
    )
    audit(request, case_id=created.case.id)
    return CaseCreated(id=created.case.id, warnings=created.warnings, case=created.case)


@router.get("", name="cases.list", response_model=CasePage)
def list_cases(
    services: ServicesDep,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    source_format: str | None = None,
    site: str | None = None,
    cohort: str | None = None,
    synthetic: bool | None = None,
    disease_id: str | None = None,
    hpo_id: str | None = None,
) -> CasePage:
    """A page of case summaries, oldest first (clinicians: the cases they created)."""
    where = CaseFilter(
        source_format=source_format,
        site=site,
        cohort=cohort,
        synthetic=synthetic,
        disease_id=disease_id,
        hpo_id=hpo_id,
    )
    return workflows.list_cases(services.core, principal, where, limit=limit, offset=offset)


@router.get("/{case_id}", name="cases.show", response_model=Case)
def show_case(case_id: str, request: Request, services: ServicesDep, principal: Reader) -> Case:
    """One case, as stored."""
    audit(request, case_id=case_id)
    return workflows.show_case(services.core, principal, case_id)


@router.delete("/{case_id}", name="cases.delete", status_code=204)
def delete_case(
    case_id: str, request: Request, services: ServicesDep, principal: Clinician
) -> Response:
    """Delete a case and everything derived from it (admins, or the clinician who made it)."""
    audit(request, case_id=case_id)
    workflows.delete_case(services.core, principal, case_id)
    return Response(status_code=204)


@router.put("/{case_id}/shared", name="cases.share", response_model=CaseShared)
def share_case(
    case_id: str, body: CaseShared, request: Request, services: ServicesDep, principal: Admin
) -> CaseShared:
    """Make a case a shared reference case that every clinician may read (``shared: true``),
    or private again (admins; the same as ``ocais cases share [--unshare]``)."""
    audit(request, case_id=case_id)
    workflows.share_cases(services.core, principal, [case_id], body.shared)
    return body
