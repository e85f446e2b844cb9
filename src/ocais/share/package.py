"""The evidence package: one ``.tar.gz`` file with a signed manifest, a card and a payload.

Layout (schema ``ocais-package/1``, docs/packages.md)::

    ocais-package.dsse.json   DSSE envelope: an in-toto Statement v1 whose subjects are every
                              other file with its SHA-256 and whose predicate is the manifest
    README.md                 the card (Hugging Face front matter + what, from what, how checked)
    payload/...               the artifact: a released synthetic set, a learned model, an
                              adapter, an evaluation

Reading never calls ``tarfile.extract``: each member's name is checked (relative, no ``..``,
regular files only), its bytes are hashed while copied, and a package is accepted only when
the signature verifies, the signer is trusted for the kind, and the files are exactly those
listed with their digests and sizes. No pickle is packed or accepted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ocais.errors import ConfigError, PackageError
from ocais.share.signing import (
    PublicKeyInfo,
    SiteKey,
    open_envelope,
    sign_envelope,
    statement,
    verify_signature,
)
from ocais.share.trust import KINDS, TrustStore

PACKAGE_FORMAT = "ocais-package/1"
PREDICATE_TYPE = "urn:ocais:evidence-package:v1"
ENVELOPE_FILE = "ocais-package.dsse.json"
CARD_FILE = "README.md"
PAYLOAD_DIR = "payload"
MAX_ENVELOPE_BYTES = 4 * 1024 * 1024
MAX_MEMBERS = 200_000
Kind = Literal["dataset", "model", "adapter", "evaluation"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
#: file names and first bytes of Python pickles (and the zip archives torch saves them in)
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".bin", ".joblib", ".ckpt")
_PICKLE_MAGIC = tuple(bytes([0x80, protocol]) for protocol in range(2, 6))


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(
            f"package name {name!r} is not valid",
            hint="lower-case letters, digits, '.', '_' and '-', 64 at most, starting with a "
            "letter or digit (e.g. shared-dev)",
        )
    return name


def check_version(version: str) -> str:
    if not _SEMVER.match(version):
        raise ConfigError(
            f"version {version!r} is not a semantic version", hint="MAJOR.MINOR.PATCH, e.g. 1.0.0"
        )
    return version


def version_key(version: str) -> tuple[int, int, int, int, tuple[Any, ...]]:
    """Sort key of a semantic version (a pre-release sorts before its release)."""
    match = _SEMVER.match(version)
    if match is None:
        return (-1, 0, 0, 0, ())
    major, minor, patch, pre = int(match[1]), int(match[2]), int(match[3]), match[4]
    if pre is None:
        return (major, minor, patch, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (major, minor, patch, 0, parts)


def parse_ref(ref: str) -> tuple[str, str | None]:
    """``NAME[@VERSION]`` → (name, version or None)."""
    name, _, version = ref.partition("@")
    check_name(name)
    if version:
        check_version(version)
    return name, version or None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_digest(entries: Iterable[tuple[str, str]]) -> str:
    """SHA-256 over sorted (relative path, file sha256) pairs: the identity of a payload."""
    digest = hashlib.sha256()
    for path, sha in sorted(entries):
        digest.update(path.encode() + b"\0" + bytes.fromhex(sha))
    return digest.hexdigest()


def is_pickle(name: str, head: bytes) -> bool:
    """A pickle by its name or its first bytes (``torch.save`` zips hold ``data.pkl``)."""
    lowered = name.lower()
    if lowered.endswith(PICKLE_SUFFIXES):
        return True
    if head[:2] in _PICKLE_MAGIC:
        return True
    return head[:4] == b"PK\x03\x04" and b"data.pkl" in head


# --- the manifest -------------------------------------------------------------------------------
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FileEntry(_Model):
    path: str
    sha256: str
    size: int = Field(ge=0)


class Creator(_Model):
    site: str
    fingerprint: str
    public_key: str
    software: str


class PackageManifest(_Model):
    """The signed description of a package (the statement's predicate)."""

    format: Literal["ocais-package/1"] = "ocais-package/1"
    kind: Kind
    name: str
    version: str
    license: str
    description: str = ""
    created: str
    creator: Creator
    synthetic: bool = Field(description="The payload holds or was made from synthetic patients")
    intended_use: str
    files: list[FileEntry] = Field(description="Every file but the envelope, with digests")
    content_sha256: str = Field(description="Identity of the payload (paths and digests)")
    card: str = CARD_FILE
    summary: dict[str, Any] = Field(default_factory=dict)
    lineage: dict[str, Any] = Field(default_factory=dict)
    privacy: dict[str, Any] | None = None
    evaluation: dict[str, Any] | None = None
    knowledge: dict[str, Any] | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass
class Payload:
    """What a kind contributes: the files (relative path → a file on disk, or bytes written in
    its place) and the manifest sections."""

    files: dict[str, Path | bytes]
    synthetic: bool
    intended_use: str
    summary: dict[str, Any] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)
    privacy: dict[str, Any] | None = None
    evaluation: dict[str, Any] | None = None
    knowledge: dict[str, Any] | None = None


@dataclass
class Built:
    path: Path
    manifest: PackageManifest
    sha256: str
    size: int


def _bytes_of(source: Path | bytes) -> bytes:
    return source if isinstance(source, bytes) else source.read_bytes()


def _check_no_pickle(files: dict[str, Path | bytes]) -> None:
    for name, source in files.items():
        if isinstance(source, bytes):
            head = source[:4096]
        else:
            with source.open("rb") as handle:
                head = handle.read(4096)
        if is_pickle(name, head):
            raise PackageError(
                f"{name} is (or may hold) a Python pickle: packages carry no pickle, which runs "
                "code when loaded",
                hint="save tensors as safetensors, arrays as .npz without objects, data as JSON",
            )


def build(
    kind: str,
    payload: Payload,
    *,
    name: str,
    version: str,
    license: str,
    description: str,
    key: SiteKey,
    software: str,
    card: str,
    out: Path,
) -> Built:
    """Sign ``payload`` and write the package file ``out`` (atomically)."""
    if kind not in KINDS:
        raise ConfigError(f"unknown package kind {kind!r}", hint="kinds: " + ", ".join(KINDS))
    check_name(name)
    check_version(version)
    if not payload.files:
        raise PackageError(f"the {kind} holds no file to package")
    _check_no_pickle(payload.files)
    entries: list[FileEntry] = []
    relative: list[tuple[str, str]] = []
    for rel, source in sorted(payload.files.items()):
        data = _bytes_of(source)
        sha = hashlib.sha256(data).hexdigest()
        entries.append(FileEntry(path=f"{PAYLOAD_DIR}/{rel}", sha256=sha, size=len(data)))
        relative.append((rel, sha))
    card_bytes = card.encode("utf-8")
    entries.append(
        FileEntry(
            path=CARD_FILE, sha256=hashlib.sha256(card_bytes).hexdigest(), size=len(card_bytes)
        )
    )
    manifest = PackageManifest(
        kind=kind,
        name=name,
        version=version,
        license=license,
        description=description,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        creator=Creator(
            site=key.info.site,
            fingerprint=key.info.fingerprint,
            public_key=key.info.public_key,
            software=software,
        ),
        synthetic=payload.synthetic,
        intended_use=payload.intended_use,
        files=entries,
        content_sha256=content_digest(relative),
        summary=payload.summary,
        lineage=payload.lineage,
        privacy=payload.privacy,
        evaluation=payload.evaluation,
        knowledge=payload.knowledge,
    )
    body = statement(
        {e.path: e.sha256 for e in entries}, PREDICATE_TYPE, manifest.model_dump(mode="json")
    )
    envelope = json.dumps(sign_envelope(body, key), indent=1).encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(handle)
    mtime = int(dt.datetime.fromisoformat(manifest.created).timestamp())
    try:
        with tarfile.open(staging, "w:gz", format=tarfile.PAX_FORMAT) as tar:
            _add(tar, ENVELOPE_FILE, envelope, mtime)
            _add(tar, CARD_FILE, card_bytes, mtime)
            for rel, source in sorted(payload.files.items()):
                _add(tar, f"{PAYLOAD_DIR}/{rel}", _bytes_of(source), mtime)
        os.chmod(staging, 0o644)
        os.replace(staging, out)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return Built(out, manifest, sha256_file(out), out.stat().st_size)


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = mtime
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


# --- reading and verifying --------------------------------------------------------------------
@dataclass
class Verified:
    """A package whose signature, signer and files were checked."""

    manifest: PackageManifest
    signer: PublicKeyInfo
    trust: str | None  # "own key", "trusted"; None when trust was not checked
    sha256: str
    size: int
    card: str
    root: Path | None = None  # where its files were extracted (``payload/``, README.md)

    @property
    def payload(self) -> Path:
        if self.root is None:
            raise RuntimeError("the package was verified without extracting it")
        return self.root / PAYLOAD_DIR


def _safe_name(name: str) -> str:
    path = PurePosixPath(name)
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or any(part in ("", ".", "..") for part in name.split("/"))
        or path.is_absolute()
    ):
        raise PackageError(f"the package holds a file with an unsafe name: {name!r}")
    return name


def read_manifest(envelope: Any) -> tuple[PackageManifest, PublicKeyInfo, bytes, bytes]:
    """The manifest and signer named by an envelope (signature not yet checked)."""
    payload, keyid, signature = open_envelope(envelope)
    try:
        body = json.loads(payload)
    except ValueError as exc:
        raise PackageError(f"the signed statement is not JSON: {exc}") from exc
    if not isinstance(body, dict) or body.get("predicateType") != PREDICATE_TYPE:
        raise PackageError(f"the signed statement is not an {PACKAGE_FORMAT} manifest")
    try:
        manifest = PackageManifest.model_validate(body.get("predicate"))
    except ValidationError as exc:
        raise PackageError(
            f"the manifest does not follow {PACKAGE_FORMAT}: {exc.errors()[0]['msg']} at "
            + ".".join(str(p) for p in exc.errors()[0]["loc"]),
            hint="a newer OCAIS may have written it: upgrade, or ask for an older format",
        ) from exc
    try:  # the name and version become folder names where it is installed
        check_name(manifest.name)
        check_version(manifest.version)
    except ConfigError as exc:
        raise PackageError(f"the manifest's {exc.message}") from exc
    subjects = {
        s.get("name"): (s.get("digest") or {}).get("sha256")
        for s in body.get("subject", [])
        if isinstance(s, dict)
    }
    if subjects != {f.path: f.sha256 for f in manifest.files}:
        raise PackageError("the statement's subjects and the manifest's files disagree")
    signer = PublicKeyInfo.parse(
        {"public_key": manifest.creator.public_key, "site": manifest.creator.site},
        origin="the package's signer",
    )
    if keyid != signer.fingerprint or manifest.creator.fingerprint != signer.fingerprint:
        raise PackageError(
            "the signature's key id is not the fingerprint of the key the manifest names"
        )
    return manifest, signer, payload, signature


def open_package(
    path: Path,
    *,
    trust: TrustStore | None,
    extract_to: Path | None = None,
) -> Verified:
    """Check a package file: structure, signature, trust (unless ``trust`` is None), and every
    file's size and SHA-256 (extracting them into ``extract_to`` when given, else hashing in
    memory). Raises ``PackageError`` / ``UntrustedPackageError`` with the reason."""
    if not path.is_file():
        raise PackageError(f"{path} is not a file")
    package_sha = sha256_file(path)
    try:
        tar = tarfile.open(path, "r:*")  # noqa: SIM115 - closed by the `with tar` below
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise PackageError(f"{path} is not a package (a .tar.gz file): {exc}") from exc
    with tar:
        try:
            members = tar.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise PackageError(f"{path} is truncated or corrupt: {exc}") from exc
        if len(members) > MAX_MEMBERS:
            raise PackageError(f"{path} holds {len(members):,} files (at most {MAX_MEMBERS:,})")
        by_name: dict[str, tarfile.TarInfo] = {}
        for member in members:
            if member.isdir():
                continue
            name = _safe_name(member.name)
            if not member.isfile():
                raise PackageError(f"{name} is not a regular file (links are not allowed)")
            if name in by_name:
                raise PackageError(f"{name} appears twice in the package")
            by_name[name] = member
        envelope_member = by_name.pop(ENVELOPE_FILE, None)
        if envelope_member is None:
            raise PackageError(f"{path} has no signature ({ENVELOPE_FILE} is missing)")
        if envelope_member.size > MAX_ENVELOPE_BYTES:
            raise PackageError(f"{ENVELOPE_FILE} is larger than {MAX_ENVELOPE_BYTES:,} bytes")
        try:
            envelope = json.loads(_read(tar, envelope_member))
        except ValueError as exc:
            raise PackageError(f"{ENVELOPE_FILE} is not JSON: {exc}") from exc
        manifest, signer, body, signature = read_manifest(envelope)
        verify_signature(body, signature, signer.public_key)
        how = trust.check(signer.fingerprint, manifest.kind, signer.site) if trust else None
        listed = {f.path: f for f in manifest.files}
        missing = sorted(set(listed) - set(by_name))
        if missing:
            raise PackageError(
                f"the manifest lists {len(missing)} file(s) the package lacks: "
                + ", ".join(missing[:5]),
                hint="the file is incomplete: download it again",
            )
        extra = sorted(set(by_name) - set(listed))
        if extra:
            raise PackageError(
                "the package holds files its manifest does not list: " + ", ".join(extra[:5])
            )
        card = ""
        for name, entry in sorted(listed.items()):
            member = by_name[name]
            if member.size != entry.size:
                raise PackageError(
                    f"{name}: {member.size:,} bytes where the manifest says {entry.size:,}"
                )
            target = extract_to / name if extract_to is not None else None
            sha, head = _copy_hashing(tar, member, target)
            if sha != entry.sha256:
                raise PackageError(
                    f"{name} was altered: its SHA-256 is {sha[:16]}…, the signed manifest says "
                    f"{entry.sha256[:16]}…",
                    hint="do not use this file; pull or ask for the package again",
                )
            if name.startswith(f"{PAYLOAD_DIR}/") and is_pickle(name, head):
                raise PackageError(f"{name} is a Python pickle: refused")
            if name == CARD_FILE:
                card = _read(tar, member).decode("utf-8", errors="replace")
    return Verified(
        manifest=manifest,
        signer=signer,
        trust=how,
        sha256=package_sha,
        size=path.stat().st_size,
        card=card,
        root=extract_to,
    )


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    if handle is None:  # pragma: no cover - regular files always have one
        raise PackageError(f"cannot read {member.name}")
    return handle.read()


def _copy_hashing(
    tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path | None
) -> tuple[str, bytes]:
    handle = tar.extractfile(member)
    if handle is None:  # pragma: no cover
        raise PackageError(f"cannot read {member.name}")
    digest = hashlib.sha256()
    head = b""
    out = None
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        out = target.open("wb")
    try:
        for block in iter(lambda: handle.read(1 << 20), b""):
            if not head:
                head = block[:4096]
            digest.update(block)
            if out is not None:
                out.write(block)
    finally:
        if out is not None:
            out.close()
    return digest.hexdigest(), head


def scratch_dir(parent: Path, prefix: str) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
