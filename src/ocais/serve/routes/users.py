"""``/api/v1/users`` (admins): accounts and API keys, as ``ocais users`` does on the console."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ocais.errors import InvalidRecordError
from ocais.serve.deps import Admin, ServicesDep, audit
from ocais.serve.errors import ApiError
from ocais.serve.schemas.common import ERROR_RESPONSES
from ocais.serve.schemas.users import NewKey, UserCreate, UserOut

router = APIRouter(prefix="/users", tags=["users"], responses=ERROR_RESPONSES)


@router.get("", name="users.list", response_model=list[UserOut])
def list_users(services: ServicesDep, principal: Admin) -> list[UserOut]:
    return [UserOut.of(u) for u in services.accounts.list_users()]


@router.post("", name="users.create", response_model=UserOut, status_code=201)
def create_user(
    body: UserCreate, request: Request, services: ServicesDep, principal: Admin
) -> UserOut:
    """A new user (409 if the name is taken)."""
    try:
        user = services.accounts.add_user(body.name, body.role, password=body.password)
    except InvalidRecordError as exc:
        if "already exists" in exc.message:
            raise ApiError(409, "conflict", exc.message, hint="choose another name") from exc
        raise
    audit(request, user_id=user.id)
    return UserOut.of(user)


@router.post("/{name}/keys", name="users.key", response_model=NewKey, status_code=201)
def new_key(name: str, request: Request, services: ServicesDep, principal: Admin) -> NewKey:
    """A new API key for a user: returned once, stored only as a hash."""
    user, key = services.accounts.issue_key(name)
    audit(request, user_id=user.id)
    return NewKey(user=user.name, api_key=key)


@router.post("/{name}/disable", name="users.disable", response_model=UserOut)
def disable(name: str, request: Request, services: ServicesDep, principal: Admin) -> UserOut:
    """Disable a user: their keys and sessions stop working."""
    if name == principal.name:
        raise ApiError(409, "conflict", "you cannot disable yourself", hint="ask another admin")
    user = services.accounts.set_active(name, False)
    audit(request, user_id=user.id)
    return UserOut.of(user)


@router.post("/{name}/enable", name="users.enable", response_model=UserOut)
def enable(name: str, request: Request, services: ServicesDep, principal: Admin) -> UserOut:
    user = services.accounts.set_active(name, True)
    audit(request, user_id=user.id)
    return UserOut.of(user)
