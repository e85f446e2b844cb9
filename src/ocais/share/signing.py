"""Site signing keys (Ed25519) and signed statements (DSSE envelopes of in-toto statements).

A package's manifest is the predicate of an in-toto Statement v1 whose subjects are every file
of the package with its SHA-256; the statement is signed in a DSSE envelope (the signature is
over the DSSE pre-authentication encoding of the payload type and bytes, so neither can be
swapped). This is the shape Sigstore's ``model-signing`` produces, signed here with a plain
Ed25519 key offline (decision 0014 says why not that library).

Keys: the private key is a PKCS#8 PEM file readable by its owner only (0600, in a 0700
folder); the public key travels as base64 of its 32 raw bytes, its fingerprint is the SHA-256
hex digest of those bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ocais.errors import ConfigError, NotFoundError, PackageError

ALGORITHM = "ed25519"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PRIVATE_KEY_FILE = "site-ed25519.pem"
PUBLIC_KEY_FILE = "site-ed25519.json"
KEYS_HINT = "create this site's key with `ocais keys create`"


def fingerprint_of(raw_public_key: bytes) -> str:
    """SHA-256 hex digest of the 32 raw bytes of an Ed25519 public key."""
    return hashlib.sha256(raw_public_key).hexdigest()


def decode_public_key(encoded: str) -> Ed25519PublicKey:
    """A public key from base64 of its raw bytes (``PackageError`` when it is not one)."""
    try:
        raw = base64.b64decode(encoded, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError) as exc:
        raise PackageError(f"not an Ed25519 public key (base64 of 32 bytes): {exc}") from exc


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class PublicKeyInfo:
    """What a site shares of its key (``ocais keys show``); the trust store keeps the same."""

    site: str
    public_key: str
    fingerprint: str
    created: str | None = None
    algorithm: str = ALGORITHM

    def as_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "algorithm": self.algorithm,
            "public_key": self.public_key,
            "fingerprint": self.fingerprint,
            "created": self.created,
        }

    @classmethod
    def parse(cls, data: Any, *, origin: str = "the key") -> PublicKeyInfo:
        """Check a ``keys show --json`` document: the fingerprint must be the key's own."""
        if not isinstance(data, dict) or not isinstance(data.get("public_key"), str):
            raise PackageError(
                f"{origin} is not a public key document (no `public_key`)",
                hint="save the output of `ocais --json keys show` at the other site",
            )
        if data.get("algorithm", ALGORITHM) != ALGORITHM:
            raise PackageError(f"{origin}: only {ALGORITHM} keys are supported")
        raw = _raw(decode_public_key(data["public_key"]))
        fingerprint = fingerprint_of(raw)
        claimed = data.get("fingerprint")
        if claimed is not None and claimed != fingerprint:
            raise PackageError(
                f"{origin}: the fingerprint {str(claimed)[:16]}… is not that of its public key "
                f"({fingerprint[:16]}…)",
                hint="the file was altered or mixes two keys: ask the other site for it again",
            )
        site = data.get("site")
        return cls(
            site=str(site) if site else "unknown",
            public_key=data["public_key"],
            fingerprint=fingerprint,
            created=data.get("created"),
        )


class SiteKey:
    """This site's signing key, kept in ``keys_dir``."""

    def __init__(self, private_key: Ed25519PrivateKey, info: PublicKeyInfo) -> None:
        self._private = private_key
        self.info = info

    @staticmethod
    def exists(keys_dir: Path) -> bool:
        return (keys_dir / PRIVATE_KEY_FILE).is_file()

    @classmethod
    def create(cls, keys_dir: Path, site: str, *, replace: bool = False) -> SiteKey:
        """A new key, written with mode 0600 (its folder 0700). Refuses to replace one unless
        ``replace``: packages signed with the old key stop verifying where only it is trusted."""
        if cls.exists(keys_dir) and not replace:
            existing = cls.public_info(keys_dir)
            raise ConfigError(
                f"this site already has a signing key (fingerprint {existing.fingerprint})",
                hint="keep it (`ocais keys show`); --replace makes a new one, and every site "
                "that trusts the old one must trust the new one",
            )
        keys_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(keys_dir, 0o700)
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        raw = _raw(private.public_key())
        info = PublicKeyInfo(
            site=site,
            public_key=base64.b64encode(raw).decode("ascii"),
            fingerprint=fingerprint_of(raw),
            created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        target = keys_dir / PRIVATE_KEY_FILE
        staging = keys_dir / f".{PRIVATE_KEY_FILE}.new"
        descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        os.chmod(staging, 0o600)
        public_staging = keys_dir / f".{PUBLIC_KEY_FILE}.new"
        public_staging.write_text(json.dumps(info.as_dict(), indent=1), encoding="utf-8")
        os.replace(staging, target)
        os.replace(public_staging, keys_dir / PUBLIC_KEY_FILE)
        return cls(private, info)

    @classmethod
    def load(cls, keys_dir: Path) -> SiteKey:
        path = keys_dir / PRIVATE_KEY_FILE
        if not path.is_file():
            raise NotFoundError(f"this site has no signing key ({path} is missing)", hint=KEYS_HINT)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(
                f"{path} is readable by others (mode {mode:o})",
                hint=f"chmod 600 {path}",
            )
        try:
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"cannot read the signing key {path}: {exc}") from exc
        if not isinstance(private, Ed25519PrivateKey):
            raise ConfigError(f"{path} is not an {ALGORITHM} key", hint=KEYS_HINT)
        info = cls.public_info(keys_dir)
        if info.fingerprint != fingerprint_of(_raw(private.public_key())):
            raise ConfigError(
                f"{keys_dir / PUBLIC_KEY_FILE} does not describe {path}",
                hint="delete the .json file: `ocais keys show` writes it again",
            )
        return cls(private, info)

    @staticmethod
    def public_info(keys_dir: Path) -> PublicKeyInfo:
        """The public half, without reading the private key's bytes into this process more
        than needed (the public file is rewritten from the private key when missing)."""
        path = keys_dir / PUBLIC_KEY_FILE
        if path.is_file():
            try:
                return PublicKeyInfo.parse(json.loads(path.read_text(encoding="utf-8")))
            except ValueError as exc:
                raise ConfigError(f"cannot read {path}: {exc}") from exc
        private_path = keys_dir / PRIVATE_KEY_FILE
        if not private_path.is_file():
            raise NotFoundError("this site has no signing key", hint=KEYS_HINT)
        private = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ConfigError(f"{private_path} is not an {ALGORITHM} key", hint=KEYS_HINT)
        raw = _raw(private.public_key())
        info = PublicKeyInfo(
            site="unknown",
            public_key=base64.b64encode(raw).decode("ascii"),
            fingerprint=fingerprint_of(raw),
        )
        path.write_text(json.dumps(info.as_dict(), indent=1), encoding="utf-8")
        return info

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)


# --- DSSE ---------------------------------------------------------------------------------------
def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of a payload and its type."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def statement(subjects: dict[str, str], predicate_type: str, predicate: Any) -> bytes:
    """An in-toto Statement v1 (canonical JSON bytes): ``subjects`` maps name → sha256."""
    body = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": n, "digest": {"sha256": d}} for n, d in sorted(subjects.items())],
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign_envelope(payload: bytes, key: SiteKey) -> dict[str, Any]:
    """A DSSE envelope of ``payload`` signed by ``key`` (keyid: its fingerprint)."""
    signature = key.sign(pae(PAYLOAD_TYPE, payload))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [
            {"keyid": key.info.fingerprint, "sig": base64.b64encode(signature).decode("ascii")}
        ],
    }


def open_envelope(envelope: Any) -> tuple[bytes, str, bytes]:
    """Payload bytes, the signer's key id and the signature of a DSSE envelope (unverified)."""
    if not isinstance(envelope, dict):
        raise PackageError("the signature envelope is not a JSON object")
    if envelope.get("payloadType") != PAYLOAD_TYPE:
        raise PackageError(f"the envelope's payloadType is not {PAYLOAD_TYPE}")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or len(signatures) != 1:
        raise PackageError("the envelope must carry exactly one signature")
    entry = signatures[0]
    try:
        payload = base64.b64decode(str(envelope.get("payload", "")), validate=True)
        signature = base64.b64decode(str(entry.get("sig", "")), validate=True)
    except (ValueError, AttributeError) as exc:
        raise PackageError(f"the envelope is not valid base64: {exc}") from exc
    keyid = entry.get("keyid") if isinstance(entry, dict) else None
    if not isinstance(keyid, str) or not keyid:
        raise PackageError("the envelope's signature names no key (keyid)")
    return payload, keyid, signature


def verify_signature(payload: bytes, signature: bytes, public_key: str) -> None:
    """``PackageError`` unless ``signature`` is ``public_key``'s over the DSSE encoding."""
    try:
        decode_public_key(public_key).verify(signature, pae(PAYLOAD_TYPE, payload))
    except InvalidSignature as exc:
        raise PackageError(
            "the signature does not match the manifest: the package was altered after signing, "
            "or signed by another key than the one it names",
            hint="pull or ask for the package again; do not use this file",
        ) from exc
