"""Disease identity from MONDO: which OMIM/Orphanet entries, ICD-10-CM and SNOMED CT codes are
one disease.

The table ships with the package (``knowledge/data/mondo_diseases.tsv.gz``, built by
``scripts/build_mondo_table.py`` from MONDO's exact-match SSSOM mappings, CC BY 4.0: see
``knowledge/data/MONDO-ATTRIBUTION.md``). Exact matches are one-to-one per source in the other
direction: every OMIM, ORPHA, ICD-10-CM or SNOMED CT id maps to at most one MONDO id (the build
checks it), while one MONDO id may have several ids of one source (e.g. Marfan syndrome:
OMIM:154700, ORPHA:558 and ORPHA:284963). Only exact matches are used: a subtype (an OMIM entry
under a broader Orphanet group) stays its own disease.

Nothing is read at import: :meth:`MondoTable.load` reads the table when asked.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ocais.errors import KnowledgeError, UnknownDiseaseError

TABLE_FILE = "mondo_diseases.tsv.gz"
COLUMNS = ("mondo_id", "label", "members", "icd10cm", "snomedct")
# spellings of a code system in EHR data → the prefix the table uses
_SYSTEMS = {
    "OMIM": "OMIM",
    "MIM": "OMIM",
    "ORPHA": "ORPHA",
    "ORPHANET": "ORPHA",
    "ICD10CM": "ICD10CM",
    "ICD-10-CM": "ICD10CM",
    "ICD10": "ICD10CM",
    "SNOMEDCT": "SNOMEDCT",
    "SNOMEDCT_US": "SNOMEDCT",
    "SNOMED": "SNOMEDCT",
    "SCTID": "SNOMEDCT",
    "SCT": "SNOMEDCT",
}
_PAGES = {
    "MONDO": "https://monarchinitiative.org/{curie}",
    "OMIM": "https://omim.org/entry/{local}",
    "ORPHA": "https://www.orpha.net/en/disease/detail/{local}",
}


def disease_url(curie: str) -> str | None:
    """The public page of a disease id (MONDO, OMIM or ORPHA); ``None`` for other sources."""
    prefix, _, local = curie.partition(":")
    template = _PAGES.get(prefix.upper())
    return template.format(curie=curie, local=local) if template and local else None


def normalize_code(system: str, code: str) -> str | None:
    """``("SNOMEDCT_US", "19346006")`` → ``"SNOMEDCT:19346006"``; ``None`` for other systems.

    Systems are matched by name (``ICD10CM``, ``SNOMEDCT``, ``Orphanet``, ...) or by the FHIR
    system URIs ``http://snomed.info/sct`` and ``http://hl7.org/fhir/sid/icd-10-cm``.
    """
    key = system.strip()
    if "snomed.info/sct" in key:
        prefix: str | None = "SNOMEDCT"
    elif "icd-10-cm" in key.lower():
        prefix = "ICD10CM"
    else:
        prefix = _SYSTEMS.get(key.upper())
    value = code.strip()
    if prefix is None or not value:
        return None
    if prefix == "ICD10CM":
        value = value.upper()
        if len(value) > 3 and "." not in value:  # E301 → E30.1, the table's spelling
            value = f"{value[:3]}.{value[3:]}"
    return f"{prefix}:{value}"


@dataclass(frozen=True)
class MondoDisease:
    """One MONDO disease and the ids of other sources that are exactly it."""

    id: str
    label: str
    members: tuple[str, ...] = ()  # OMIM:/ORPHA: entries
    icd10cm: tuple[str, ...] = ()
    snomedct: tuple[str, ...] = ()


class MondoTable:
    """MONDO diseases by id, and the MONDO id of any OMIM, ORPHA, ICD-10-CM or SNOMED CT id."""

    def __init__(
        self, diseases: Iterable[MondoDisease], *, source: str = "in memory", sha256: str = ""
    ) -> None:
        self.source = source
        self.sha256 = sha256  # of the table file, recorded in provenance
        self._diseases = {d.id: d for d in diseases}
        self._mondo_of: dict[str, str] = {}
        for disease in self._diseases.values():
            for curie in (*disease.members, *disease.icd10cm, *disease.snomedct):
                other = self._mondo_of.setdefault(curie, disease.id)
                if other != disease.id:
                    raise KnowledgeError(
                        f"{curie} is an exact match of both {other} and {disease.id}",
                        hint="rebuild the table with scripts/build_mondo_table.py",
                    )

    @classmethod
    def load(cls, path: Path | None = None) -> MondoTable:
        """Read a table written by ``scripts/build_mondo_table.py`` (the packaged one by
        default). Raises :class:`KnowledgeError` when it is missing or malformed."""
        try:
            if path is None:
                data = resources.files("ocais.knowledge").joinpath("data", TABLE_FILE).read_bytes()
                source = f"ocais.knowledge/data/{TABLE_FILE}"
            else:
                data = path.read_bytes()
                source = str(path)
            text = gzip.decompress(data).decode("utf-8")
        except (OSError, EOFError) as exc:
            raise KnowledgeError(
                f"cannot read the MONDO disease table ({exc})",
                hint="reinstall ocais, or rebuild it with scripts/build_mondo_table.py",
            ) from exc
        lines = text.splitlines()
        if not lines or tuple(lines[0].split("\t")) != COLUMNS:
            raise KnowledgeError(f"{source} is not a MONDO disease table (header {lines[:1]})")
        rows = (_row(line) for line in lines[1:] if line)
        return cls(rows, source=source, sha256=hashlib.sha256(data).hexdigest())

    def __len__(self) -> int:
        return len(self._diseases)

    def __contains__(self, mondo_id: object) -> bool:
        return mondo_id in self._diseases

    def diseases(self) -> Iterator[MondoDisease]:
        """Every disease of the table, in the table's order."""
        return iter(self._diseases.values())

    def mondo_of(self, curie: str) -> str | None:
        """The MONDO id of an OMIM, ORPHA, ICD-10-CM or SNOMED CT id (a MONDO id maps to
        itself); ``None`` when MONDO has no exact match for it."""
        if curie in self._diseases:
            return curie
        return self._mondo_of.get(curie)

    def mondo_for_code(self, system: str, code: str) -> str | None:
        """The MONDO id of an EHR condition code, e.g. ``("ICD10CM", "Q87.4")``."""
        curie = normalize_code(system, code)
        return None if curie is None else self._mondo_of.get(curie)

    def disease(self, mondo_id: str) -> MondoDisease:
        found = self._diseases.get(mondo_id)
        if found is None:
            raise UnknownDiseaseError(
                f"unknown MONDO disease {mondo_id}",
                hint="the packaged table has the MONDO diseases with an OMIM, Orphanet, "
                "ICD-10-CM or SNOMED CT exact match",
            )
        return found

    def label(self, mondo_id: str) -> str:
        return self.disease(mondo_id).label


def _row(line: str) -> MondoDisease:
    fields = line.split("\t")
    fields += [""] * (len(COLUMNS) - len(fields))

    def ids(text: str) -> tuple[str, ...]:
        return tuple(text.split())

    return MondoDisease(
        id=fields[0],
        label=fields[1],
        members=ids(fields[2]),
        icd10cm=ids(fields[3]),
        snomedct=ids(fields[4]),
    )


def tiny_table(groups: Sequence[tuple[str, str, Sequence[str]]]) -> MondoTable:
    """A table from ``(mondo id, label, member ids)`` triples (for tests and examples)."""
    return MondoTable(MondoDisease(m, label, tuple(members)) for m, label, members in groups)
