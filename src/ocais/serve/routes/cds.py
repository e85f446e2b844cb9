"""CDS Hooks 2.0 (``/cds-services``): the differential in the EHR when a chart is opened.

``GET /cds-services`` (discovery), ``POST /cds-services/{id}`` (``patient-view``: prefetch, or
the FHIR server with the request's token; answered with cards), ``POST
/cds-services/{id}/feedback`` (accepted / overridden cards, kept as the prediction's
feedback). The chart is read and ranked through ``ocais.workflows.cds`` and the service's
prediction path; only the prediction is stored (HPO ids, sex, age, candidates), with the audit
entry. Nothing that identifies the patient is logged.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from markdown_it import MarkdownIt
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
    example_request,
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
    audit(request, hook_instance=hook.hookInstance)
    status, answer = await _answer(request, hook, store=True)
    return JSONResponse(answer, status_code=status)


async def _answer(
    request: Request, hook: HookRequest, *, store: bool
) -> tuple[int, dict[str, Any]]:
    """(status, CDS response) for a checked ``patient-view`` request; the prediction is stored
    (with the audit entry) when ``store``."""
    services = _services(request)
    try:
        bundle = await run_in_threadpool(chart, hook, fetch_chart)
    except CdsUnavailableError as exc:
        return 412, {
            "cards": [],
            "error": {"code": exc.code, "message": exc.message, "hint": exc.hint},
        }
    found = await run_in_threadpool(read_chart, services.core, bundle)
    where = CardContext(
        source_label=f"OCAIS ({services.settings.site})",
        source_url=f"{_base(request)}/",
        link_url=None,
        patient_id=hook.context.patientId,
    )
    case = found.case
    if case is None or not any(not p.excluded for p in case.phenotypes):
        return 200, {"cards": [no_findings_card(where, found)]}
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
        return 200, {"cards": [no_findings_card(where, found)]}
    if store:
        audit(request, prediction_id=served.prediction_id)
        if not defer_rows(request.scope.setdefault("state", {}), served.record):
            await services.writer.commit([served.record])
        where.link_url = f"{_base(request)}/#prediction={served.prediction_id}"
    prediction = json.loads(served.prediction_json)
    given = cards(prediction, found, where, served.prediction_id)
    return 200, {"cards": given or [no_findings_card(where, found)]}


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


# --- the card viewer ----------------------------------------------------------------------------
viewer_router = APIRouter(include_in_schema=False)


@viewer_router.get("/cds-viewer", name="cds.viewer")
async def viewer(request: Request) -> HTMLResponse:
    """The card of a made-up chart, rendered as an EHR renders CDS cards (nothing is stored):
    for site IT checking what clinicians will see."""
    hook = HookRequest.model_validate(example_request())
    _, answer = await _answer(request, hook, store=False)
    return HTMLResponse(render_cards(answer["cards"], example_request()))


def render_cards(given: list[dict[str, Any]], example: dict[str, Any]) -> str:
    """Cards as HTML: indicator, summary, source, the Markdown detail (raw HTML disabled),
    suggestions as buttons, links."""
    markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
    findings = [
        e["resource"]["code"]["coding"][0]
        for key in ("conditions", "observations")
        for e in example["prefetch"][key]["entry"]
    ]
    chart_items = "".join(
        f"<li>{html.escape(c['display'])} <small>{html.escape(c['system'].split('/')[-1])} "
        f"{html.escape(c['code'])}</small></li>"
        for c in findings
    )
    parts = []
    for card in given:
        indicator = html.escape(card.get("indicator", "info"))
        suggestions = "".join(
            f"<button type='button'>{html.escape(s['label'])}</button>"
            for s in card.get("suggestions", [])
        )
        links = "".join(
            f"<a href='{html.escape(link['url'])}'>{html.escape(link['label'])}</a>"
            for link in card.get("links", [])
        )
        parts.append(
            f"<article class='card {indicator}'><header><span class='indicator'>{indicator}"
            f"</span> <strong>{html.escape(card['summary'])}</strong></header>"
            f"<div class='detail'>{markdown.render(card.get('detail', ''))}</div>"
            + (f"<div class='suggestions'>{suggestions}</div>" if suggestions else "")
            + (f"<div class='links'>{links}</div>" if links else "")
            + f"<footer>Source: {html.escape(card['source']['label'])}</footer></article>"
        )
    return _VIEWER.format(chart=chart_items, cards="".join(parts) or "<p>No card.</p>")


_VIEWER = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>OCAIS CDS card viewer</title><style>
body{{font:14px/1.45 system-ui,sans-serif;margin:0;display:flex;min-height:100vh;color:#1b1b1b}}
.chart{{flex:1;padding:1.5rem 2rem;background:#f4f6f8}}.chart h1{{font-size:1.2rem}}
.chart li small{{color:#667}}
aside{{width:34rem;padding:1rem;border-left:1px solid #ccd;background:#fff}}
aside h2{{font-size:1rem;margin:.2rem 0 .8rem;color:#445}}
.card{{border:1px solid #c9d3dd;border-left:6px solid #2b6cb0;border-radius:4px;padding:.6rem .9rem;
margin-bottom:1rem}}.card.warning{{border-left-color:#c77d00}}.card.critical{{border-left-color:#c0392b}}
.indicator{{text-transform:uppercase;font-size:.7rem;background:#e6eef7;padding:.1rem .35rem;
border-radius:3px}}.detail table{{border-collapse:collapse;width:100%;font-size:.85rem}}
.detail th,.detail td{{border-bottom:1px solid #e3e7eb;padding:.2rem .3rem;text-align:left;
vertical-align:top}}.suggestions button{{margin:.2rem .3rem .2rem 0;padding:.3rem .6rem;
border:1px solid #2b6cb0;background:#fff;color:#2b6cb0;border-radius:3px}}
.links a{{display:inline-block;margin-top:.4rem}}
footer{{color:#667;font-size:.8rem;margin-top:.5rem}}
</style></head><body>
<section class="chart"><h1>Example chart (made up; nothing is stored)</h1>
<p>14-year-old boy. Problem list and findings, as the EHR holds them:</p><ul>{chart}</ul>
<p>When the chart is opened, the EHR calls
<code>POST /cds-services/ocais-rare-disease-differential</code> (CDS Hooks
<code>patient-view</code>) and shows the answer beside it:</p></section>
<aside><h2>Decision support</h2>{cards}</aside></body></html>
"""
