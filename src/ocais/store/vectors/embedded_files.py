"""On-disk format of an embedded collection: immutable segments under an atomic manifest.

``<root>/<collection>/``::

    spec.json               the CollectionSpec (written once)
    manifest.json           the commit point: live segments, deleted-rows bitmap, ANN index
    seg-<gen>/              one immutable chunk of rows, written by one upsert (or a merge)
        vectors.npy         float32 (rows, dimension), memory-mapped on open
        ids.json            the rows' ids
        sqnorms.npy         float32 squared norms (l2 collections only)
        col-<key>.npy       metadata values: int32 codes (str), int64, float64 or int8 (bool)
        null-<key>.npy      bool, True where the value is missing
        vocab-<key>.json    the strings behind a str column's codes
    deleted-<gen>.npy       packed bitmap of replaced/deleted rows (np.packbits, little bit order)
    ann-<gen>.faiss         HNSW index over the first ``ann.rows`` rows (labels = row positions)
    .lock                   flock'ed by the single writer

Row positions are the concatenation of the manifest's segments; merging adjacent segments keeps
them, so deleted-row bitmaps and the ANN index stay valid until a compaction. Every file is
written to a temporary name, fsync'ed and renamed; ``manifest.json`` is replaced last, so a crash
leaves the previous collection intact (the writer removes unreferenced leftovers). Nothing is
pickled: ``np.load(..., allow_pickle=False)`` and JSON only.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ocais.errors import StoreError

FORMAT_VERSION = 1
SPEC_FILE = "spec.json"
MANIFEST_FILE = "manifest.json"
LOCK_FILE = ".lock"
TMP_PREFIX = ".tmp-"


class SegmentRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    rows: int = Field(ge=0)


class AnnRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    rows: int = Field(ge=0)
    kind: str = "hnsw-sq8"


class Manifest(BaseModel):
    """Which files make up the collection now."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: int = FORMAT_VERSION
    generation: int = 0
    segments: tuple[SegmentRef, ...] = ()
    deleted: str | None = None
    ann: AnnRef | None = None

    @property
    def rows(self) -> int:
        return sum(segment.rows for segment in self.segments)

    def referenced(self) -> set[str]:
        names = {SPEC_FILE, MANIFEST_FILE, LOCK_FILE}
        names.update(segment.name for segment in self.segments)
        if self.deleted:
            names.add(self.deleted)
        if self.ann:
            names.add(self.ann.file)
        return names


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path(directory: Path, name: str) -> Path:
    return directory / f"{TMP_PREFIX}{uuid.uuid4().hex[:8]}-{name}"


def replace_file(tmp: Path, final: Path) -> None:
    """fsync ``tmp`` and rename it over ``final`` (atomic on POSIX)."""
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    fsync_dir(final.parent)


def write_json(path: Path, obj: Any) -> None:
    """Atomically replace ``path`` with ``obj`` as JSON."""
    tmp = temp_path(path.parent, path.name)
    tmp.write_text(json.dumps(obj, separators=(",", ":")), encoding="utf-8")
    replace_file(tmp, path)


def write_npy(path: Path, array: np.ndarray) -> None:
    """Atomically replace ``path`` with ``array`` in ``.npy`` format."""
    tmp = temp_path(path.parent, path.name)
    with open(tmp, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
    replace_file(tmp, path)


def read_npy(path: Path, *, mmap: bool = False) -> np.ndarray:
    return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write_segment_dir(directory: Path, name: str, files: dict[str, np.ndarray | list[Any]]) -> None:
    """Write ``files`` (``.npy`` arrays, ``.json`` lists) into a new segment, then rename it in.

    Called under the writer lock for the next generation, so a segment already there by that
    name is an orphan of a writer killed after renaming it in but before its manifest was
    replaced (no manifest refers to it): it is removed, not an error that blocks every write.
    """
    orphan = directory / name
    if orphan.is_dir():
        shutil.rmtree(orphan)
    tmp = temp_path(directory, name)
    tmp.mkdir()
    for filename, content in files.items():
        target = tmp / filename
        if filename.endswith(".npy"):
            with open(target, "wb") as handle:
                np.save(handle, np.asarray(content), allow_pickle=False)
                handle.flush()
                os.fsync(handle.fileno())
        else:
            with open(target, "w", encoding="utf-8") as handle:
                json.dump(content, handle, separators=(",", ":"))
                handle.flush()
                os.fsync(handle.fileno())
    fsync_dir(tmp)
    os.replace(tmp, directory / name)
    fsync_dir(directory)


def read_manifest(directory: Path) -> Manifest:
    manifest = Manifest.model_validate(read_json(directory / MANIFEST_FILE))
    if manifest.format != FORMAT_VERSION:
        raise StoreError(
            f"vector collection {directory} has format {manifest.format}, "
            f"this OCAIS reads format {FORMAT_VERSION}",
            hint="upgrade OCAIS, or rebuild the collection",
        )
    return manifest


def write_manifest(directory: Path, manifest: Manifest) -> None:
    write_json(directory / MANIFEST_FILE, manifest.model_dump(mode="json"))


def manifest_stamp(directory: Path) -> tuple[int, int, int]:
    """Changes whenever ``manifest.json`` is replaced (inode, size, mtime)."""
    stat = (directory / MANIFEST_FILE).stat()
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def remove_unreferenced(directory: Path, manifest: Manifest) -> None:
    """Delete leftovers of crashed or superseded writes (call with the writer lock held)."""
    keep = manifest.referenced()
    for entry in directory.iterdir():
        if entry.name in keep:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


@contextmanager
def writer_lock(directory: Path, timeout_s: float) -> Iterator[None]:
    """Exclusive ``flock`` on ``directory/.lock``: one writer at a time, across processes.

    The kernel releases the lock if the process dies, so a crash never leaves it stale.
    """
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"another process has been writing {directory} for {timeout_s:.0f} s",
                        hint="wait for it to finish, or raise lock_timeout_s",
                    ) from exc
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
