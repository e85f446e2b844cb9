"""This site's package registry: verified packages, installed where the service reads them.

Layout under ``packages_dir``::

    NAME/VERSION/package.tar.gz   the signed file as received (served to other sites as is)
    NAME/VERSION/installed.json   the verified manifest, signer, trust, digest, where it came from
    NAME/VERSION/README.md        the card
    NAME/VERSION/payload/...      the artifact, read by ``--model NAME``

A package is verified into a staging folder beside the registry and renamed into place in one
step: an interrupted or refused install leaves nothing behind. Versions are immutable: the
same file again is a no-op, other content under the same version is refused.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocais.errors import NotFoundError, PackageConflictError, PackageError
from ocais.share.package import (
    CARD_FILE,
    PAYLOAD_DIR,
    PackageManifest,
    Verified,
    check_name,
    open_package,
    parse_ref,
    remove_tree,
    scratch_dir,
    version_key,
)
from ocais.share.trust import TrustStore

PACKAGE_FILE = "package.tar.gz"
INSTALLED_FILE = "installed.json"


@dataclass(frozen=True)
class Installed:
    """One package in the registry."""

    manifest: PackageManifest
    root: Path
    sha256: str
    size: int
    signer_site: str
    trust: str
    origin: str
    installed_at: str

    @property
    def payload(self) -> Path:
        return self.root / PAYLOAD_DIR

    @property
    def file(self) -> Path:
        return self.root / PACKAGE_FILE

    def as_dict(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "ref": m.ref,
            "name": m.name,
            "version": m.version,
            "kind": m.kind,
            "description": m.description,
            "license": m.license,
            "synthetic": m.synthetic,
            "created": m.created,
            "creator": {"site": m.creator.site, "fingerprint": m.creator.fingerprint},
            "content_sha256": m.content_sha256,
            "sha256": self.sha256,
            "size": self.size,
            "trust": self.trust,
            "origin": self.origin,
            "installed_at": self.installed_at,
        }


@dataclass
class InstallResult:
    package: Installed
    installed: bool  # False: this very file was already installed


class Registry:
    def __init__(self, root: Path, trust: TrustStore) -> None:
        self.root = root
        self.trust = trust

    # -- reading -----------------------------------------------------------------------------
    def _load(self, folder: Path) -> Installed | None:
        path = folder / INSTALLED_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            manifest = PackageManifest.model_validate(data["manifest"])
        except (OSError, ValueError, KeyError):
            return None
        return Installed(
            manifest=manifest,
            root=folder,
            sha256=data["sha256"],
            size=int(data["size"]),
            signer_site=data.get("signer_site", manifest.creator.site),
            trust=data.get("trust", ""),
            origin=data.get("origin", ""),
            installed_at=data.get("installed_at", ""),
        )

    def all(self) -> list[Installed]:
        if not self.root.is_dir():
            return []
        found = []
        for name_dir in sorted(self.root.iterdir()):
            if not name_dir.is_dir() or name_dir.name.startswith("."):
                continue
            for version_dir in name_dir.iterdir():
                loaded = self._load(version_dir)
                if loaded is not None:
                    found.append(loaded)
        found.sort(key=lambda p: (p.manifest.name, version_key(p.manifest.version)))
        return found

    def versions(self, name: str) -> list[Installed]:
        """The installed versions of ``name``, oldest first (reads that name's folder only)."""
        folder = self.root / check_name(name)
        if not folder.is_dir():
            return []
        found = [p for d in folder.iterdir() if (p := self._load(d)) is not None]
        found = [p for p in found if p.manifest.name == name]
        found.sort(key=lambda p: version_key(p.manifest.version))
        return found

    def get(self, ref: str, kind: str | None = None) -> Installed:
        """``NAME`` (its latest version) or ``NAME@VERSION``; ``NotFoundError`` otherwise."""
        name, version = parse_ref(ref)
        candidates = self.versions(name)
        if version is not None:
            candidates = [p for p in candidates if p.manifest.version == version]
        if not candidates:
            have = ", ".join(sorted({p.manifest.ref for p in self.all()})) or "none"
            raise NotFoundError(
                f"no package {ref} in this site's registry (installed: {have})",
                hint=f"pull it: `ocais package pull {ref} --from URL`, or publish a file: "
                "`ocais package publish FILE`",
            )
        chosen = candidates[-1]
        if kind is not None and chosen.manifest.kind != kind:
            raise NotFoundError(
                f"{chosen.manifest.ref} is a {chosen.manifest.kind} package, not a {kind}",
                hint=f"name a {kind} package",
            )
        return chosen

    def search(self, query: str | None = None, kind: str | None = None) -> list[Installed]:
        needle = (query or "").lower()
        return [
            p
            for p in self.all()
            if (kind is None or p.manifest.kind == kind)
            and (
                not needle
                or needle in p.manifest.name
                or needle in p.manifest.description.lower()
                or needle in p.manifest.creator.site.lower()
            )
        ]

    # -- installing --------------------------------------------------------------------------
    def install(self, file: Path, *, origin: str) -> InstallResult:
        """Verify ``file`` (trust included) and install it atomically."""
        staging = scratch_dir(self.root, ".incoming-")
        try:
            verified = open_package(file, trust=self.trust, extract_to=staging)
            manifest = verified.manifest
            target = self.root / manifest.name / manifest.version
            if not target.resolve().is_relative_to(self.root.resolve()):  # checked names: never
                raise PackageError(f"{manifest.ref} would install outside the registry")
            existing = self._load(target)
            if existing is not None:
                same = existing.sha256 == verified.sha256
                if same or existing.manifest.content_sha256 == manifest.content_sha256:
                    remove_tree(staging)
                    return InstallResult(existing, installed=False)
                raise PackageConflictError(
                    f"{manifest.ref} is already installed with other content (signed by "
                    f"{existing.manifest.creator.site}, {existing.sha256[:16]}…)",
                    hint="versions are immutable: build and publish a new version",
                )
            shutil.copyfile(file, staging / PACKAGE_FILE)
            record = _record(verified, origin)
            (staging / INSTALLED_FILE).write_text(json.dumps(record, indent=1), encoding="utf-8")
            os.chmod(staging, 0o755)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():  # a folder without installed.json: a broken earlier install
                remove_tree(target)
            os.rename(staging, target)
        except BaseException:
            remove_tree(staging)
            raise
        installed = self._load(target)
        assert installed is not None
        return InstallResult(installed, installed=True)

    def verify(self, file: Path) -> Verified:
        """Check ``file`` fully (structure, signature, trust, digests) without installing it."""
        return open_package(file, trust=self.trust, extract_to=None)

    def remove(self, ref: str) -> Installed:
        package = self.get(ref)
        remove_tree(package.root)
        parent = package.root.parent
        if parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
        return package


def _record(verified: Verified, origin: str) -> dict[str, Any]:
    return {
        "manifest": verified.manifest.model_dump(mode="json"),
        "sha256": verified.sha256,
        "size": verified.size,
        "signer_site": verified.signer.site,
        "trust": verified.trust,
        "origin": origin,
        "installed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "card": CARD_FILE,
    }


# --- lineage ------------------------------------------------------------------------------------
def lineage(registry: Registry, ref: str) -> dict[str, Any]:
    """The chain of a package: its sources (hashes), the packages it was made from (matched by
    content digest among the installed ones), and the evaluations and models made from it."""
    root = registry.get(ref)
    everything = registry.all()
    return _node(root, everything, seen=set())


def _node(package: Installed, everything: list[Installed], seen: set[str]) -> dict[str, Any]:
    m = package.manifest
    seen.add(m.ref)
    node: dict[str, Any] = {
        "ref": m.ref,
        "kind": m.kind,
        "site": m.creator.site,
        "signer": m.creator.fingerprint,
        "content_sha256": m.content_sha256,
        "synthetic": m.synthetic,
        "summary": {k: v for k, v in m.summary.items() if k != "diseases"},
        "privacy": m.privacy,
        "evaluation": m.evaluation,
        "sources": m.lineage.get("sources", []),
        "parents": [],
        "derived": [],
    }
    for source in m.lineage.get("sources", []) or []:
        digest = source.get("phenopackets_sha256") if isinstance(source, dict) else None
        for other in everything:
            if other.manifest.ref in seen or not digest:
                continue
            if other.manifest.summary.get("phenopackets_sha256") == digest:
                node["parents"].append(_node(other, everything, seen))
    for other in everything:
        if other.manifest.ref in seen:
            continue
        parents = other.manifest.lineage.get("parents") or []
        if any(p.get("content_sha256") == m.content_sha256 for p in parents if isinstance(p, dict)):
            node["derived"].append(
                {
                    "ref": other.manifest.ref,
                    "kind": other.manifest.kind,
                    "evaluation": other.manifest.evaluation,
                }
            )
    return node
