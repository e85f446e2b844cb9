"""Accounts: users with roles, API keys, login sessions, and the first admin.

Roles: ``clinician`` (predict, search, own cases, feedback), ``researcher`` (read-only cases,
search, feedback list, reports) and ``admin`` (everything, users). The CLI (``ocais users``) and
the API's user routes both call :class:`Accounts`.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from ocais.errors import InvalidRecordError
from ocais.serve.security import (
    api_hash_needs_rehash,
    hash_api_secret,
    hash_password,
    new_api_key,
    new_server_key,
    new_token,
    password_needs_rehash,
    split_api_key,
    token_digest,
    verify_api_secret,
    verify_password,
)
from ocais.store.service_models import ROLES, UserRecord
from ocais.store.service_repo import ServiceRepository

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
MIN_PASSWORD_CHARS = 12
BOOTSTRAP_ADMIN = "admin"
AUTH_CACHE_MAX = 10_000
API_KEY_SECRET = "api-key-hmac"  # name of the server key in the store's server_secrets


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user, their role, and how they authenticated."""

    user_id: str
    name: str
    role: str
    via: Literal["key", "session"]
    csrf_digest: str | None = None

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


@dataclass(frozen=True)
class Login:
    """A new session: set ``token`` as the httponly cookie; the page sends ``csrf`` back."""

    principal: Principal
    token: str
    csrf: str
    expires_at: datetime


@dataclass(frozen=True)
class BootstrapCredentials:
    """The first admin's one-time secrets: shown on the console once, stored only hashed."""

    name: str
    api_key: str
    password: str


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise InvalidRecordError(
            f"invalid user name {name!r}",
            source="users",
            field="name",
            hint="2-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit",
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidRecordError(
            f"the password is too short (at least {MIN_PASSWORD_CHARS} characters)",
            source="users",
            field="password",
        )
    return password


class Accounts:
    """Users, keys and sessions over a :class:`ServiceRepository`, with a key-check cache."""

    def __init__(
        self, store: ServiceRepository, *, cache_seconds: float = 30, session_hours: float = 12
    ) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self.session_hours = session_hours
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._flights: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._server_key: str | None = None

    def server_key(self) -> str:
        """The installation's API-key HMAC key: read (or created) once, on first use."""
        with self._lock:
            key = self._server_key
        if key is None:
            key = self.store.server_secret(API_KEY_SECRET, new_server_key(), now=_now())
            with self._lock:
                self._server_key = key
        return key

    # -- management ----------------------------------------------------------------------------
    def add_user(self, name: str, role: str, *, password: str | None = None) -> UserRecord:
        if role not in ROLES:
            raise InvalidRecordError(
                f"unknown role {role!r}", source="users", field="role", hint=", ".join(ROLES)
            )
        password_hash = None if password is None else hash_password(check_password(password))
        return self.store.create_user(
            check_name(name), role, password_hash=password_hash, now=_now()
        )

    def issue_key(self, name: str) -> tuple[UserRecord, str]:
        """A new API key for ``name``; the key is returned once and stored only hashed."""
        user = self.store.get_user_by_name(name)
        key = new_api_key(self.server_key())
        self.store.add_api_key(user.id, key.prefix, key.key_hash, now=_now())
        return user, key.key

    def list_users(self) -> list[UserRecord]:
        return self.store.list_users()

    def set_active(self, name: str, active: bool) -> UserRecord:
        user = self.store.set_active(name, active, now=_now())
        self.forget(user.id)
        return user

    def revoke_keys(self, name: str) -> int:
        user = self.store.get_user_by_name(name)
        self.forget(user.id)
        return self.store.revoke_keys(user.id, now=_now())

    def set_password(self, name: str, password: str) -> None:
        self.store.set_password(name, hash_password(check_password(password)))

    def bootstrap_admin(self) -> BootstrapCredentials | None:
        """Create the first admin (key + password) if there are no users; else ``None``."""
        if self.store.count_users() > 0:
            return None
        password = new_token()
        self.add_user(BOOTSTRAP_ADMIN, "admin", password=password)
        _, key = self.issue_key(BOOTSTRAP_ADMIN)
        return BootstrapCredentials(name=BOOTSTRAP_ADMIN, api_key=key, password=password)

    # -- authentication ------------------------------------------------------------------------
    def cached_principal(self, key: str) -> Principal | None:
        """The principal of a key verified less than ``cache_seconds`` ago (no store access)."""
        with self._lock:
            cached = self._cache.get(token_digest(key))
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        return None

    def authenticate_key(self, key: str) -> Principal | None:
        """The principal of a valid key of an active user, else ``None``.

        Concurrent requests with the same key wait for one check instead of each reading the
        store (and, for a key still hashed with scrypt, each running scrypt): a burst of requests
        after the cache entry expires would otherwise all do.
        """
        cached = self.cached_principal(key)
        if cached is not None:
            return cached
        digest = token_digest(key)
        with self._lock:
            flight = self._flights.setdefault(digest, threading.Lock())
        try:
            with flight:
                cached = self.cached_principal(key)
                return cached if cached is not None else self._verify_key(key, digest)
        finally:
            with self._lock:
                self._flights.pop(digest, None)

    def _verify_key(self, key: str, digest: str) -> Principal | None:
        parts = split_api_key(key)
        if parts is None:
            return None
        found = self.store.find_api_key(parts[0])
        if found is None:
            return None
        record, user = found
        server_key = self.server_key()
        if not user.active or not verify_api_secret(parts[1], record.key_hash, server_key):
            return None
        if api_hash_needs_rehash(record.key_hash):
            self.store.set_api_key_hash(record.id, hash_api_secret(parts[1], server_key))
        principal = Principal(user.id, user.name, user.role, "key")
        if self.cache_seconds > 0:
            with self._lock:
                if len(self._cache) >= AUTH_CACHE_MAX:
                    self._cache.clear()
                self._cache[digest] = (principal, time.monotonic() + self.cache_seconds)
        return principal

    def forget(self, user_id: str) -> None:
        """Drop cached key checks of a user (after disabling them or revoking keys)."""
        with self._lock:
            for digest in [d for d, (p, _) in self._cache.items() if p.user_id == user_id]:
                del self._cache[digest]

    def login(self, name: str, password: str) -> Login | None:
        """A new session for a correct name and password of an active user, else ``None``."""
        found = self.store.password_hash(name)
        stored = found[1] if found is not None else None
        if found is None or stored is None:
            verify_password(password, _dummy_hash())  # same cost whether or not the user exists
            return None
        user = found[0]
        if not verify_password(password, stored) or not user.active:
            return None
        if password_needs_rehash(stored):
            self.store.set_password(user.name, hash_password(password))
        token, csrf = new_token(), new_token()
        now = _now()
        expires = now + timedelta(hours=self.session_hours)
        self.store.create_session(
            token_digest(token), user.id, token_digest(csrf), now=now, expires=expires
        )
        principal = Principal(user.id, user.name, user.role, "session", token_digest(csrf))
        return Login(principal, token, csrf, expires)

    def session_principal(self, token: str) -> Principal | None:
        found = self.store.get_session(token_digest(token))
        if found is None:
            return None
        session, user = found
        if session.expires_at <= _now() or not user.active:
            return None
        return Principal(user.id, user.name, user.role, "session", session.csrf_hash)

    def logout(self, token: str) -> None:
        self.store.delete_session(token_digest(token))


def _now() -> datetime:
    return datetime.now(UTC)


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random secret, checked when the user does not exist (same timing)."""
    return hash_password(new_token())
