"""ASGI middleware: request ids, access log, audit log, request-size limit, last-resort 500.

Logs and the audit log carry the route *template* (``/api/v1/cases/{case_id}``), the status, the
user id and object ids — never bodies, query strings or free text, which may identify a patient.
"""

from __future__ import annotations

import logging
import re
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocais.errors import OcaisError
from ocais.serve.errors import HIDDEN_MESSAGES, envelope

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

#: Called with one audit entry (a dict of audit_log columns) after each API request.
AuditSink = Callable[[dict[str, Any]], None]


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
        request_id = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["audit_ids"] = {}
        path = str(scope.get("path", ""))
        is_api = path.startswith("/api/")
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_started = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("ascii")))
                headers.extend(SECURITY_HEADERS)
                if is_api:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
                # recorded before the client sees the answer: an acknowledged action is audited
                await self._audit(scope, status, started)
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

    async def _audit(self, scope: Scope, status: int, started: float) -> None:
        path = str(scope.get("path", ""))
        if self.audit is None or not path.startswith("/api/") or path in UNAUDITED:
            return
        state = scope["state"]
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
            await anyio.to_thread.run_sync(self.audit, entry)
        except OcaisError as exc:
            logger.error("audit entry of request %s not written: %s", state["request_id"], exc.code)


class BodyLimitMiddleware:
    """413 for bodies over ``limit`` bytes: by Content-Length, or while streaming."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counting_receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.get("state", {})
        response = envelope(
            413,
            "payload_too_large",
            f"the request body is larger than {self.limit:,} bytes",
            request_id=str(state.get("request_id", "")),
            hint="send less (free text: the relevant part of the note); the limit is "
            "OCAIS_SERVE_MAX_BODY_BYTES",
        )
        await response(scope, receive, send)
