"""Bodies of ``/api/v1/users`` and ``/api/v1/session``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from ocais.serve.schemas.common import Strict
from ocais.store.service_models import UserRecord

RoleName = Literal["clinician", "researcher", "admin"]


class UserCreate(Strict):
    name: str = Field(min_length=2, max_length=64)
    role: RoleName
    password: str | None = Field(
        default=None, max_length=1024, description="For the page login (>= 12 characters)"
    )


class UserOut(BaseModel):
    id: str
    name: str
    role: str
    active: bool
    created_at: datetime
    disabled_at: datetime | None
    has_password: bool
    n_keys: int

    @classmethod
    def of(cls, user: UserRecord) -> UserOut:
        return cls.model_validate(user.model_dump())


class NewKey(BaseModel):
    user: str
    api_key: str = Field(description="Shown once: store it now; only a hash is kept")


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class WhoAmI(BaseModel):
    user_id: str
    name: str
    role: str
    via: str


class SessionOut(BaseModel):
    user: WhoAmI
    csrf_token: str = Field(description="Send it back in the X-CSRF-Token header")
    expires_at: datetime
