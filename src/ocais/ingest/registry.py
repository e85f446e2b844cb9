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


def detect_reader(path: Path, context: ReaderContext) -> Reader:
    """The first reader whose ``sniff`` accepts ``path``."""
    if not path.exists():
        raise UnsupportedFormatError(f"{path} does not exist")
    readers = available_readers()
    names = [n for n in SNIFF_ORDER if n in readers] + sorted(set(readers) - set(SNIFF_ORDER))
    for name in names:
        reader = readers[name](context)  # type: ignore[call-arg]
        if reader.sniff(path):
            return reader
    raise UnsupportedFormatError(
        f"cannot tell the format of {path}",
        hint="pass --format with one of: " + ", ".join(sorted(readers)),
    )
