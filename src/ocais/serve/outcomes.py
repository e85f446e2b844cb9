"""Feedback on predictions: the confirmed diagnosis, a rating and a comment.

Feedback links to a stored prediction; the rank of the confirmed disease among that prediction's
candidates is what the service report turns into top-k accuracy. The comment may identify a
patient: it is stored and shown to admins, never logged and never put in the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ocais.errors import InvalidRecordError, NotFoundError, UnknownDiseaseError
from ocais.knowledge import KnowledgeBase
from ocais.serve.accounts import Principal
from ocais.serve.schemas.feedback import FeedbackCreate, FeedbackOut
from ocais.store.service_models import FeedbackRecord, PredictionRecord
from ocais.store.service_repo import ServiceRepository


def rank_of(prediction: PredictionRecord, disease_id: str | None) -> int | None:
    """Rank of ``disease_id`` among the prediction's candidates (``None``: not among them)."""
    if disease_id is None:
        return None
    for candidate in prediction.candidates:
        if candidate.get("disease_id") == disease_id:
            return int(candidate["rank"])
    return None


class FeedbackService:
    def __init__(
        self, store: ServiceRepository, knowledge: KnowledgeBase, *, max_comment_chars: int
    ) -> None:
        self.store, self.kb = store, knowledge
        self.max_comment_chars = max_comment_chars

    def add(self, principal: Principal, body: FeedbackCreate) -> FeedbackOut:
        prediction = self.store.get_prediction(body.prediction_id)
        theirs = prediction is not None and (
            principal.has_role("admin") or prediction.user_id == principal.user_id
        )
        if prediction is None or not theirs:  # someone else's: answered as if it did not exist
            raise NotFoundError(
                f"no prediction with id {body.prediction_id!r} that you asked for",
                hint="use the prediction_id that /api/v1/predict returned to you; feedback is "
                "given by whoever asked for the prediction",
            )
        if body.comment is not None and len(body.comment) > self.max_comment_chars:
            raise InvalidRecordError(
                f"the comment has {len(body.comment)} characters, at most "
                f"{self.max_comment_chars} are accepted",
                source="request",
                field="comment",
            )
        diagnosis = body.confirmed_diagnosis
        disease_id = diagnosis.disease_id if diagnosis else None
        label = diagnosis.label if diagnosis else None
        if disease_id is not None:
            if not self.kb.has_disease(disease_id):
                raise UnknownDiseaseError(
                    f"unknown disease {disease_id}",
                    hint="check it with /api/v1/knowledge/diseases/{id}, or send only a label",
                )
            label = label or self.kb.disease_name(disease_id)
        record = self.store.add_feedback(
            {
                "prediction_id": prediction.id,
                "user_id": principal.user_id,
                "created_at": datetime.now(UTC),
                "disease_id": disease_id,
                "disease_label": label,
                "rating": body.rating,
                "comment": body.comment or None,
            }
        )
        return self.view(record, prediction, show_comment=True)

    def list_feedback(
        self, principal: Principal, *, limit: int, offset: int, prediction_id: str | None
    ) -> list[FeedbackOut]:
        records = self.store.list_feedback(limit=limit, offset=offset, prediction_id=prediction_id)
        predictions: dict[str, PredictionRecord | None] = {}
        items = []
        for record in records:
            if record.prediction_id not in predictions:
                predictions[record.prediction_id] = self.store.get_prediction(record.prediction_id)
            items.append(
                self.view(
                    record,
                    predictions[record.prediction_id],
                    show_comment=principal.has_role("admin"),
                )
            )
        return items

    @staticmethod
    def view(
        record: FeedbackRecord, prediction: PredictionRecord | None, *, show_comment: bool
    ) -> FeedbackOut:
        return FeedbackOut(
            id=record.id,
            prediction_id=record.prediction_id,
            user_id=record.user_id,
            created_at=record.created_at,
            disease_id=record.disease_id,
            disease_label=record.disease_label,
            rank_of_confirmed=rank_of(prediction, record.disease_id) if prediction else None,
            rating=record.rating,
            has_comment=record.comment is not None,
            comment=record.comment if show_comment else None,
        )
