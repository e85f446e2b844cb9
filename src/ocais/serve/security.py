"""Secrets: API keys, password hashes, session and CSRF tokens.

API keys look like ``ocais_<prefix>_<secret>``: the 12-hex-digit prefix is stored in clear to find
the key, the secret only as a salted scrypt hash (Percival, "Stronger key derivation via
sequential memory-hard functions", BSDCan 2009). Passwords use scrypt with a higher cost. Session
and CSRF tokens are 256-bit random values: a SHA-256 digest is enough to store them (no guessing
attack to slow down), and lets every request check a cookie with one indexed lookup.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import uuid
from dataclasses import dataclass

KEY_PREFIX = "ocais"


@dataclass(frozen=True)
class ScryptCost:
    """scrypt parameters: n (CPU/memory cost, a power of 2), r (block size), p (parallelism)."""

    n: int
    r: int = 8
    p: int = 1

    @property
    def maxmem(self) -> int:
        return 128 * self.r * self.n * 2 + 1024 * 1024


KEY_COST = ScryptCost(n=2**14)  # ~16 MiB; verified once per worker per auth_cache_seconds
PASSWORD_COST = ScryptCost(n=2**15)  # ~32 MiB; only at login


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str, cost: ScryptCost | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` of ``secret`` with a fresh 16-byte salt (default: key cost)."""
    cost = cost or KEY_COST
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=cost.n, r=cost.r, p=cost.p, maxmem=cost.maxmem
    )
    return f"scrypt${cost.n}${cost.r}${cost.p}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    """Whether ``secret`` matches a :func:`hash_secret` string (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        cost = ScryptCost(n=int(n), r=int(r), p=int(p))
        expected = _unb64(digest)
        actual = hashlib.scrypt(
            secret.encode("utf-8"),
            salt=_unb64(salt),
            n=cost.n,
            r=cost.r,
            p=cost.p,
            maxmem=cost.maxmem,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def hash_password(password: str) -> str:
    return hash_secret(password, PASSWORD_COST)


@dataclass(frozen=True)
class NewApiKey:
    """A freshly generated key: show ``key`` once, store ``prefix`` and ``key_hash``."""

    key: str
    prefix: str
    key_hash: str


def new_api_key() -> NewApiKey:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewApiKey(f"{KEY_PREFIX}_{prefix}_{secret}", prefix, hash_secret(secret))


def split_api_key(key: str) -> tuple[str, str] | None:
    """``(prefix, secret)`` of a well-formed key, else ``None``."""
    parts = key.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    prefix, secret = parts[1], parts[2]
    if len(prefix) != 12 or not all(c in "0123456789abcdef" for c in prefix) or not secret:
        return None
    return prefix, secret


def new_token() -> str:
    """A random 256-bit URL-safe token (sessions, CSRF, one-time passwords)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """SHA-256 hex digest of a token: what the store keeps and lookups use."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_token(token: str, digest: str) -> bool:
    return hmac.compare_digest(token_digest(token), digest)


class _RandomPool:
    """Bytes from ``os.urandom``, fetched 4 KiB at a time.

    Every request needs fresh random ids; ``os.urandom`` releases the GIL for its system call, and
    with the writer thread waiting for it that costs a thread switch each time. A forked child
    starts with an empty pool (it must not repeat its parent's bytes).
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._buffer = b""
        self._offset = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._buffer, self._offset = b"", 0

    def take(self, n: int) -> bytes:
        with self._lock:
            if self._offset + n > len(self._buffer):
                self._buffer, self._offset = os.urandom(max(self.size, n)), 0
            start = self._offset
            self._offset += n
            return self._buffer[start : self._offset]


_POOL = _RandomPool()


def random_uuid() -> uuid.UUID:
    """A random (version 4) UUID, like ``uuid.uuid4()``, from pooled OS randomness."""
    return uuid.UUID(bytes=_POOL.take(16), version=4)
