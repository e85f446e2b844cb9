"""Bodies of ``/api/v1/feedback``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, model_validator

from ocais.schemas import Curie
from ocais.serve.schemas.common import Strict


class ConfirmedDiagnosis(Strict):
    """The diagnosis that was confirmed: a known disease id, or a free-text label."""

    disease_id: Curie | None = Field(default=None, description="OMIM:..., ORPHA:...")
    label: str | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _one_given(self) -> ConfirmedDiagnosis:
        if self.disease_id is None and not self.label:
            raise ValueError("give disease_id or label")
        return self


class FeedbackCreate(Strict):
    prediction_id: str = Field(min_length=1, max_length=64)
    confirmed_diagnosis: ConfirmedDiagnosis | None = None
    rating: int | None = Field(default=None, ge=1, le=5, description="Usefulness, 1 to 5")
    comment: str | None = Field(
        default=None,
        description="Free text, possibly identifying: stored, shown to admins, never logged.",
    )

    @model_validator(mode="after")
    def _something(self) -> FeedbackCreate:
        if self.confirmed_diagnosis is None and self.rating is None and not self.comment:
            raise ValueError("give a confirmed_diagnosis, a rating or a comment")
        return self


class FeedbackOut(BaseModel):
    id: int
    prediction_id: str
    user_id: str | None
    created_at: datetime
    disease_id: str | None
    disease_label: str | None
    rank_of_confirmed: int | None = Field(
        default=None, description="Rank of the confirmed disease among the stored candidates"
    )
    rating: int | None
    has_comment: bool
    comment: str | None = Field(default=None, description="Shown to admins only")


class FeedbackPage(BaseModel):
    limit: int
    offset: int
    items: list[FeedbackOut]
