"""The one JSON error envelope of the API, and the handlers that produce it.

Every non-2xx response has the body::

    {"error": {"code": "...", "message": "...", "hint": "..." | null,
               "request_id": "...", "details": {...} | null}}

``code`` is stable (scripts branch on it); ``message`` says what went wrong and ``hint`` what to
do. Validation errors list ``details.errors`` as ``{loc, msg, type}`` without echoing the input
(it may be a patient's text). Internal errors never leak their message: the request id finds the
traceback in the server log.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ocais.errors import OcaisError

logger = logging.getLogger("ocais.serve")

#: HTTP status of each ``OcaisError.code`` raised from a request body or query.
STATUS_BY_CODE: dict[str, int] = {
    "not_found": 404,
    "forbidden": 403,
    "search_unavailable": 503,
    "unknown_term": 422,
    "unknown_disease": 422,
    "invalid_record": 422,
    "unsupported_format": 422,
    "import_aborted": 422,
    "input_too_large": 413,
    "config_error": 500,
    "knowledge_error": 500,
    "store_error": 503,
    "package_invalid": 422,
    "package_untrusted": 403,
    "package_conflict": 409,
    "genomic_input_invalid": 422,
}

#: Codes of plain HTTP errors (unknown routes, wrong methods, ...).
CODE_BY_STATUS: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}

#: Messages that would expose internals are replaced by these.
HIDDEN_MESSAGES: dict[int, str] = {
    500: "internal error: the server could not handle this request",
    503: "the service is temporarily unavailable",
}


class ApiError(OcaisError):
    """An error with an explicit HTTP status (raise it from routes and dependencies)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code
        self.details = details
        self.headers = headers


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")


def envelope(
    status: int,
    code: str,
    message: str,
    *,
    request_id: str,
    hint: str | None = None,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {
        "error": {
            "code": code,
            "message": message,
            "hint": hint,
            "request_id": request_id,
            "details": details,
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


def status_of(error: OcaisError) -> int:
    if isinstance(error, ApiError):
        return error.status
    return STATUS_BY_CODE.get(error.code, 400)


def ocais_error_response(request: Request, error: OcaisError) -> JSONResponse:
    status = status_of(error)
    rid = request_id_of(request)
    if status >= 500 and not isinstance(error, ApiError):
        # configuration and store errors name paths and URLs: log them, do not send them
        logger.error("request %s failed: %s (%s)", rid, error.code, type(error).__name__)
        return envelope(status, error.code, HIDDEN_MESSAGES[status], request_id=rid)
    return envelope(
        status,
        error.code,
        error.message,
        request_id=rid,
        hint=error.hint,
        details=getattr(error, "details", None),
        headers=getattr(error, "headers", None),
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for item in exc.errors():
        errors.append(
            {
                "loc": [str(part) for part in item.get("loc", ())],
                "msg": str(item.get("msg", "")),
                "type": str(item.get("type", "")),
            }
        )
    return errors


async def _ocais_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, OcaisError):  # pragma: no cover - registered for OcaisError only
        raise exc
    return ocais_error_response(request, exc)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):  # pragma: no cover
        raise exc
    status = exc.status_code
    code = CODE_BY_STATUS.get(status, "http_error")
    message = HIDDEN_MESSAGES.get(status) or str(exc.detail)
    hint = None
    if status == 404:
        message, hint = "no such resource", "the API is under /api/v1; see /docs"
    elif status == 405:
        message = f"method {request.method} is not allowed here"
    return envelope(
        status,
        code,
        message,
        request_id=request_id_of(request),
        hint=hint,
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):  # pragma: no cover
        raise exc
    errors = _validation_errors(exc)
    rid = request_id_of(request)
    if any(e["type"] == "json_invalid" for e in errors):
        return envelope(
            400,
            "invalid_json",
            "the request body is not valid JSON",
            request_id=rid,
            hint="send a JSON object with Content-Type: application/json",
        )
    return envelope(
        422,
        "validation_error",
        "the request does not match the schema",
        request_id=rid,
        hint="see details.errors and the schema at /docs",
        details={"errors": errors},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Route every error raised inside the app to the envelope."""
    app.add_exception_handler(OcaisError, _ocais_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
