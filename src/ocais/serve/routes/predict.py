"""``POST /api/v1/predict``: a ranked differential with evidence and what to check next."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response
from pydantic import TypeAdapter

from ocais.serve.deps import Clinician, ServicesDep, audit
from ocais.serve.schemas.common import ERROR_RESPONSES
from ocais.serve.schemas.predict import MentionOut, PredictRequest, PredictResponse

router = APIRouter(tags=["predict"])
_MENTIONS = TypeAdapter(list[MentionOut] | None)


@router.post(
    "/predict",
    name="predict",
    response_model=PredictResponse,
    responses={**ERROR_RESPONSES, 413: ERROR_RESPONSES[422] | {"description": "Text too long"}},
)
def predict(
    body: PredictRequest, request: Request, services: ServicesDep, principal: Clinician
) -> Response:
    """Rank diseases for free text (phenotypes are recognised in it) and/or structured terms.

    Unknown HPO ids among known ones are ignored with a warning; if no observed term is known
    the answer is 422 ``unknown_term``. The prediction is stored (terms, sex, age, candidates —
    never the text) under ``prediction_id`` for feedback.
    """
    served = services.predictions.predict(body, user_id=principal.user_id)
    audit(request, prediction_id=served.prediction_id)
    # the prediction's JSON is cached with it: assemble the body instead of re-serialising
    content = (
        '{"prediction_id":'
        + json.dumps(served.prediction_id)
        + ',"mentions":'
        + _MENTIONS.dump_json(served.mentions).decode()
        + ',"input":'
        + served.input.model_dump_json()
        + ',"prediction":'
        + served.prediction_json
        + "}"
    )
    return Response(content=content, media_type="application/json")
