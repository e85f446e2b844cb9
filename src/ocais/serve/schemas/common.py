"""Bodies shared by several resources: the error envelope (for the OpenAPI docs), pages."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """Request bodies reject unknown keys (a typo is an error, not silently ignored)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ErrorBody(BaseModel):
    code: str = Field(description="Stable error code, e.g. not_found, validation_error")
    message: str
    hint: str | None = None
    request_id: str
    details: dict[str, Any] | None = None


class ErrorEnvelope(BaseModel):
    """The body of every non-2xx response."""

    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": description}
    for status, description in (
        (401, "Missing or invalid credentials"),
        (403, "The caller's role may not do this"),
        (422, "The request does not match the schema"),
        (429, "Too many requests: wait details.retry_after seconds"),
    )
}
