"""``POST /api/v1/predict``: a ranked differential with evidence and what to check next."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from ocais.serve.deps import Clinician, audit
from ocais.serve.middleware import defer_rows
from ocais.serve.schemas.common import ERROR_RESPONSES
from ocais.serve.schemas.predict import PredictRequest, PredictResponse
from ocais.serve.services import Services

router = APIRouter(tags=["predict"])


@router.post(
    "/predict",
    name="predict",
    response_model=PredictResponse,
    responses={**ERROR_RESPONSES, 413: ERROR_RESPONSES[422] | {"description": "Text too long"}},
)
async def predict(body: PredictRequest, request: Request, principal: Clinician) -> Response:
    """Rank diseases for free text (phenotypes are recognised in it) and/or structured terms.

    Unknown HPO ids among known ones are ignored with a warning; if no observed term is known
    the answer is 422 ``unknown_term``. The prediction is stored (terms, sex, age, candidates —
    never the text) under ``prediction_id`` for feedback.
    """
    # the busiest route: one dependency (the caller) is resolved per request, not two
    services: Services = request.app.state.services
    predictions = services.predictions
    if body.text is None and body.predictor is None and not body.explain:
        # a few milliseconds of CPU (the predictor holds the GIL: a thread would not run
        # anything else meanwhile), so on the event loop, without a thread hand-off
        served = predictions.predict(body, user_id=principal.user_id)
    else:  # concept recognition in free text, or an LLM, may take longer
        served = await run_in_threadpool(
            predictions.predict, body, user_id=principal.user_id, actor=principal
        )
    audit(request, prediction_id=served.prediction_id)
    # stored with the request's audit entry, in one transaction, before the answer is sent
    if not defer_rows(request.scope.setdefault("state", {}), served.record):
        await services.writer.commit([served.record])
    # the prediction's JSON is cached with it: assemble the body instead of re-serialising
    return Response(content=served.response_json(), media_type="application/json")
