"""Evidence packages: the site key, trust, building, verifying and installing signed
``.tar.gz`` files (no knowledge base: payloads are built directly)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from ocais.errors import (
    ConfigError,
    NotFoundError,
    PackageConflictError,
    PackageError,
    UntrustedPackageError,
)
from ocais.share import package as package_module
from ocais.share.package import (
    CARD_FILE,
    ENVELOPE_FILE,
    PAYLOAD_DIR,
    Built,
    Payload,
    build,
    check_name,
    check_version,
    is_pickle,
    open_package,
    parse_ref,
    version_key,
)
from ocais.share.registry import Registry, lineage
from ocais.share.signing import (
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    PublicKeyInfo,
    SiteKey,
    open_envelope,
    pae,
    sign_envelope,
    verify_signature,
)
from ocais.share.trust import TrustStore, parse_kinds

CARD = "# card\n\nA test package.\n"
Member = tuple[tarfile.TarInfo, bytes]


# --- helpers ------------------------------------------------------------------------------------
def make_key(tmp_path: Path, site: str = "site-a") -> SiteKey:
    return SiteKey.create(tmp_path / f"keys-{site}", site)


def make_payload(tmp_path: Path, text: str = "hello") -> Payload:
    """Two files: one given as bytes, one as a file on disk (in a subfolder)."""
    source = tmp_path / f"source-{hashlib.sha256(text.encode()).hexdigest()[:8]}.txt"
    source.write_text(f"from disk: {text}\n", encoding="utf-8")
    return Payload(
        files={"a.json": json.dumps({"text": text}).encode(), "sub/b.txt": source},
        synthetic=True,
        intended_use="x",
    )


def make_package(
    tmp_path: Path,
    key: SiteKey,
    *,
    kind: str = "model",
    name: str = "demo",
    version: str = "1.0.0",
    payload: Payload | None = None,
    text: str = "hello",
    description: str = "",
    out: Path | None = None,
) -> Built:
    return build(
        kind,
        payload if payload is not None else make_payload(tmp_path, text),
        name=name,
        version=version,
        license="CC-BY-4.0",
        description=description,
        key=key,
        software="ocais test",
        card=CARD,
        out=out if out is not None else tmp_path / f"{name}-{version}-{text}.tar.gz",
    )


def read_members(path: Path) -> list[Member]:
    with tarfile.open(path, "r:gz") as tar:
        members = []
        for info in tar.getmembers():
            handle = tar.extractfile(info) if info.isfile() else None
            members.append((info, handle.read() if handle is not None else b""))
        return members


def write_members(path: Path, members: list[Member]) -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            if info.isfile():
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def rewrite(source: Path, target: Path, change: Callable[[list[Member]], list[Member]]) -> Path:
    """A copy of the package ``source`` with its members changed by ``change``."""
    return write_members(target, change(read_members(source)))


def file_member(name: str, data: bytes) -> Member:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    return info, data


def own_trust(tmp_path: Path, key: SiteKey) -> TrustStore:
    return TrustStore(tmp_path / "trust.json", own=key.info)


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def assert_nothing_installed(registry: Registry, name: str = "demo") -> None:
    assert not (registry.root / name).exists()
    assert list(registry.root.glob(".incoming-*")) == []
    assert registry.all() == []


@pytest.fixture
def key(tmp_path: Path) -> SiteKey:
    return make_key(tmp_path)


@pytest.fixture
def built(tmp_path: Path, key: SiteKey) -> Built:
    return make_package(tmp_path, key)


@pytest.fixture
def registry(tmp_path: Path, key: SiteKey) -> Registry:
    return Registry(tmp_path / "registry", own_trust(tmp_path, key))


# --- the site key -------------------------------------------------------------------------------
def test_the_private_key_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    key = make_key(tmp_path)
    keys = tmp_path / "keys-site-a"
    assert stat.S_IMODE((keys / PRIVATE_KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert not any(p.name.endswith(".new") for p in keys.iterdir())
    assert SiteKey.load(keys).info.fingerprint == key.info.fingerprint
    assert key.info.site == "site-a"


def test_a_second_key_is_refused_unless_replacing(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    first = SiteKey.create(keys, "site-a")
    with pytest.raises(ConfigError, match=first.info.fingerprint):
        SiteKey.create(keys, "site-a")
    assert SiteKey.load(keys).info.fingerprint == first.info.fingerprint
    second = SiteKey.create(keys, "site-a", replace=True)
    assert second.info.fingerprint != first.info.fingerprint
    assert SiteKey.load(keys).info.fingerprint == second.info.fingerprint
    assert SiteKey.public_info(keys).fingerprint == second.info.fingerprint


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    SiteKey.create(keys, "site-a")
    os.chmod(keys / PRIVATE_KEY_FILE, 0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        SiteKey.load(keys)
    os.chmod(keys / PRIVATE_KEY_FILE, 0o600)
    SiteKey.load(keys)


def test_a_missing_key_is_not_found(tmp_path: Path) -> None:
    assert not SiteKey.exists(tmp_path / "none")
    with pytest.raises(NotFoundError):
        SiteKey.load(tmp_path / "none")
    with pytest.raises(NotFoundError):
        SiteKey.public_info(tmp_path / "none")


def test_the_fingerprint_is_the_sha256_of_the_raw_public_key(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    key = SiteKey.create(keys, "site-a")
    info = SiteKey.public_info(keys)
    raw = base64.b64decode(info.public_key)
    assert len(raw) == 32
    assert info.fingerprint == hashlib.sha256(raw).hexdigest() == key.info.fingerprint
    # the public file is rewritten from the private key when it is missing
    (keys / PUBLIC_KEY_FILE).unlink()
    assert SiteKey.public_info(keys).fingerprint == key.info.fingerprint
    assert (keys / PUBLIC_KEY_FILE).is_file()


def test_a_public_key_document_must_carry_its_own_fingerprint(tmp_path: Path) -> None:
    a, b = make_key(tmp_path, "site-a"), make_key(tmp_path, "site-b")
    good = PublicKeyInfo.parse(a.info.as_dict())
    assert good.fingerprint == a.info.fingerprint and good.site == "site-a"
    mixed = {**a.info.as_dict(), "fingerprint": b.info.fingerprint}
    with pytest.raises(PackageError, match="fingerprint"):
        PublicKeyInfo.parse(mixed)
    with pytest.raises(PackageError, match="public_key"):
        PublicKeyInfo.parse({"site": "x"})
    with pytest.raises(PackageError, match="Ed25519"):
        PublicKeyInfo.parse({"public_key": base64.b64encode(b"short").decode()})
    with pytest.raises(PackageError, match="ed25519"):
        PublicKeyInfo.parse({**a.info.as_dict(), "algorithm": "rsa"})


def test_dsse_envelopes(tmp_path: Path) -> None:
    assert pae("a/b", b"xyz") == b"DSSEv1 3 a/b 3 xyz"
    a, b = make_key(tmp_path, "site-a"), make_key(tmp_path, "site-b")
    envelope = sign_envelope(b'{"x": 1}', a)
    payload, keyid, signature = open_envelope(envelope)
    assert payload == b'{"x": 1}' and keyid == a.info.fingerprint
    verify_signature(payload, signature, a.info.public_key)
    with pytest.raises(PackageError, match="signature does not match"):
        verify_signature(payload, signature, b.info.public_key)
    with pytest.raises(PackageError, match="signature does not match"):
        verify_signature(b'{"x": 2}', signature, a.info.public_key)
    with pytest.raises(PackageError, match="exactly one signature"):
        open_envelope({**envelope, "signatures": []})
    with pytest.raises(PackageError, match="payloadType"):
        open_envelope({**envelope, "payloadType": "text/plain"})


# --- trust --------------------------------------------------------------------------------------
def test_parse_kinds() -> None:
    assert parse_kinds(None) is None and parse_kinds("") is None
    assert parse_kinds("dataset, model,dataset") == ("dataset", "model")
    with pytest.raises(ConfigError, match="unknown package kind"):
        parse_kinds("dataset,weights")


def test_the_trust_store(tmp_path: Path) -> None:
    a, b = make_key(tmp_path, "site-a"), make_key(tmp_path, "site-b")
    store = TrustStore(tmp_path / "trust.json", own=a.info)
    assert store.entries() == []
    assert store.check(a.info.fingerprint, "model", "site-a") == "own key"
    with pytest.raises(UntrustedPackageError, match="does not trust"):
        store.check(b.info.fingerprint, "model", "site-b")
    key_file = tmp_path / "b.json"
    key_file.write_text(json.dumps(b.info.as_dict()), encoding="utf-8")
    entry = store.add(str(key_file), ("dataset",))
    assert (entry.fingerprint, entry.site, entry.kinds) == (
        b.info.fingerprint,
        "site-b",
        ("dataset",),
    )
    assert store.check(b.info.fingerprint, "dataset", "site-b") == "trusted"
    with pytest.raises(UntrustedPackageError, match="not model"):
        store.check(b.info.fingerprint, "model", "site-b")
    store.add("sha256:" + b.info.fingerprint.upper(), None)  # re-adding replaces its kinds
    assert [(e.fingerprint, e.kinds) for e in store.entries()] == [(b.info.fingerprint, None)]
    assert store.check(b.info.fingerprint, "model", "site-b") == "trusted"
    with pytest.raises(ConfigError, match="neither a file nor a key fingerprint"):
        store.add("not-a-key", None)
    with pytest.raises(NotFoundError):
        store.remove("nobody")
    assert [e.fingerprint for e in store.remove(b.info.fingerprint[:8])] == [b.info.fingerprint]
    assert store.entries() == []
    assert list(tmp_path.glob(".trust-*")) == []


# --- build and open -----------------------------------------------------------------------------
def test_a_package_round_trips(tmp_path: Path, key: SiteKey) -> None:
    payload = make_payload(tmp_path)
    built = make_package(tmp_path, key, payload=payload, out=tmp_path / "p.tar.gz")
    assert built.path == tmp_path / "p.tar.gz"
    assert built.sha256 == hashlib.sha256(built.path.read_bytes()).hexdigest()
    assert built.size == built.path.stat().st_size
    names = [info.name for info, _ in read_members(built.path)]
    assert names == [ENVELOPE_FILE, CARD_FILE, f"{PAYLOAD_DIR}/a.json", f"{PAYLOAD_DIR}/sub/b.txt"]

    opened = open_package(built.path, trust=own_trust(tmp_path, key), extract_to=tmp_path / "x")
    assert opened.trust == "own key"
    assert opened.signer.fingerprint == key.info.fingerprint
    assert opened.sha256 == built.sha256 and opened.card == CARD
    m = opened.manifest
    assert (m.kind, m.name, m.version, m.license) == ("model", "demo", "1.0.0", "CC-BY-4.0")
    assert m.synthetic is True and m.intended_use == "x"
    assert m.creator.site == "site-a" and m.creator.software == "ocais test"
    assert m.content_sha256 == built.manifest.content_sha256
    assert {f.path for f in m.files} == {CARD_FILE, "payload/a.json", "payload/sub/b.txt"}
    assert opened.payload == tmp_path / "x" / PAYLOAD_DIR
    for rel, source in payload.files.items():
        expected = source if isinstance(source, bytes) else source.read_bytes()
        assert (opened.payload / rel).read_bytes() == expected
    assert (tmp_path / "x" / CARD_FILE).read_text(encoding="utf-8") == CARD
    assert not (tmp_path / "x" / ENVELOPE_FILE).exists()

    # without extracting, and without checking trust
    checked = open_package(built.path, trust=None)
    assert checked.trust is None and checked.root is None
    with pytest.raises(RuntimeError):
        _ = checked.payload


def test_the_content_digest_names_the_payload(tmp_path: Path, key: SiteKey) -> None:
    first = make_package(tmp_path, key, out=tmp_path / "one.tar.gz")
    again = make_package(tmp_path, key, out=tmp_path / "two.tar.gz", version="2.0.0")
    other = make_package(tmp_path, key, out=tmp_path / "three.tar.gz", text="other")
    assert first.manifest.content_sha256 == again.manifest.content_sha256
    assert first.manifest.content_sha256 != other.manifest.content_sha256
    assert len(first.manifest.content_sha256) == 64


def test_build_refuses_bad_input(tmp_path: Path, key: SiteKey) -> None:
    with pytest.raises(ConfigError, match="kind"):
        make_package(tmp_path, key, kind="weights")
    with pytest.raises(ConfigError, match="name"):
        make_package(tmp_path, key, name="Demo")
    with pytest.raises(ConfigError, match="semantic version"):
        make_package(tmp_path, key, version="1.0")
    empty = Payload(files={}, synthetic=True, intended_use="x")
    with pytest.raises(PackageError, match="no file"):
        make_package(tmp_path, key, payload=empty)
    assert list(tmp_path.glob("*.tar.gz")) == []


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("x.pkl", b"just bytes"),
        ("weights.pt", b"just bytes"),
        ("model.JOBLIB", b"just bytes"),
        ("data.json", b"\x80\x04\x95\x00\x00"),
        ("data.json", b"\x80\x02]q\x00."),
        ("archive.zip", b"PK\x03\x04....archive/data.pkl...."),
    ],
)
def test_build_refuses_pickles(tmp_path: Path, key: SiteKey, name: str, data: bytes) -> None:
    payload = Payload(files={"ok.json": b"{}", name: data}, synthetic=True, intended_use="x")
    with pytest.raises(PackageError, match="pickle"):
        make_package(tmp_path, key, payload=payload, out=tmp_path / "p.tar.gz")
    assert not (tmp_path / "p.tar.gz").exists()
    assert list(tmp_path.glob(".p.tar.gz.*")) == []


def test_build_refuses_a_pickle_given_as_a_file(tmp_path: Path, key: SiteKey) -> None:
    source = tmp_path / "table.dat"
    source.write_bytes(b"\x80\x05\x95" + b"\x00" * 100)
    payload = Payload(files={"table.dat": source}, synthetic=True, intended_use="x")
    with pytest.raises(PackageError, match="pickle"):
        make_package(tmp_path, key, payload=payload)


def test_is_pickle() -> None:
    assert is_pickle("x.pickle", b"")
    assert is_pickle("x", b"\x80\x03abc")
    assert not is_pickle("x.json", b'{"a": 1}')
    assert not is_pickle("x.safetensors", b"\x08\x00\x00\x00")
    assert not is_pickle("x.npz", b"PK\x03\x04 arr_0.npy")


def test_open_refuses_a_signed_pickle(
    tmp_path: Path, key: SiteKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a correctly signed package is refused when its payload holds a pickle."""
    monkeypatch.setattr(package_module, "_check_no_pickle", lambda files: None)
    payload = Payload(files={"x.dat": b"\x80\x04\x95 pickled"}, synthetic=True, intended_use="x")
    built = make_package(tmp_path, key, payload=payload)
    with pytest.raises(PackageError, match="pickle"):
        open_package(built.path, trust=own_trust(tmp_path, key))


# --- refusals -----------------------------------------------------------------------------------
def alter_one_byte(members: list[Member]) -> list[Member]:
    changed = []
    for info, data in members:
        if info.name == f"{PAYLOAD_DIR}/a.json":
            data = data[:-1] + bytes([data[-1] ^ 0x01])
        changed.append((info, data))
    return changed


def _drop(name: str) -> Callable[[list[Member]], list[Member]]:
    return lambda members: [(i, d) for i, d in members if i.name != name]


def _append(*extra: Member) -> Callable[[list[Member]], list[Member]]:
    return lambda members: [*members, *extra]


def _symlink(name: str, target: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info, b""


def _link(name: str, target: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE
    info.linkname = target
    return info, b""


def _tamper_signature(members: list[Member]) -> list[Member]:
    changed = []
    for info, data in members:
        if info.name == ENVELOPE_FILE:
            envelope = json.loads(data)
            sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
            sig[10] ^= 0x01
            envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
            data = json.dumps(envelope, indent=1).encode()
        changed.append((info, data))
    return changed


def _tamper_manifest(members: list[Member]) -> list[Member]:
    """Change the signed statement (the license) without signing it again."""
    changed = []
    for info, data in members:
        if info.name == ENVELOPE_FILE:
            envelope = json.loads(data)
            body = json.loads(base64.b64decode(envelope["payload"]))
            body["predicate"]["license"] = "proprietary"
            envelope["payload"] = base64.b64encode(json.dumps(body).encode()).decode()
            data = json.dumps(envelope).encode()
        changed.append((info, data))
    return changed


REFUSALS: dict[str, tuple[Callable[[list[Member]], list[Member]], str]] = {
    "one byte altered": (alter_one_byte, "altered"),
    "a listed file missing": (_drop(f"{PAYLOAD_DIR}/sub/b.txt"), "lacks"),
    "the card missing": (_drop(CARD_FILE), "lacks"),
    "no envelope": (_drop(ENVELOPE_FILE), "no signature"),
    "an unlisted file": (
        _append(file_member(f"{PAYLOAD_DIR}/extra.txt", b"extra")),
        "does not list",
    ),
    "a file twice": (_append(file_member(f"{PAYLOAD_DIR}/a.json", b"{}")), "twice"),
    "a parent path": (_append(file_member("../evil", b"evil")), "unsafe name"),
    "a nested parent path": (
        _append(file_member(f"{PAYLOAD_DIR}/../../evil", b"evil")),
        "unsafe name",
    ),
    "an absolute path": (_append(file_member("/tmp/evil", b"evil")), "unsafe name"),
    "a symlink": (_append(_symlink(f"{PAYLOAD_DIR}/link", "/etc/passwd")), "not a regular"),
    "a hard link": (_append(_link(f"{PAYLOAD_DIR}/hard", CARD_FILE)), "not a regular"),
    "a tampered signature": (_tamper_signature, "signature does not match"),
    "a re-written manifest": (_tamper_manifest, "signature does not match"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_open_refuses_a_broken_package(
    tmp_path: Path, key: SiteKey, built: Built, registry: Registry, case: str
) -> None:
    change, message = REFUSALS[case]
    broken = rewrite(built.path, tmp_path / "broken.tar.gz", change)
    with pytest.raises(PackageError, match=message) as refused:
        open_package(broken, trust=own_trust(tmp_path, key))
    assert not isinstance(refused.value, UntrustedPackageError)
    with pytest.raises(PackageError, match=message):
        registry.verify(broken)
    with pytest.raises(PackageError, match=message):
        registry.install(broken, origin="test")
    assert_nothing_installed(registry)
    assert not (tmp_path / "evil").exists() and not (tmp_path.parent / "evil").exists()
    # the original still installs
    assert registry.install(built.path, origin="test").installed


@pytest.mark.parametrize("case", [c for c in REFUSALS if c != "one byte altered"])
def test_a_refusal_before_the_files_are_read_extracts_nothing(
    tmp_path: Path, key: SiteKey, built: Built, case: str
) -> None:
    """Structure, signature and the file list are checked before any byte is written (an
    altered file is found while copying: ``Registry.install`` discards its staging folder)."""
    change, message = REFUSALS[case]
    broken = rewrite(built.path, tmp_path / "broken.tar.gz", change)
    extract_to = tmp_path / "extract"
    extract_to.mkdir()
    with pytest.raises(PackageError, match=message):
        open_package(broken, trust=own_trust(tmp_path, key), extract_to=extract_to)
    assert files_under(extract_to) == []


def test_an_altered_file_is_named(tmp_path: Path, key: SiteKey, built: Built) -> None:
    broken = rewrite(built.path, tmp_path / "broken.tar.gz", alter_one_byte)
    # same size: only the digest tells
    sizes = {i.name: i.size for i, _ in read_members(broken)}
    assert sizes == {i.name: i.size for i, _ in read_members(built.path)}
    with pytest.raises(PackageError, match=r"payload/a\.json was altered"):
        open_package(broken, trust=own_trust(tmp_path, key))


def test_a_changed_size_is_refused(tmp_path: Path, key: SiteKey, built: Built) -> None:
    def grow(members: list[Member]) -> list[Member]:
        return [(i, d + b" " if i.name.endswith("b.txt") else d) for i, d in members]

    broken = rewrite(built.path, tmp_path / "broken.tar.gz", grow)
    with pytest.raises(PackageError, match="bytes where the manifest says"):
        open_package(broken, trust=own_trust(tmp_path, key))


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.0])
def test_a_truncated_file_is_refused(
    tmp_path: Path, key: SiteKey, built: Built, registry: Registry, keep: float
) -> None:
    data = built.path.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[: int(len(data) * keep)])
    extract_to = tmp_path / "extract"
    with pytest.raises(PackageError):
        open_package(cut, trust=own_trust(tmp_path, key), extract_to=extract_to)
    assert files_under(extract_to) == []
    with pytest.raises(PackageError):
        registry.install(cut, origin="test")
    assert_nothing_installed(registry)


def test_not_a_package(tmp_path: Path, key: SiteKey) -> None:
    with pytest.raises(PackageError, match="not a file"):
        open_package(tmp_path / "missing.tar.gz", trust=None)
    text = tmp_path / "text.tar.gz"
    text.write_text("hello", encoding="utf-8")
    with pytest.raises(PackageError):
        open_package(text, trust=None)
    plain = tmp_path / "plain.tar.gz"
    plain.write_bytes(gzip.compress(b"not a tar archive at all" * 40))
    with pytest.raises(PackageError):
        open_package(plain, trust=None)


def test_an_unknown_signer_is_refused_until_trusted(
    tmp_path: Path, key: SiteKey, registry: Registry
) -> None:
    other = make_key(tmp_path, "site-b")
    foreign = make_package(tmp_path, other)
    extract_to = tmp_path / "extract"
    with pytest.raises(UntrustedPackageError, match="does not trust") as refused:
        open_package(foreign.path, trust=registry.trust, extract_to=extract_to)
    assert refused.value.code == "package_untrusted"
    assert files_under(extract_to) == []
    with pytest.raises(UntrustedPackageError):
        registry.install(foreign.path, origin="test")
    assert_nothing_installed(registry)

    # the other site's `keys show --json` file, trusted for datasets only: a model is refused
    shown = tmp_path / "site-b.json"
    shown.write_text(json.dumps(other.info.as_dict()), encoding="utf-8")
    registry.trust.add(str(shown), ("dataset",))
    with pytest.raises(UntrustedPackageError, match="not model"):
        registry.install(foreign.path, origin="test")
    assert_nothing_installed(registry)

    registry.trust.add(str(shown), None)
    done = registry.install(foreign.path, origin="site-b")
    assert done.installed and done.package.trust == "trusted"
    assert done.package.signer_site == "site-b" and done.package.origin == "site-b"
    assert registry.get("demo").sha256 == foreign.sha256

    # and stops being trusted when removed (installed packages stay)
    registry.trust.remove("site-b")
    with pytest.raises(UntrustedPackageError):
        registry.verify(foreign.path)


def test_a_package_re_signed_by_another_key_is_refused(
    tmp_path: Path, key: SiteKey, built: Built
) -> None:
    """Swapping the envelope for one signed by another key over the same statement: the
    manifest still names the first key, so the signature's key id does not match it."""
    other = make_key(tmp_path, "site-b")

    def resign(members: list[Member]) -> list[Member]:
        changed = []
        for info, data in members:
            if info.name == ENVELOPE_FILE:
                payload, _, _ = open_envelope(json.loads(data))
                data = json.dumps(sign_envelope(payload, other)).encode()
            changed.append((info, data))
        return changed

    broken = rewrite(built.path, tmp_path / "resigned.tar.gz", resign)
    with pytest.raises(PackageError, match="key id"):
        open_package(broken, trust=TrustStore(tmp_path / "t.json", own=other.info))


# --- the registry -------------------------------------------------------------------------------
def test_install_lays_out_the_package(tmp_path: Path, built: Built, registry: Registry) -> None:
    done = registry.install(built.path, origin="test")
    assert done.installed
    package = done.package
    assert package.root == registry.root / "demo" / "1.0.0"
    assert package.file.read_bytes() == built.path.read_bytes()
    assert package.sha256 == built.sha256 and package.size == built.size
    assert (package.payload / "a.json").read_bytes() == json.dumps({"text": "hello"}).encode()
    assert (package.payload / "sub" / "b.txt").read_text(encoding="utf-8") == "from disk: hello\n"
    assert (package.root / CARD_FILE).read_text(encoding="utf-8") == CARD
    assert package.trust == "own key" and package.origin == "test"
    record = package.as_dict()
    assert (
        record["name"] == "demo" and record["kind"] == "model" and record["sha256"] == built.sha256
    )
    assert list(registry.root.glob(".incoming-*")) == []


def test_installing_the_same_file_twice(tmp_path: Path, key: SiteKey, registry: Registry) -> None:
    built = make_package(tmp_path, key)
    assert registry.install(built.path, origin="test").installed
    again = registry.install(built.path, origin="test")
    assert not again.installed and again.package.sha256 == built.sha256
    # the same payload built again (another file) is the same version too
    rebuilt = make_package(tmp_path, key, out=tmp_path / "rebuilt.tar.gz")
    assert not registry.install(rebuilt.path, origin="test").installed
    assert list(registry.root.glob(".incoming-*")) == []
    assert [p.manifest.ref for p in registry.all()] == ["demo@1.0.0"]


def test_other_content_under_an_installed_version_is_a_conflict(
    tmp_path: Path, key: SiteKey, registry: Registry
) -> None:
    first = make_package(tmp_path, key, text="first")
    registry.install(first.path, origin="test")
    payload_before = {p: p.read_bytes() for p in files_under(registry.root / "demo")}
    other = make_package(tmp_path, key, text="second")
    with pytest.raises(PackageConflictError, match="already installed") as refused:
        registry.install(other.path, origin="test")
    assert refused.value.code == "package_conflict"
    assert {p: p.read_bytes() for p in files_under(registry.root / "demo")} == payload_before
    assert registry.get("demo@1.0.0").sha256 == first.sha256
    assert list(registry.root.glob(".incoming-*")) == []


def test_the_latest_version_is_the_highest_semantic_version(
    tmp_path: Path, key: SiteKey, registry: Registry
) -> None:
    for version in ["1.9.0", "1.10.0", "1.2.0"]:
        registry.install(
            make_package(tmp_path, key, version=version, text=version).path, origin="t"
        )
    assert registry.get("demo").manifest.version == "1.10.0"
    assert registry.get("demo@1.9.0").manifest.version == "1.9.0"
    assert [p.manifest.version for p in registry.versions("demo")] == ["1.2.0", "1.9.0", "1.10.0"]
    for version in ["1.0.0", "1.0.0-rc.1"]:
        registry.install(
            make_package(tmp_path, key, name="rc", version=version, text=version).path, origin="t"
        )
    assert registry.get("rc").manifest.version == "1.0.0"
    with pytest.raises(NotFoundError, match=r"demo@2\.0\.0"):
        registry.get("demo@2.0.0")
    with pytest.raises(NotFoundError):
        registry.get("nothing")


def test_version_order() -> None:
    ordered = [
        "0.9.9",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.9.0",
        "1.10.0",
        "2.0.0",
    ]
    assert sorted(reversed(ordered), key=version_key) == ordered


def test_get_checks_the_kind_and_search_filters(
    tmp_path: Path, key: SiteKey, registry: Registry
) -> None:
    registry.install(make_package(tmp_path, key, name="net", text="m").path, origin="t")
    registry.install(
        make_package(
            tmp_path, key, kind="dataset", name="cases", text="d", description="Synthetic SET"
        ).path,
        origin="t",
    )
    assert registry.get("net", kind="model").manifest.kind == "model"
    with pytest.raises(NotFoundError, match="model package, not a dataset"):
        registry.get("net", kind="dataset")
    assert [p.manifest.name for p in registry.search(kind="dataset")] == ["cases"]
    assert [p.manifest.name for p in registry.search(kind="model")] == ["net"]
    assert registry.search(kind="evaluation") == []
    assert [p.manifest.name for p in registry.search()] == ["cases", "net"]
    assert [p.manifest.name for p in registry.search("synthetic")] == ["cases"]
    assert [p.manifest.name for p in registry.search("site-a")] == ["cases", "net"]
    assert registry.search("nowhere") == []


def test_remove(tmp_path: Path, key: SiteKey, registry: Registry) -> None:
    registry.install(make_package(tmp_path, key, version="1.0.0", text="1").path, origin="t")
    registry.install(make_package(tmp_path, key, version="2.0.0", text="2").path, origin="t")
    assert registry.remove("demo").manifest.version == "2.0.0"
    assert [p.manifest.version for p in registry.versions("demo")] == ["1.0.0"]
    registry.remove("demo@1.0.0")
    assert not (registry.root / "demo").exists()
    with pytest.raises(NotFoundError):
        registry.remove("demo")


def test_lineage_links_a_model_to_its_dataset_and_evaluation(
    tmp_path: Path, key: SiteKey, registry: Registry
) -> None:
    digest = "ab" * 32
    dataset = Payload(
        files={"cases.json": b"[]"},
        synthetic=True,
        intended_use="x",
        summary={"phenopackets_sha256": digest, "diseases": {"A": 1}},
        privacy={"passed": True},
    )
    data_built = make_package(tmp_path, key, kind="dataset", name="cases", payload=dataset)
    model = Payload(
        files={"model.json": b"{}"},
        synthetic=True,
        intended_use="x",
        lineage={"sources": [{"phenopackets_sha256": digest}]},
    )
    model_built = make_package(tmp_path, key, kind="model", name="net", payload=model)
    evaluation = Payload(
        files={"metrics.json": b"{}"},
        synthetic=True,
        intended_use="x",
        evaluation={"top1": 0.5},
        lineage={"parents": [{"content_sha256": model_built.manifest.content_sha256}]},
    )
    eval_built = make_package(tmp_path, key, kind="evaluation", name="eval", payload=evaluation)
    for built in (data_built, model_built, eval_built):
        registry.install(built.path, origin="t")

    chain = lineage(registry, "net")
    assert chain["ref"] == "net@1.0.0" and chain["kind"] == "model"
    assert [p["ref"] for p in chain["parents"]] == ["cases@1.0.0"]
    assert chain["parents"][0]["privacy"] == {"passed": True}
    assert "diseases" not in chain["parents"][0]["summary"]
    assert [d["ref"] for d in chain["derived"]] == ["eval@1.0.0"]
    assert chain["derived"][0]["evaluation"] == {"top1": 0.5}


# --- names and versions -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["", "Demo", "-demo", ".demo", "a/b", "a b", "a" * 65, "démo", "..", "a@b"]
)
def test_bad_names(name: str) -> None:
    with pytest.raises(ConfigError, match="not valid"):
        check_name(name)


@pytest.mark.parametrize("name", ["demo", "0", "shared-dev", "a.b_c-d", "a" * 64])
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "version", ["", "1", "1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0+", "1.0.0 "]
)
def test_bad_versions(version: str) -> None:
    with pytest.raises(ConfigError, match="semantic version"):
        check_version(version)


@pytest.mark.parametrize("version", ["0.0.0", "1.2.3", "1.0.0-rc.1", "1.0.0+build.5", "10.20.30"])
def test_good_versions(version: str) -> None:
    assert check_version(version) == version


def test_parse_ref() -> None:
    assert parse_ref("demo") == ("demo", None)
    assert parse_ref("demo@1.2.3") == ("demo", "1.2.3")
    assert parse_ref("demo@1.0.0-rc.1") == ("demo", "1.0.0-rc.1")
    for bad in ["Demo@1.0.0", "demo@1.0", "demo@1.0.0@2", "@1.0.0", "demo@latest"]:
        with pytest.raises(ConfigError):
            parse_ref(bad)


# --- names inside a signed manifest -------------------------------------------------------------
def _signed_with_bad_ref(
    tmp_path: Path, key: SiteKey, monkeypatch: pytest.MonkeyPatch, name: str, version: str
) -> Built:
    """A package whose *signed* manifest carries a name/version ``build`` would refuse: what a
    trusted (for datasets, say) but careless or hostile site can send."""
    with monkeypatch.context() as patched:
        patched.setattr(package_module, "check_name", lambda value: value)
        patched.setattr(package_module, "check_version", lambda value: value)
        return make_package(
            tmp_path, key, kind="dataset", name=name, version=version, out=tmp_path / "bad.tar.gz"
        )


def test_a_manifest_name_cannot_leave_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own, partner = make_key(tmp_path, "site-a"), make_key(tmp_path, "site-b")
    bad = _signed_with_bad_ref(tmp_path, partner, monkeypatch, "..", "escaped")
    registry = Registry(tmp_path / "data" / "packages", own_trust(tmp_path, own))
    registry.trust.add(partner.info.fingerprint, ("dataset",))
    try:
        with pytest.raises(PackageError, match="name"):
            registry.install(bad.path, origin="site-b")
    finally:
        assert not (tmp_path / "data" / "escaped").exists()


def test_a_manifest_name_cannot_delete_a_folder_beside_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own, partner = make_key(tmp_path, "site-a"), make_key(tmp_path, "site-b")
    precious = tmp_path / "data" / "cases"
    precious.mkdir(parents=True)
    (precious / "store.db").write_bytes(b"the case store")
    bad = _signed_with_bad_ref(tmp_path, partner, monkeypatch, "..", "cases")
    registry = Registry(tmp_path / "data" / "packages", own_trust(tmp_path, own))
    registry.trust.add(partner.info.fingerprint, ("dataset",))
    try:
        with pytest.raises(PackageError):
            registry.install(bad.path, origin="site-b")
    finally:
        assert (precious / "store.db").read_bytes() == b"the case store"


def test_names_build_accepts_round_trip(tmp_path: Path) -> None:
    """What the two tests above expect, for names ``build`` itself makes: they round trip."""
    key = make_key(tmp_path)
    built = make_package(tmp_path, key, name="a.b_c-d", version="1.0.0-rc.1+b.2")
    opened = open_package(built.path, trust=own_trust(tmp_path, key))
    assert opened.manifest.ref == "a.b_c-d@1.0.0-rc.1+b.2"
