"""ASGI middleware: request ids, access log, audit log, request-size limit, last-resort 500.

Logs and the audit log carry the route *template* (``/api/v1/cases/{case_id}``), the status, the
user id and object ids — never bodies, query strings or free text, which may identify a patient.

A route may leave rows to store in ``scope["state"][PENDING_ROWS]`` (see :func:`defer_rows`):
they are committed in one transaction with the request's audit row, before the response starts.
If that commit fails the client gets the store error instead of the route's answer, so an
acknowledged answer is always stored and audited.
"""

from __future__ import annotations

import logging
import re
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocais.errors import OcaisError
from ocais.serve.errors import HIDDEN_MESSAGES, envelope, status_of
from ocais.serve.security import random_uuid

access_log = logging.getLogger("ocais.serve.access")
logger = logging.getLogger("ocais.serve")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
API_PREFIX = "/api/v1"
UNAUDITED = (f"{API_PREFIX}/health",)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]

#: Commits one audit entry (a dict of audit_log columns) after each API request, together with
#: the rows the request deferred (predictions); returns once they are committed.
AuditSink = Callable[[dict[str, Any], list[Any]], Awaitable[None]]
#: ``scope["state"]`` key: rows to commit with the request's audit entry (absent: no audit).
PENDING_ROWS = "pending_rows"


def defer_rows(state: dict[str, Any], *rows: Any) -> bool:
    """Leave ``rows`` to be committed with the request's audit entry; ``False`` if the request
    is not audited (then the caller writes them itself)."""
    pending = state.get(PENDING_ROWS)
    if pending is None:
        return False
    pending.extend(rows)
    return True


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit:,} bytes")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _route_template(scope: Scope) -> tuple[str, str]:
    """(action, path template) of the matched route, or ('unmatched', '-')."""
    route = scope.get("route")
    if route is None:
        return "unmatched", "-"
    template = str(getattr(route, "path", "-"))
    # routes of included routers know their path without the include prefix
    if str(scope.get("path", "")).startswith(API_PREFIX) and not template.startswith(API_PREFIX):
        template = API_PREFIX + template
    return str(getattr(route, "name", "unknown")), template


class RequestContextMiddleware:
    """Outermost layer: request id, timing, access and audit log, and the 500 envelope."""

    def __init__(self, app: ASGIApp, *, audit: AuditSink | None = None) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if given and _REQUEST_ID.match(given) else random_uuid().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["audit_ids"] = {}
        path = str(scope.get("path", ""))
        # CDS Hooks calls from the EHR are API calls too (audited, never cached)
        is_api = path.startswith(("/api/", "/cds-services"))
        audited = self.audit is not None and is_api and path not in UNAUDITED
        if audited:
            state[PENDING_ROWS] = []
        started = time.perf_counter()
        status = 500
        response_started = False
        replaced = False  # the route's answer was replaced by a store error: drop the rest

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started, replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_started = True
                # recorded before the client sees the answer: an acknowledged action is audited
                failure = await self._audit(scope, status, started) if audited else None
                if failure is not None:
                    replaced = True
                    status = status_of(failure)
                    await self._send_failure(scope, receive, send, failure)
                    return
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("ascii")))
                headers.extend(SECURITY_HEADERS)
                if is_api:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # the message may quote request data: log the type and where, not the text
            frames = "".join(traceback.format_tb(exc.__traceback__))
            logger.error("unhandled %s (request %s)\n%s", type(exc).__name__, request_id, frames)
            status = 500
            if not response_started:
                response = envelope(
                    500, "internal_error", HIDDEN_MESSAGES[500], request_id=request_id
                )
                await response(scope, receive, send_with_id)
        _, template = _route_template(scope)
        access_log.info(
            "%s %s %d %.1fms rid=%s user=%s",
            scope["method"],
            template,
            status,
            (time.perf_counter() - started) * 1000,
            request_id,
            getattr(state.get("principal"), "user_id", None) or "-",
        )

    async def _audit(self, scope: Scope, status: int, started: float) -> OcaisError | None:
        """Commit the audit entry and the deferred rows; the error if deferred rows failed."""
        assert self.audit is not None
        state = scope["state"]
        rows: list[Any] = state.pop(PENDING_ROWS, None) or []
        state[PENDING_ROWS] = None  # later rows cannot join a committed transaction
        action, _ = _route_template(scope)
        entry = {
            "at": datetime.now(UTC),
            "user_id": getattr(state.get("principal"), "user_id", None),
            "action": action[:64],
            "method": str(scope["method"])[:8],
            "status": status,
            "request_id": state["request_id"],
            "object_ids": {k: str(v)[:64] for k, v in state["audit_ids"].items()},
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        try:
            await self.audit(entry, rows)
        except OcaisError as exc:
            if not rows:
                logger.error(
                    "audit entry of request %s not written: %s", state["request_id"], exc.code
                )
                return None
            # the answer's rows were not stored: the client gets the error, the log its entry
            entry["status"] = status_of(exc)
            try:
                await self.audit(entry, [])
            except OcaisError as again:
                logger.error(
                    "audit entry of request %s not written: %s", state["request_id"], again.code
                )
            return exc
        return None

    async def _send_failure(
        self, scope: Scope, receive: Receive, send: Send, error: OcaisError
    ) -> None:
        """The store error that replaces a route's answer (the message is not shown)."""
        request_id = scope["state"]["request_id"]
        status = status_of(error)
        logger.error("request %s failed: %s (%s)", request_id, error.code, type(error).__name__)
        response = envelope(
            status, error.code, HIDDEN_MESSAGES.get(status, error.message), request_id=request_id
        )
        response.headers.append("x-request-id", request_id)
        for name, value in SECURITY_HEADERS:
            response.headers.append(name.decode(), value.decode())
        response.headers.append("cache-control", "no-store")
        await response(scope, receive, send)


class BodyLimitMiddleware:
    """413 for bodies over ``limit`` bytes: by Content-Length, or while streaming."""

    def __init__(
        self, app: ASGIApp, *, limit: int, overrides: dict[tuple[str, str], int] | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.overrides = overrides or {}  # (method, path) -> limit: package uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.overrides.get((scope.get("method", ""), scope.get("path", "")), self.limit)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, receive, send, limit)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counting_receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        state = scope.get("state", {})
        setting = (
            "OCAIS_SERVE_MAX_PACKAGE_BYTES" if limit != self.limit else "OCAIS_SERVE_MAX_BODY_BYTES"
        )
        response = envelope(
            413,
            "payload_too_large",
            f"the request body is larger than {limit:,} bytes",
            request_id=str(state.get("request_id", "")),
            hint=f"send less (free text: the relevant part of the note); the limit is {setting}",
        )
        await response(scope, receive, send)
