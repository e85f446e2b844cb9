"""Sources → ``Case``: one small reader per format (Phenopacket v2, FHIR R4, Synthea CSV)."""

from ocais.ingest.base import Reader, ReaderContext, Record, TermResolver
from ocais.ingest.registry import available_readers, detect_reader, get_reader

__all__ = [
    "Reader",
    "ReaderContext",
    "Record",
    "TermResolver",
    "available_readers",
    "detect_reader",
    "get_reader",
]
