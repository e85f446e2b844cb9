"""Reader registry: built-in readers are registered exactly like plugins, through the
``ocais.readers`` entry-point group, and chosen by name (``--format``) or by sniffing (``auto``).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

from ocais.errors import UnsupportedFormatError
from ocais.ingest.base import Reader, ReaderContext

ENTRY_POINT_GROUP = "ocais.readers"
# Most specific first: a Synthea export also holds JSON, and FHIR JSON is not a phenopacket.
SNIFF_ORDER = ("synthea-csv", "fhir", "phenopacket")
JSON_FILE_SUFFIXES = (".json", ".jsonl", ".ndjson")


def available_readers() -> dict[str, type[Reader]]:
    """Reader classes by name, from the entry points of every installed distribution."""
    readers: dict[str, type[Reader]] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        readers[entry.name] = entry.load()
    return readers


def get_reader(name: str, context: ReaderContext) -> Reader:
    readers = available_readers()
    if name not in readers:
        raise UnsupportedFormatError(
            f"unknown input format {name!r}",
            hint="choose one of: auto, " + ", ".join(sorted(readers)),
        )
    return readers[name](context)  # type: ignore[call-arg]


def detect_reader(path: Path, context: ReaderContext, *, sample: int = 50) -> Reader:
    """The reader for ``path``: the first whose ``sniff`` accepts it, or for a directory of
    JSON files, the one that accepts most of a sample of its files (a mixed folder is read by
    the majority's reader, and the other files become rejects).
    """
    if not path.exists():
        raise UnsupportedFormatError(f"{path} does not exist")
    available = available_readers()
    names = [n for n in SNIFF_ORDER if n in available] + sorted(set(available) - set(SNIFF_ORDER))
    readers = [available[n](context) for n in names]  # type: ignore[call-arg]
    if path.is_dir() and not any(r.name == "synthea-csv" and r.sniff(path) for r in readers):
        files = [p for p in sorted(path.rglob("*")) if p.suffix in JSON_FILE_SUFFIXES][:sample]
        votes = {r.name: sum(r.sniff(f) for f in files) for r in readers}
        best = max(readers, key=lambda r: votes[r.name])
        if votes[best.name] > 0:
            return best
    for reader in readers:
        if reader.sniff(path):
            return reader
    raise UnsupportedFormatError(
        f"cannot tell the format of {path}",
        hint="pass --format with one of: " + ", ".join(sorted(available)),
    )
