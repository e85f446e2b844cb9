"""``/api/v1/session``: log in with a name and password (the page), see who you are, log out.

The session cookie is ``HttpOnly`` and ``SameSite=Strict``; the CSRF token comes in the body and
in a readable cookie, and must be sent back in ``X-CSRF-Token`` on every change.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ocais.serve.accounts import Principal
from ocais.serve.deps import CSRF_COOKIE, SESSION_COOKIE, CurrentUser, ServicesDep
from ocais.serve.errors import ApiError
from ocais.serve.ratelimit import retry_after_seconds
from ocais.serve.schemas.common import ERROR_RESPONSES
from ocais.serve.schemas.users import LoginRequest, SessionOut, WhoAmI

router = APIRouter(prefix="/session", tags=["session"], responses=ERROR_RESPONSES)


def _who(principal: Principal) -> WhoAmI:
    return WhoAmI(
        user_id=principal.user_id, name=principal.name, role=principal.role, via=principal.via
    )


@router.post("", name="session.login", response_model=SessionOut)
def login(
    body: LoginRequest, request: Request, response: Response, services: ServicesDep
) -> SessionOut:
    client = request.client.host if request.client else "-"
    wait = services.login_limiter.take(f"{client}|{body.username}")
    if wait is not None:
        seconds = retry_after_seconds(wait)
        raise ApiError(
            429,
            "rate_limited",
            "too many login attempts",
            hint=f"wait {seconds} s",
            details={"retry_after": seconds},
            headers={"Retry-After": str(seconds)},
        )
    session = services.accounts.login(body.username, body.password)
    if session is None:
        raise ApiError(401, "unauthorized", "wrong user name or password, or user disabled")
    request.state.principal = session.principal
    max_age = int(services.serve.session_hours * 3600)
    secure = services.serve.cookie_secure
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE, session.csrf, max_age=max_age, samesite="strict", secure=secure, path="/"
    )
    return SessionOut(
        user=_who(session.principal), csrf_token=session.csrf, expires_at=session.expires_at
    )


@router.get("", name="session.show", response_model=WhoAmI)
def whoami(principal: CurrentUser) -> WhoAmI:
    """Who the credentials belong to (API key or session)."""
    return _who(principal)


@router.delete("", name="session.logout", status_code=204)
def logout(request: Request, services: ServicesDep, principal: CurrentUser) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        services.accounts.logout(token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response
