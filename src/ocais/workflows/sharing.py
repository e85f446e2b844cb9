"""Use cases of evidence packages: the site key, trust, build, verify, publish, pull, push,
list, lineage, and resolving ``NAME[@VERSION]`` to an installed artifact. Shells (CLI, API)
call these; access rules of the API (who may upload) are applied by its routes' roles."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocais import __version__
from ocais.config import Settings
from ocais.errors import ConfigError, NotFoundError, PackageError
from ocais.share import kinds as package_kinds
from ocais.share.client import Progress, download, upload
from ocais.share.package import Built, Verified, build, open_package, parse_ref
from ocais.share.registry import Installed, InstallResult, Registry, lineage
from ocais.share.signing import PublicKeyInfo, SiteKey
from ocais.share.trust import TrustedKey, TrustStore
from ocais.workflows.services import Services

DEFAULT_LICENSE = "CC-BY-4.0"
#: what makes each kind's folder, for messages
MAKES = {
    "model": "the folder of `ocais learn fit`",
    "dataset": "a folder of phenopackets (e.g. `ocais synth release`)",
    "adapter": "the adapter folder of `ocais finetune run`",
    "evaluation": "the --out folder of `ocais benchmark`",
}


# --- key and trust --------------------------------------------------------------------------
def create_site_key(
    services: Services, *, site: str | None = None, replace: bool = False
) -> PublicKeyInfo:
    key = SiteKey.create(
        services.settings.resolved_keys_dir, site or services.settings.site, replace=replace
    )
    return key.info


def site_key_info(services: Services) -> PublicKeyInfo:
    return SiteKey.public_info(services.settings.resolved_keys_dir)


def trust_store(services: Services) -> TrustStore:
    return _trust(services.settings)


def _trust(settings: Settings) -> TrustStore:
    keys = settings.resolved_keys_dir
    own = SiteKey.public_info(keys) if SiteKey.exists(keys) else None
    return TrustStore(settings.resolved_trust_file, own=own)


def add_trust(services: Services, source: str, kinds: tuple[str, ...] | None) -> TrustedKey:
    return trust_store(services).add(source, kinds)


def list_trust(services: Services) -> list[TrustedKey]:
    return trust_store(services).entries()


def remove_trust(services: Services, key: str) -> list[TrustedKey]:
    return trust_store(services).remove(key)


def registry(services: Services) -> Registry:
    return registry_of(services.settings)


def registry_of(settings: Settings) -> Registry:
    return Registry(settings.resolved_packages_dir, _trust(settings))


# --- build, verify, inspect -----------------------------------------------------------------
def build_package(
    services: Services,
    kind: str,
    source: Path,
    *,
    name: str,
    version: str,
    out: Path,
    license: str = DEFAULT_LICENSE,
    description: str = "",
    evaluation_dir: Path | None = None,
) -> Built:
    """Check ``source`` for its kind (the privacy gate for datasets, synthetic-only training
    for models), link it to installed packages it was made from, sign it with this site's key
    and write ``out``."""
    key = SiteKey.load(services.settings.resolved_keys_dir)
    payload = package_kinds.payload_for(kind, source, evaluation_dir=evaluation_dir)
    payload.lineage["parents"] = _parents(registry(services), kind, source, payload.lineage)
    card = package_kinds.render_card(
        kind,
        payload,
        name=name,
        version=version,
        license=license,
        description=description,
        site=key.info.site,
        fingerprint=key.info.fingerprint,
    )
    if out.is_dir():
        out = out / f"{name}-{version}.tar.gz"
    return build(
        kind,
        payload,
        name=name,
        version=version,
        license=license,
        description=description,
        key=key,
        software=f"ocais {__version__}",
        card=card,
        out=out,
    )


def _parents(
    reg: Registry, kind: str, source: Path, lineage_: dict[str, Any]
) -> list[dict[str, Any]]:
    """Installed packages this artifact was made from: the dataset a model was fitted on
    (same phenopackets digest), the model an evaluation measured (its payload folder)."""
    installed = reg.all()
    parents: list[dict[str, Any]] = []

    def add(package: Installed) -> None:
        m = package.manifest
        entry = {
            "name": m.name,
            "version": m.version,
            "kind": m.kind,
            "content_sha256": m.content_sha256,
            "site": m.creator.site,
        }
        if entry not in parents:
            parents.append(entry)

    for entry in lineage_.get("sources") or []:
        digest = entry.get("phenopackets_sha256") if isinstance(entry, dict) else None
        for package in installed:
            if digest and package.manifest.summary.get("phenopackets_sha256") == digest:
                add(package)
    if kind == "evaluation":
        import json

        metrics = json.loads((source / "metrics.json").read_text(encoding="utf-8"))
        for result in (metrics.get("predictors") or {}).values():
            model_dir = (result.get("options") or {}).get("model_dir")
            if not model_dir:
                continue
            for package in installed:
                if Path(str(model_dir)).resolve() == package.payload.resolve():
                    add(package)
    return parents


def verify_package(services: Services, file: Path) -> Verified:
    """Checksums, signature and trust of a package file; nothing is installed."""
    return registry(services).verify(file)


@dataclass
class Inspected:
    package: Verified
    trusted: str | None  # how it is trusted, or None
    trust_problem: str | None


def inspect_package(services: Services, file: Path) -> Inspected:
    """A package's manifest and card, its signature checked; whether this site trusts it is
    reported rather than required."""
    verified = open_package(file, trust=None, extract_to=None)
    try:
        how = trust_store(services).check(
            verified.signer.fingerprint, verified.manifest.kind, verified.signer.site
        )
        return Inspected(verified, how, None)
    except PackageError as exc:
        return Inspected(verified, None, exc.message)


# --- the registry ---------------------------------------------------------------------------
def publish_package(services: Services, file: Path, *, origin: str = "published") -> InstallResult:
    """Verify ``file`` and install it into this site's registry (served to other sites)."""
    return registry(services).install(file, origin=origin)


def pull_package(
    services: Services,
    ref: str,
    url: str,
    *,
    api_key: str | None = None,
    progress: Progress | None = None,
) -> InstallResult:
    """Download ``NAME[@VERSION]`` from another site's registry, verify it against this site's
    trust, and install it; a refusal or a broken download installs nothing."""
    name, version = parse_ref(ref)
    reg = registry(services)
    key = api_key or registry_api_key(services)
    file, _ = download(url, name, version, reg.root, api_key=key, progress=progress)
    try:
        return reg.install(file, origin=url)
    finally:
        file.unlink(missing_ok=True)


def push_package(
    services: Services, file: Path, url: str, *, api_key: str | None = None
) -> dict[str, Any]:
    """Upload a package to another site's registry (after checking it here)."""
    open_package(file, trust=None, extract_to=None)
    return upload(url, file, api_key=api_key or registry_api_key(services))


def registry_api_key(services: Services) -> str | None:
    import os

    return os.environ.get(services.settings.registry_api_key_env) or None


def list_packages(
    services: Services, query: str | None = None, kind: str | None = None
) -> list[Installed]:
    return registry(services).search(query, kind)


def package_versions(services: Services, name: str) -> list[Installed]:
    return registry(services).versions(name)


def get_package(services: Services, ref: str) -> Installed:
    return registry(services).get(ref)


def package_lineage(services: Services, ref: str) -> dict[str, Any]:
    return lineage(registry(services), ref)


def remove_package(services: Services, ref: str) -> Installed:
    return registry(services).remove(ref)


# --- using installed packages ---------------------------------------------------------------
def resolve_artifact(
    services: Services | Settings, ref: str | Path, kind: str
) -> tuple[Path, Installed | None]:
    """A folder given directly, or an installed package's payload by ``NAME[@VERSION]``."""
    settings = services if isinstance(services, Settings) else services.settings
    path = Path(ref).expanduser()
    if path.is_dir():
        return path, None
    text = str(ref)
    try:
        parse_ref(text)
    except ConfigError:
        raise ConfigError(
            f"{text} does not exist (and is not a package name either)",
            hint=f"pass {MAKES[kind]}, or NAME[@VERSION] of a {kind} package in this site's "
            "registry (`ocais package pull`)",
        ) from None
    try:
        package = registry_of(settings).get(text, kind=kind)
    except NotFoundError as exc:
        raise NotFoundError(
            f"{text} is neither a folder nor an installed {kind} package ({exc.message})",
            hint=exc.hint,
        ) from exc
    return package.payload, package


def package_reference(package: Installed | None) -> dict[str, Any] | None:
    """What a result records about the package it used."""
    if package is None:
        return None
    m = package.manifest
    return {
        "name": m.name,
        "version": m.version,
        "kind": m.kind,
        "content_sha256": m.content_sha256,
        "site": m.creator.site,
        "signer": m.creator.fingerprint,
    }


__all__ = [
    "add_trust",
    "build_package",
    "create_site_key",
    "inspect_package",
    "list_packages",
    "list_trust",
    "package_lineage",
    "publish_package",
    "pull_package",
    "push_package",
    "remove_trust",
    "resolve_artifact",
    "site_key_info",
    "verify_package",
]
