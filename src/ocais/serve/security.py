"""Secrets: API keys, password hashes, session and CSRF tokens.

Passwords are guessable, so every guess must cost memory and time: they are hashed with Argon2id
(Biryukov, Dinu and Khovratovich, "Argon2: new generation of memory-hard functions for password
hashing and other applications", EuroS&P 2016; RFC 9106) with OWASP's parameters (19 MiB,
2 passes, 1 lane; OWASP Password Storage Cheat Sheet).

API keys look like ``ocais_<prefix>_<secret>``: the 12-hex-digit prefix is stored in clear to find
the key, the secret (256 random bits) as ``HMAC-SHA256(server key, secret)``. Nobody can guess a
256-bit secret, so a slow KDF would only add CPU time to every request that checks a new key; the
HMAC's key, one random value per installation, keeps a copy of the ``api_keys`` table alone from
confirming a candidate key offline. The server key lives in the store (``server_secrets``, see
:meth:`~ocais.store.service_repo.ServiceRepository.server_secret`) rather than in a file: every
process that shares the store (the server's workers, ``ocais users`` on another host of a
PostgreSQL store) must use the same key, and a backup must restore it together with the hashes it
verifies. Keeping it apart from those hashes would only matter for guessable secrets.

Stores written before revision ``0003`` hold salted scrypt hashes (Percival, "Stronger key
derivation via sequential memory-hard functions", BSDCan 2009) for both: they still verify, and
:class:`~ocais.serve.accounts.Accounts` replaces them by the new format on the next successful
login or key use.

Session and CSRF tokens are 256-bit random values: a SHA-256 digest is enough to store them (no
guessing attack to slow down), and lets every request check a cookie with one indexed lookup.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import os
import secrets
import threading
import uuid
from dataclasses import dataclass

from argon2 import Parameters, PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

KEY_PREFIX = "ocais"
SCRYPT_SCHEME = "scrypt"
ARGON2ID_SCHEME = "$argon2id$"
HMAC_SCHEME = "hmac-sha256"

#: OWASP's Argon2id parameters: m=19456 KiB (19 MiB), t=2, p=1; 16-byte salt, 32-byte hash.
PASSWORD_PARAMETERS = Parameters(
    type=Type.ID,
    version=19,
    salt_len=16,
    hash_len=32,
    time_cost=2,
    memory_cost=19 * 1024,
    parallelism=1,
)


@dataclass(frozen=True)
class ScryptCost:
    """scrypt parameters: n (CPU/memory cost, a power of 2), r (block size), p (parallelism)."""

    n: int
    r: int = 8
    p: int = 1

    @property
    def maxmem(self) -> int:
        return 128 * self.r * self.n * 2 + 1024 * 1024


# the costs of the legacy scrypt format (keys, passwords) in stores written before revision 0003
KEY_COST = ScryptCost(n=2**14)
PASSWORD_COST = ScryptCost(n=2**15)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- legacy scrypt ---------------------------------------------------------------------------------
def scrypt_hash(secret: str, cost: ScryptCost | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` of ``secret`` with a fresh 16-byte salt (default: key cost).

    The format of stores written before revision ``0003``: nothing new is stored with it; it is
    here so that tests (and tools) can build such stores.
    """
    cost = cost or KEY_COST
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=cost.n, r=cost.r, p=cost.p, maxmem=cost.maxmem
    )
    return f"{SCRYPT_SCHEME}${cost.n}${cost.r}${cost.p}${_b64(salt)}${_b64(digest)}"


def verify_scrypt(secret: str, stored: str) -> bool:
    """Whether ``secret`` matches a :func:`scrypt_hash` string (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != SCRYPT_SCHEME:
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


# -- passwords -------------------------------------------------------------------------------------
@functools.cache
def _password_hasher() -> PasswordHasher:
    return PasswordHasher.from_parameters(PASSWORD_PARAMETERS)


def hash_password(password: str) -> str:
    """The Argon2id PHC string of ``password`` (``$argon2id$v=19$m=19456,t=2,p=1$salt$hash``)."""
    return _password_hasher().hash(password)


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches an Argon2id or legacy scrypt hash."""
    if stored.startswith(ARGON2ID_SCHEME):
        try:
            return _password_hasher().verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
    return verify_scrypt(password, stored)


def password_needs_rehash(stored: str) -> bool:
    """Whether a hash that just verified should be replaced (legacy scheme or other parameters)."""
    if not stored.startswith(ARGON2ID_SCHEME):
        return True
    try:
        return _password_hasher().check_needs_rehash(stored)
    except InvalidHashError:
        return True


# -- API keys --------------------------------------------------------------------------------------
def new_server_key() -> str:
    """A random 256-bit per-installation key for :func:`hash_api_secret`."""
    return secrets.token_urlsafe(32)


def hash_api_secret(secret: str, server_key: str) -> str:
    """``hmac-sha256$<digest>``: the HMAC-SHA256 of a key's secret under the server key."""
    mac = hmac.new(server_key.encode("utf-8"), secret.encode("utf-8"), hashlib.sha256)
    return f"{HMAC_SCHEME}${_b64(mac.digest())}"


def verify_api_secret(secret: str, stored: str, server_key: str) -> bool:
    """Whether a key's secret matches its HMAC (or legacy scrypt) hash, in constant time."""
    if stored.startswith(f"{HMAC_SCHEME}$"):
        expected = hash_api_secret(secret, server_key).encode("ascii")
        return hmac.compare_digest(expected, stored.encode("utf-8"))
    return verify_scrypt(secret, stored)


def api_hash_needs_rehash(stored: str) -> bool:
    """Whether a key hash that just verified is in the legacy scrypt format."""
    return not stored.startswith(f"{HMAC_SCHEME}$")


@dataclass(frozen=True)
class NewApiKey:
    """A freshly generated key: show ``key`` once, store ``prefix`` and ``key_hash``."""

    key: str
    prefix: str
    key_hash: str


def new_api_key(server_key: str) -> NewApiKey:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewApiKey(f"{KEY_PREFIX}_{prefix}_{secret}", prefix, hash_api_secret(secret, server_key))


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


def is_loopback(host: str) -> bool:
    """Is ``host`` (a name, an IPv4/IPv6 address, ``[::1]``) this machine only?"""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
