"""FastAPI dependencies: the app's services, the caller, their role, rate limits, CSRF.

Authentication: ``Authorization: Bearer <API key>``, or the session cookie from
``POST /api/v1/session``. Cookie-authenticated requests that change something (POST, PUT, PATCH,
DELETE) must repeat the session's CSRF token in the ``X-CSRF-Token`` header: a page from another
site cannot read it, so it cannot forge the request (the cookie is also ``SameSite=Strict``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import anyio
from fastapi import Depends, Request

from ocais.serve.accounts import Principal
from ocais.serve.errors import ApiError
from ocais.serve.ratelimit import retry_after_seconds
from ocais.serve.security import same_token
from ocais.serve.services import Services

SESSION_COOKIE = "ocais_session"
CSRF_COOKIE = "ocais_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_services(request: Request) -> Services:
    # async: FastAPI runs plain ``def`` dependencies in a worker thread
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def _unauthorized(message: str, hint: str) -> ApiError:
    return ApiError(401, "unauthorized", message, hint=hint, headers={"WWW-Authenticate": "Bearer"})


_AUTHENTICATED = "authenticated"  # request state: the caller, once checked in this request


async def current_principal(request: Request) -> Principal:
    """The authenticated caller (401 otherwise), after CSRF and rate-limit checks.

    A key verified recently is found in memory on the event loop; checking a new key (a store
    read and an HMAC) or a session (a store read) runs in a worker thread. Checked once per
    request (the role checks of :func:`require` call it directly: one dependency level is
    cheaper per request).
    """
    state = request.scope.setdefault("state", {})
    checked: Principal | None = state.get(_AUTHENTICATED)
    if checked is not None:
        return checked
    services: Services = request.app.state.services
    accounts = services.accounts
    authorization = request.headers.get("authorization")
    principal: Principal | None
    if authorization:
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise _unauthorized(
                "malformed Authorization header", "send 'Authorization: Bearer <API key>'"
            )
        principal = accounts.cached_principal(key)
        if principal is None:
            principal = await anyio.to_thread.run_sync(accounts.authenticate_key, key)
        if principal is None:
            raise _unauthorized(
                "invalid, revoked or disabled API key",
                "ask an admin for a key: ocais users key NAME",
            )
    else:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            raise _unauthorized(
                "authentication required",
                "send 'Authorization: Bearer <API key>', or log in with POST /api/v1/session",
            )
        principal = await anyio.to_thread.run_sync(accounts.session_principal, token)
        if principal is None:
            raise _unauthorized("the session has expired or ended", "log in again")
        if request.method not in SAFE_METHODS:
            csrf = request.headers.get(CSRF_HEADER, "")
            if not csrf or not principal.csrf_digest or not same_token(csrf, principal.csrf_digest):
                raise ApiError(
                    403,
                    "csrf_failed",
                    "missing or wrong CSRF token",
                    hint="repeat the csrf token from POST /api/v1/session (cookie ocais_csrf) in "
                    "the X-CSRF-Token header",
                )
    state["principal"] = principal
    wait = services.limiter.take(principal.user_id)
    if wait is not None:
        seconds = retry_after_seconds(wait)
        raise ApiError(
            429,
            "rate_limited",
            "too many requests",
            hint=f"wait {seconds} s and try again",
            details={"retry_after": seconds},
            headers={"Retry-After": str(seconds)},
        )
    state[_AUTHENTICATED] = principal
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that lets only ``roles`` through (403 for the others)."""

    async def check(request: Request) -> Principal:
        principal = await current_principal(request)
        if not principal.has_role(*roles):
            raise ApiError(
                403,
                "forbidden",
                f"the {principal.role} role may not do this",
                hint="allowed roles: " + ", ".join(roles),
            )
        return principal

    return check


Clinician = Annotated[Principal, Depends(require("clinician", "admin"))]
Reader = Annotated[Principal, Depends(require("clinician", "researcher", "admin"))]
Researcher = Annotated[Principal, Depends(require("researcher", "admin"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def audit(request: Request, **object_ids: str | None) -> None:
    """Name the objects a request touched, for the audit log (ids only)."""
    ids = request.state.audit_ids if hasattr(request.state, "audit_ids") else None
    if ids is not None:
        ids.update({k: v for k, v in object_ids.items() if v is not None})
