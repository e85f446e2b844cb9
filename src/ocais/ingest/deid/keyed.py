"""Keyed hashes of the site secret: the one HMAC behind date shifts and record pseudonyms.

``HMAC-SHA256(site secret, domain || message)``; the domain keeps the uses apart, so a patient's
date shift says nothing about their pseudonym. Without the secret neither can be recomputed, which
an unkeyed hash of a medical record number (a few million possible values) would allow by simply
trying them all. This is the "re-identification code not derived from information about the
individual and not otherwise translatable" of HIPAA, 45 CFR 164.514(c).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from pydantic import SecretStr

from ocais.errors import ConfigError
from ocais.ingest.deid.models import DeidConfig

_RECORD_ID_DOMAIN = b"ocais-deid/record-id/v1\x00"
PSEUDONYM_PREFIX = "h:"
PSEUDONYM_HEX_CHARS = 24  # 96 bits: no collision in any realistic number of records


def keyed_digest(secret: SecretStr | str, domain: bytes, message: str) -> bytes:
    """``HMAC-SHA256(secret, domain + message)``."""
    key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    return hmac.new(key.encode(), domain + message.encode(), hashlib.sha256).digest()


def pseudonymous_id(secret: SecretStr | str, record_id: str) -> str:
    """What a case keeps of a source record's own id: ``"h:"`` and 24 hex digits of its keyed hash.

    The same id under the same secret always gives the same pseudonym (re-importing a record
    updates its case), whatever the source format: a site's FHIR Patient and its notes with the
    same record number link up. Another secret gives another pseudonym.
    """
    digest = keyed_digest(secret, _RECORD_ID_DOMAIN, record_id)
    return PSEUDONYM_PREFIX + digest.hex()[:PSEUDONYM_HEX_CHARS]


def site_deid_config(
    config: DeidConfig | None, needed_for: str, *, installation_key: str | None = None
) -> DeidConfig:
    """``config``, else the site's settings from ``OCAIS_DEID_SECRET``, else (for record-id
    pseudonyms only) the installation's own random key kept in its store.

    There is no fallback to an unkeyed hash: anyone could recompute that from a list of record
    numbers, so a source whose ids need hiding is not read without a key. The installation key
    (``ReaderContext.installation_key``, set by ``ocais.workflows``) is as secret as the store
    that holds the pseudonyms; a site secret is still needed for notes (their date shift).

    Raises:
        ConfigError: no secret (or a weak one); the message starts with ``needed_for``.
    """
    if config is not None:
        return config
    try:
        return DeidConfig.from_env()
    except ConfigError as error:
        if installation_key is not None and not os.environ.get("OCAIS_DEID_SECRET"):
            return DeidConfig(secret=SecretStr(installation_key))
        raise ConfigError(
            f"{needed_for}: {error.message}",
            hint=error.hint,
        ) from None
