"""A folder read file by file: each file by the reader whose ``sniff`` accepts it.

A folder may mix formats (phenopackets beside a FHIR Bundle). :func:`plan_folder` sniffs every
file with the readers in their sniffing order, and :class:`FolderReader` reads each format's share
of the folder with that format's reader, one format after another. Every file that is not read is
listed in :attr:`FolderReader.skipped` with its reason, so an import can say what it left out.
A reader with the :class:`~ocais.ingest.base.ReadsFileSelection` capability (phenopackets) reads
exactly its share, in worker processes as it reads a whole folder; any other reader (FHIR, whose
NDJSON files refer to each other) is given the whole folder and reads the files its sniff accepts.

Rules, beyond "the first reader whose sniff accepts the file":

* Hidden files and folders (names starting with ``.``: ``.DS_Store``, ``.git``, macOS ``._*``
  copies) are ignored and not listed: they are tool metadata, never records.
* Archives inside a folder are not opened (skipped and listed): import each on its own.
* Notes (the ``text`` reader: ``.txt``, ``.md``, note JSON Lines) beside structured records are
  skipped and listed: there a ``README.md`` is documentation, not a clinical note.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ocais.ingest.base import Reader, ReadsFileSelection, Record

NOTES_READER = "text"
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tar.xz")
JSON_FILE_SUFFIXES = (".json", ".jsonl", ".ndjson")
#: Files OCAIS writes beside records (a synthetic set's manifest, see ``ocais.synth``; a
#: simulated genomic set's summary, see ``ocais.genomic.simulate``).
COMPANION_FILES = {
    "ocais-manifest.json": "a synthetic set's manifest, not a record",
    "ocais-simulation.json": "a simulated set's summary, not a record",
}
#: Sequencing files: read when a phenopacket points to them, never imported on their own
SEQUENCING_SUFFIXES = (".vcf", ".vcf.gz", ".vcf.bgz", ".bcf", ".tbi", ".csi")
MIXED = "mixed"


@dataclass
class FolderPlan:
    """Which reader reads which files of a folder, and which files no reader reads."""

    shares: dict[str, list[Path]] = field(default_factory=dict)  # reader name -> files
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"path", "reason"}


def _files(root: Path) -> list[Path]:
    """Every file under ``root`` but hidden ones, in the order of ``sorted(root.rglob("*"))``
    (``os.walk`` lists a folder without a ``stat`` per file: 3x faster on 5,000 files)."""
    found: list[tuple[tuple[str, ...], Path]] = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        parts = Path(folder).relative_to(root).parts
        found.extend(
            ((*parts, name), Path(folder, name)) for name in names if not name.startswith(".")
        )
    return [path for _, path in sorted(found)]


def _never_read(file: Path) -> bool:
    return file.name in COMPANION_FILES or file.name.lower().endswith(ARCHIVE_SUFFIXES)


def _unread_reason(file: Path, names: Sequence[str]) -> str:
    if file.name in COMPANION_FILES:
        return COMPANION_FILES[file.name]
    if file.name.lower().endswith(SEQUENCING_SUFFIXES):
        return "a sequencing file: read when a phenopacket's files point to it, not imported"
    if file.name.lower().endswith(ARCHIVE_SUFFIXES):
        return "an archive inside a folder is not opened; import it on its own"
    if file.suffix.lower() in JSON_FILE_SUFFIXES:
        return f"no reader recognises this JSON ({', '.join(names)})"
    return f"unsupported file type {file.suffix.lower() or '(no extension)'!r}"


def plan_folder(root: Path, readers: Sequence[Reader]) -> FolderPlan:
    """Sniff every file under ``root`` (recursively) with ``readers``, in their order."""
    names = [reader.name for reader in readers]
    claims = [
        (file, None if _never_read(file) else next((r for r in readers if r.sniff(file)), None))
        for file in _files(root)
    ]
    structured = any(r is not None and r.name != NOTES_READER for _, r in claims)
    plan = FolderPlan()
    for file, reader in claims:
        if reader is None:
            plan.skipped.append({"path": str(file), "reason": _unread_reason(file, names)})
        elif reader.name == NOTES_READER and structured:
            reason = "notes beside structured records are not read; import them with --format text"
            plan.skipped.append({"path": str(file), "reason": reason})
        else:
            plan.shares.setdefault(reader.name, []).append(file)
    return plan


class FolderReader:
    """Reads a folder with one reader per format present (see the module docstring).

    ``name`` is the format's name when the folder holds one format, else ``"mixed"``, so a
    homogeneous folder's import records the same source format as before.
    """

    def __init__(self, root: Path, readers: Sequence[Reader], plan: FolderPlan) -> None:
        self.root = root
        self.shares = [(r, plan.shares[r.name]) for r in readers if r.name in plan.shares]
        self.skipped = plan.skipped
        self.name = self.shares[0][0].name if len(self.shares) == 1 else MIXED

    def sniff(self, path: Path) -> bool:
        return path == self.root

    def read(self, path: Path) -> Iterator[Record]:
        for reader, files in self.shares:
            if isinstance(reader, ReadsFileSelection):
                yield from reader.read_files(path, files)
            else:
                yield from reader.read(path)
