"""Which signers this site accepts packages from, and of which kinds (``trust.json``).

An entry is a key's fingerprint (with its public key and site when added from a ``keys show``
file) and the kinds it is trusted for (all kinds when none are named), like a vantage6 node's
policy of allowed stores and organizations. This site's own key is always trusted.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocais.errors import ConfigError, NotFoundError, PackageError, UntrustedPackageError
from ocais.share.signing import PublicKeyInfo

TRUST_FORMAT = "ocais-trust/1"
KINDS = ("dataset", "model", "adapter", "evaluation")
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class TrustedKey:
    fingerprint: str
    site: str | None
    public_key: str | None
    kinds: tuple[str, ...] | None  # None: every kind
    added: str

    def allows(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds

    def as_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "site": self.site,
            "public_key": self.public_key,
            "kinds": list(self.kinds) if self.kinds is not None else None,
            "added": self.added,
        }


def parse_kinds(kinds: str | None) -> tuple[str, ...] | None:
    """``"dataset,model"`` → ``("dataset", "model")``; ``None``/empty → every kind."""
    if not kinds:
        return None
    chosen = tuple(dict.fromkeys(k.strip() for k in kinds.split(",") if k.strip()))
    unknown = [k for k in chosen if k not in KINDS]
    if unknown:
        raise ConfigError(
            f"unknown package kind {', '.join(unknown)}", hint="kinds: " + ", ".join(KINDS)
        )
    return chosen or None


class TrustStore:
    """The trusted signers of this site, in one JSON file written atomically."""

    def __init__(self, path: Path, own: PublicKeyInfo | None = None) -> None:
        self.path = path
        self.own = own

    def entries(self) -> list[TrustedKey]:
        if not self.path.is_file():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the trust store {self.path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != TRUST_FORMAT:
            raise ConfigError(f"{self.path} is not an {TRUST_FORMAT} file")
        return [
            TrustedKey(
                fingerprint=e["fingerprint"],
                site=e.get("site"),
                public_key=e.get("public_key"),
                kinds=tuple(e["kinds"]) if e.get("kinds") else None,
                added=e.get("added", ""),
            )
            for e in data.get("keys", [])
        ]

    def _write(self, entries: list[TrustedKey]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"format": TRUST_FORMAT, "keys": [e.as_dict() for e in entries]}
        handle, name = tempfile.mkstemp(prefix=".trust-", dir=self.path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(body, out, indent=1)
        os.replace(name, self.path)

    def add(self, source: str, kinds: tuple[str, ...] | None) -> TrustedKey:
        """Trust a key given as a ``keys show --json`` file or a bare fingerprint (re-adding a
        key replaces its kinds)."""
        candidate = Path(source)
        if candidate.is_file():
            try:
                document = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise PackageError(f"cannot read {candidate} as JSON: {exc}") from exc
            info = PublicKeyInfo.parse(document, origin=str(candidate))
            fingerprint, site, public = info.fingerprint, info.site, info.public_key
        else:
            fingerprint = source.strip().lower().removeprefix("sha256:")
            if not _FINGERPRINT.match(fingerprint):
                raise ConfigError(
                    f"{source!r} is neither a file nor a key fingerprint (64 hex digits)",
                    hint="pass the file of `ocais --json keys show` from the other site, or its "
                    "fingerprint",
                )
            site, public = None, None
        entry = TrustedKey(
            fingerprint=fingerprint,
            site=site,
            public_key=public,
            kinds=kinds,
            added=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        kept = [e for e in self.entries() if e.fingerprint != fingerprint]
        self._write([*kept, entry])
        return entry

    def remove(self, fingerprint_or_site: str) -> list[TrustedKey]:
        """Stop trusting keys by fingerprint (or its first 8+ digits) or by site name."""
        needle = fingerprint_or_site.strip().lower().removeprefix("sha256:")
        entries = self.entries()
        gone = [
            e
            for e in entries
            if (len(needle) >= 8 and e.fingerprint.startswith(needle))
            or (e.site is not None and e.site.lower() == needle)
        ]
        if not gone:
            raise NotFoundError(
                f"no trusted key matches {fingerprint_or_site!r}", hint="see `ocais trust list`"
            )
        self._write([e for e in entries if e not in gone])
        return gone

    def check(self, fingerprint: str, kind: str, site: str | None) -> str:
        """How the signer is trusted (``"own key"``, ``"trusted"``); else
        ``UntrustedPackageError``."""
        if self.own is not None and self.own.fingerprint == fingerprint:
            return "own key"
        for entry in self.entries():
            if entry.fingerprint != fingerprint:
                continue
            if entry.allows(kind):
                return "trusted"
            raise UntrustedPackageError(
                f"the signer ({site or 'unknown site'}, {fingerprint[:16]}…) is trusted for "
                f"{', '.join(entry.kinds or ())} packages, not {kind}",
                hint=f"ocais trust add {fingerprint} --kinds "
                + ",".join([*(entry.kinds or ()), kind]),
            )
        raise UntrustedPackageError(
            f"the package is signed by a key this site does not trust ({site or 'unknown site'}, "
            f"fingerprint {fingerprint})",
            hint="if you trust that site, get its key (`ocais --json keys show` there) and run "
            "`ocais trust add KEY.json`; nothing was installed",
        )
