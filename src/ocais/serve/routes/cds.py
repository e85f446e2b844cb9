"""CDS Hooks 2.0 (``/cds-services``): the differential in the EHR when a chart is opened.

``GET /cds-services`` (discovery), ``POST /cds-services/{id}`` (``patient-view``: prefetch, or
the FHIR server with the request's token; answered with cards), ``POST
/cds-services/{id}/feedback`` (accepted / overridden cards, kept as the prediction's
feedback). The chart is read and ranked through ``ocais.workflows.cds`` and the service's
prediction path; only the prediction is stored (HPO ids, sex, age, candidates), with the audit
entry. Nothing that identifies the patient is logged.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from ocais.errors import InvalidRecordError, NotFoundError
from ocais.serve.cds_auth import CdsAuthenticator
from ocais.serve.deps import audit
from ocais.serve.errors import ApiError
from ocais.serve.middleware import defer_rows
from ocais.serve.schemas.predict import CaseInput, PhenotypeInput, PredictRequest
from ocais.serve.services import Services
from ocais.workflows.cds import (
    SERVICE_ID,
    CardContext,
    CdsUnavailableError,
    FeedbackRequest,
    HookRequest,
    cards,
    chart,
    check_hook,
    check_service,
    discovery,
    feedback_comment,
    fetch_chart,
    no_findings_card,
    read_chart,
)

router = APIRouter(prefix="/cds-services", tags=["cds-hooks"])
TOP_K = 10


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _authenticator(request: Request) -> CdsAuthenticator:
    state = request.app.state
    found: CdsAuthenticator | None = getattr(state, "cds_auth", None)
    if found is None:
        serve = _services(request).serve
        found = state.cds_auth = CdsAuthenticator(serve.cds_issuers, host=serve.host)
    return found


def _base(request: Request) -> str:
    public = _services(request).serve.public_url
    return (public or str(request.base_url)).rstrip("/")


def _authenticate(request: Request, service_id: str, suffix: str = "") -> dict[str, Any] | None:
    audiences = [f"{_base(request)}/cds-services/{service_id}{suffix}"]
    own = str(request.url).split("?")[0]
    if own not in audiences:
        audiences.append(own)
    return _authenticator(request).check(request.headers.get("authorization"), audiences)


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise ApiError(400, "bad_request", "the body is not JSON", hint="send JSON") from exc


def _bad_request(exc: ValidationError | InvalidRecordError) -> ApiError:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = f"{where}: {first['msg']}"
    else:
        message = exc.message
    return ApiError(400, "bad_request", message, hint="see the CDS Hooks 2.0 request shape")


@router.get("", name="cds.discovery")
def discovery_route() -> dict[str, Any]:
    """The CDS services this site offers (CDS Hooks discovery)."""
    return discovery()


@router.post("/{service_id}", name="cds.call")
async def call(service_id: str, request: Request) -> JSONResponse:
    """A ``patient-view`` call: cards with the differential (200), no cards when nothing could
    be ranked, 412 when the chart could not be obtained, 400 for a malformed request."""
    try:
        check_service(service_id)
    except NotFoundError as exc:
        raise ApiError(404, "not_found", exc.message, hint=exc.hint) from exc
    _authenticate(request, service_id)
    raw = await _body(request)
    try:
        hook = HookRequest.model_validate(raw)
        check_hook(hook)
    except (ValidationError, InvalidRecordError) as exc:
        raise _bad_request(exc) from exc
    services = _services(request)
    audit(request, hook_instance=hook.hookInstance)
    try:
        bundle, origin = await run_in_threadpool(chart, hook, fetch_chart)
    except CdsUnavailableError as exc:
        refusal = {
            "cards": [],
            "error": {"code": exc.code, "message": exc.message, "hint": exc.hint},
        }
        return JSONResponse(refusal, status_code=412)
    found = await run_in_threadpool(read_chart, services.core, bundle)
    where = CardContext(
        source_label=f"OCAIS ({services.settings.site})",
        source_url=f"{_base(request)}/",
        link_url=None,
        patient_id=hook.context.patientId,
    )
    case = found.case
    if case is None or not any(not p.excluded for p in case.phenotypes):
        return JSONResponse({"cards": [no_findings_card(where, found)]})
    body = PredictRequest(
        case=CaseInput(
            phenotypes=[PhenotypeInput(id=p.id, excluded=p.excluded) for p in case.phenotypes],
            sex=case.subject.sex,
            age_years=case.subject.age_years,
        ),
        top_k=TOP_K,
    )
    try:
        served = await run_in_threadpool(services.predictions.predict, body, user_id=None)
    except InvalidRecordError:  # e.g. every term unknown to this release
        return JSONResponse({"cards": [no_findings_card(where, found)]})
    audit(request, prediction_id=served.prediction_id)
    if not defer_rows(request.scope.setdefault("state", {}), served.record):
        await services.writer.commit([served.record])
    where.link_url = f"{_base(request)}/#prediction={served.prediction_id}"
    prediction = json.loads(served.prediction_json)
    answer: dict[str, Any] = {"cards": cards(prediction, found, where, served.prediction_id)}
    answer["cards"] = answer["cards"] or [no_findings_card(where, found)]
    del origin  # where the chart came from is not needed in the answer
    return JSONResponse(answer)


@router.post("/{service_id}/feedback", name="cds.feedback")
async def feedback(service_id: str, request: Request) -> JSONResponse:
    """Outcomes of the cards (accepted / overridden), kept as feedback on their prediction; a
    card this service did not give is 404 (nothing is kept)."""
    try:
        check_service(service_id)
    except NotFoundError as exc:
        raise ApiError(404, "not_found", exc.message, hint=exc.hint) from exc
    _authenticate(request, service_id, "/feedback")
    raw = await _body(request)
    try:
        body = FeedbackRequest.model_validate(raw)
    except ValidationError as exc:
        raise _bad_request(exc) from exc
    services = _services(request)
    store = services.store
    kept = 0
    for item in body.feedback:
        prediction = await run_in_threadpool(store.get_prediction, item.card)
        if prediction is None or prediction.user_id is not None:
            raise ApiError(
                404,
                "not_found",
                "no card with this uuid was given by this service",
                hint="send the uuid of a card from this service's answer",
            )
        await run_in_threadpool(
            store.add_feedback,
            {
                "prediction_id": prediction.id,
                "user_id": None,
                "created_at": datetime.now(UTC),
                "disease_id": None,
                "disease_label": None,
                "rating": None,
                "comment": feedback_comment(item),
            },
        )
        kept += 1
    audit(request, cards=str(kept))
    return JSONResponse({"received": kept}, status_code=200)


__all__ = ["SERVICE_ID", "router"]
