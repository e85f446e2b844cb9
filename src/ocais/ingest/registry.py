"""Reader registry: built-in readers are registered exactly like plugins, through the
``ocais.readers`` entry-point group, and chosen by name (``--format``) or by sniffing (``auto``;
file by file in a folder, see :mod:`ocais.ingest.folder`).
"""

from __future__ import annotations

from pathlib import Path

from ocais.errors import UnsupportedFormatError
from ocais.ingest.base import Reader, ReaderContext
from ocais.ingest.folder import FolderReader, plan_folder
from ocais.plugins import registered

ENTRY_POINT_GROUP = "ocais.readers"
# Most specific first: a Synthea export also holds JSON, and FHIR JSON is not a phenopacket.
SNIFF_ORDER = ("synthea-csv", "fhir", "phenopacket")


def available_readers() -> dict[str, type[Reader]]:
    """Reader classes by name, from the entry points of every installed distribution."""
    return registered(ENTRY_POINT_GROUP)


def get_reader(name: str, context: ReaderContext) -> Reader:
    readers = available_readers()
    if name not in readers:
        raise UnsupportedFormatError(
            f"unknown input format {name!r}",
            hint="choose one of: auto, " + ", ".join(sorted(readers)),
        )
    return readers[name](context)  # type: ignore[call-arg]


def detect_reader(path: Path, context: ReaderContext) -> Reader:
    """The reader for ``path``: for a file or archive, the first whose ``sniff`` accepts it; for
    a folder, a :class:`~ocais.ingest.folder.FolderReader` that reads each file with the reader
    that sniffs it and lists the files none reads (a Synthea CSV export folder is one source).
    """
    if not path.exists():
        raise UnsupportedFormatError(f"{path} does not exist")
    available = available_readers()
    names = [n for n in SNIFF_ORDER if n in available] + sorted(set(available) - set(SNIFF_ORDER))
    readers = [available[n](context) for n in names]  # type: ignore[call-arg]
    hint = "pass --format with one of: " + ", ".join(sorted(available))
    if path.is_dir() and not any(r.name == "synthea-csv" and r.sniff(path) for r in readers):
        # a Synthea export is a folder or a zip, and a folder's archives are not opened
        plan = plan_folder(path, [r for r in readers if r.name != "synthea-csv"])
        if not plan.shares:
            raise UnsupportedFormatError(
                f"cannot tell the format of {path}: none of its "
                f"{len(plan.skipped)} files is a record of a known format",
                hint=hint,
            )
        return FolderReader(path, readers, plan)
    for reader in readers:
        if reader.sniff(path):
            return reader
    raise UnsupportedFormatError(f"cannot tell the format of {path}", hint=hint)
