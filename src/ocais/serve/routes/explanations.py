"""``POST /api/v1/explanations``: the explanation of a differential, streamed as it is written."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ocais.serve.deps import Clinician, ServicesDep, audit
from ocais.serve.schemas.common import ERROR_RESPONSES
from ocais.serve.schemas.predict import PredictRequest

router = APIRouter(tags=["predict"], responses=ERROR_RESPONSES)


@router.post(
    "/explanations",
    name="explain",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/plain": {}}, "description": "The explanation, streamed"}},
)
async def explain(
    body: PredictRequest, request: Request, services: ServicesDep, principal: Clinician
) -> StreamingResponse:
    """Why the first candidates of the differential for this request (same body as
    ``/predict``) rank where they do, streamed as plain text while the site's LLM writes it (a
    template when there is none). ``X-OCAIS-Model`` names the model (``template`` otherwise).
    Nothing is stored; the request is audited without its text."""
    audit(request)
    model, pieces = await run_in_threadpool(services.predictions.explanation, body, actor=principal)

    def stream() -> Iterator[str]:
        yield from pieces

    return StreamingResponse(
        stream(),
        media_type="text/plain; charset=utf-8",
        headers={"X-OCAIS-Model": model or "template", "Cache-Control": "no-store"},
    )
