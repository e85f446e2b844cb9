"""Who may call the CDS Hooks service: the EHR's JWT, verified with PyJWT.

CDS Hooks 2.0: the CDS client sends ``Authorization: Bearer <JWT>`` signed with a key it
publishes as a JWKS; ``iss`` names the client, ``aud`` is the service's endpoint URL, ``exp``,
``iat`` and ``jti`` are required. Trusted issuers and where their keys are
(``OCAIS_SERVE_CDS_ISSUERS``: ``{"iss": "https://ehr/.well-known/jwks.json" or a JWKS file}``)
are configured; a token's own ``jku`` header is not followed. Without configured issuers the
service answers only when it listens on loopback (a developer's machine, a proxy on the same
host that authenticates), and ignores tokens it could not verify anyway.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import jwt

from ocais.serve.errors import ApiError
from ocais.serve.security import is_loopback

ALGORITHMS = ["RS384", "ES384", "RS256", "ES256", "RS512", "ES512", "EdDSA"]
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti"]


def _unauthorized(message: str, hint: str) -> ApiError:
    return ApiError(401, "unauthorized", message, hint=hint, headers={"WWW-Authenticate": "Bearer"})


class CdsAuthenticator:
    """Verifies CDS clients' JWTs against the configured issuers' keys."""

    def __init__(self, issuers: dict[str, str], *, host: str) -> None:
        self.issuers = dict(issuers)
        self.open = not self.issuers and is_loopback(host)
        self._clients: dict[str, jwt.PyJWKClient] = {}
        self._lock = threading.Lock()

    def check(self, authorization: str | None, audiences: list[str]) -> dict[str, Any] | None:
        """The verified claims, ``None`` on an open loopback service; 401 otherwise."""
        if not self.issuers:
            if self.open:
                return None
            raise _unauthorized(
                "this CDS service accepts no EHR yet",
                "configure the EHRs' issuers and JWKS in OCAIS_SERVE_CDS_ISSUERS (a service "
                "listening beyond loopback never answers unauthenticated CDS calls)",
            )
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized(
                "a CDS Hooks call needs the EHR's JWT", "send 'Authorization: Bearer <JWT>'"
            )
        token = token.strip()
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise _unauthorized(f"the JWT cannot be read: {exc}", "send a signed JWT") from exc
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or issuer not in self.issuers:
            raise _unauthorized(
                "the JWT's issuer is not a configured EHR",
                "add it to OCAIS_SERVE_CDS_ISSUERS with its JWKS",
            )
        try:
            key = self._key(issuer, token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=audiences,
                issuer=issuer,
                options={"require": REQUIRED_CLAIMS},
                leeway=30,
            )
        except jwt.ExpiredSignatureError as exc:
            raise _unauthorized("the JWT has expired", "the EHR must send a fresh one") from exc
        except jwt.InvalidAudienceError as exc:
            raise _unauthorized(
                "the JWT's audience is not this service's endpoint",
                "aud must be the URL the EHR calls (set OCAIS_SERVE_PUBLIC_URL behind a proxy)",
            ) from exc
        except (jwt.PyJWTError, ValueError, KeyError, OSError) as exc:
            raise _unauthorized(
                f"the JWT does not verify: {type(exc).__name__}",
                "check the EHR's signing key is in its configured JWKS",
            ) from exc
        return claims

    def _key(self, issuer: str, token: str) -> Any:
        source = self.issuers[issuer]
        if source.startswith(("http://", "https://")):
            with self._lock:
                client = self._clients.get(issuer)
                if client is None:
                    client = self._clients[issuer] = jwt.PyJWKClient(source, cache_keys=True)
            return client.get_signing_key_from_jwt(token).key
        keys = jwt.PyJWKSet.from_dict(json.loads(Path(source).read_text(encoding="utf-8")))
        kid = jwt.get_unverified_header(token).get("kid")
        matching = [k for k in keys.keys if kid is None or k.key_id == kid]
        if not matching:
            raise KeyError(f"no key {kid!r} in the issuer's JWKS")
        return matching[0].key
