"""The FHIR export use case: a prediction as a FHIR R4 ``RiskAssessment``.

The shells reach the mapping (:mod:`ocais.predict.fhir_export`) only through here: the CLI
exports the prediction it just made (:func:`risk_assessment`), the API a stored one
(:func:`stored_risk_assessment`), which only the clinician who asked for it, or an admin, may
read — the same rule as feedback on it. Anybody else is answered exactly like a missing id.
"""

from __future__ import annotations

from typing import Any

from ocais.errors import NotFoundError
from ocais.knowledge import KnowledgeBase
from ocais.predict.fhir_export import risk_assessment, risk_assessment_from_record
from ocais.store.service_repo import ServiceRepository
from ocais.workflows.access import Actor

__all__ = ["no_such_prediction", "risk_assessment", "stored_prediction", "stored_risk_assessment"]


def no_such_prediction(prediction_id: str) -> NotFoundError:
    """The one answer for a missing prediction and for one the caller may not read."""
    return NotFoundError(
        f"no prediction with id {prediction_id!r} that you asked for",
        hint="use the prediction_id that /api/v1/predict returned to you; a prediction is read "
        "by whoever asked for it (or an admin)",
    )


def stored_risk_assessment(
    store: ServiceRepository,
    knowledge: KnowledgeBase,
    actor: Actor,
    prediction_id: str,
    *,
    subject_reference: str | None = None,
) -> dict[str, Any]:
    """The stored prediction ``prediction_id`` as a validated FHIR ``RiskAssessment``, for the
    clinician who asked for it or an admin (:class:`~ocais.errors.NotFoundError` otherwise)."""
    record = stored_prediction(store, actor, prediction_id)
    return risk_assessment_from_record(record, knowledge, subject_reference=subject_reference)


def stored_prediction(store: ServiceRepository, actor: Actor, prediction_id: str) -> Any:
    """A stored prediction (``PredictionRecord``) the actor may read: their own, any for an
    admin, and one made for the EHR (CDS Hooks, no OCAIS user) for any clinician — its card's
    link opens it in the chat page for whoever the EHR showed it to; its id is a random UUID
    the EHR alone was given. Anybody else: :class:`~ocais.errors.NotFoundError`."""
    record = store.get_prediction(prediction_id)
    if record is None:
        raise no_such_prediction(prediction_id)
    if actor.role == "admin" or record.user_id == actor.user_id:
        return record
    if record.user_id is None and actor.role == "clinician":
        return record
    raise no_such_prediction(prediction_id)
