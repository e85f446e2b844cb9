"""The ``Reader`` extension point: one small reader per source format, each yielding ``Case``.

A reader never stops at a bad record: it yields an :class:`~ocais.errors.InvalidRecordError` in its
place (naming file, record and field) and goes on, so the caller decides whether to abort the whole
import or skip the record (``--skip-invalid``). Errors that make the whole source unreadable (a
missing path, a Phenopacket v1 file, an oversized file) are raised.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from ocais import __version__
from ocais.errors import InputTooLargeError, InvalidRecordError
from ocais.schemas import Case, PhenotypeObservation

Record = Case | InvalidRecordError


class TermResolver(Protocol):
    """What readers need from the knowledge base (``KnowledgeBase`` implements it)."""

    @property
    def version(self) -> str: ...

    def resolve_id(self, term_id: str) -> str | None:
        """Current primary id for an id, alt id or obsolete id; ``None`` if unknown."""
        ...

    def hpo_for_xref(self, system: str, code: str) -> list[str]:
        """HPO terms cross-referenced to a code (e.g. ``SNOMEDCT_US``, ``UMLS``)."""
        ...


@runtime_checkable
class DiseaseResolver(Protocol):
    """Optional capability of a term resolver: the MONDO disease of a condition code
    (``KnowledgeBase`` implements it through its MONDO table)."""

    def mondo_for_code(self, system: str, code: str) -> str | None: ...


def condition_mondo_id(terms: object, codes: Sequence[tuple[str, str]]) -> str | None:
    """The MONDO id of the first ``(system, code)`` (ICD-10-CM, SNOMED CT, ...) that MONDO has
    an exact match for; ``None`` without one or without a resolver that can tell."""
    if not isinstance(terms, DiseaseResolver):
        return None
    for system, code in codes:
        found = terms.mondo_for_code(system, code)
        if found is not None:
            return found
    return None


@dataclass
class ReaderContext:
    """What every reader is given: site name, optional term resolver and limits."""

    site: str = "local"
    terms: TermResolver | None = None
    max_file_bytes: int = 512 * 1024 * 1024
    created_by: str = f"ocais {__version__}"
    workers: int = 1  # processes for parsing (readers that support it); 1 = in-process
    #: key for record-id pseudonyms when no site secret (OCAIS_DEID_SECRET) is set: the
    #: installation's own random key, kept in its store (see ``ocais.workflows.indexing``)
    installation_key: str | None = field(default=None, repr=False)


@runtime_checkable
class Reader(Protocol):
    """Reads one source format. ``name`` is what ``--format`` takes and what an import records
    as its source format; readers declare it as a class attribute (``name: ClassVar[str]``)."""

    @property
    def name(self) -> str: ...

    def sniff(self, path: Path) -> bool:
        """True if ``path`` (a file or directory) looks like this reader's format."""
        ...

    def read(self, path: Path) -> Iterator[Record]:
        """Yield a ``Case`` per valid record and an ``InvalidRecordError`` per invalid one."""
        ...


@runtime_checkable
class ReadsFileSelection(Protocol):
    """Capability: read some files of a folder as part of that folder (paths under ``root`` keep
    their meaning, e.g. a phenopacket-store cohort): this format's share of a folder read file by
    file (:mod:`ocais.ingest.folder`).

    A reader without it is given the whole folder there, and must read only the files its
    ``sniff`` accepts (as the FHIR reader does).
    """

    def read_files(self, root: Path, files: Sequence[Path]) -> Iterator[Record]: ...


def check_size(path: Path, limit: int) -> None:
    """Raise ``InputTooLargeError`` before reading a file over ``limit`` bytes."""
    size = path.stat().st_size
    if size > limit:
        raise InputTooLargeError(
            f"{path}: {size:,} bytes is over the limit of {limit:,} bytes",
            hint="split the file (e.g. into JSON Lines parts) or raise OCAIS_MAX_FILE_BYTES",
        )


def pseudonymous_source(source: str) -> str:
    """A file's folder and a hash of its name, for provenance: file names can be a patient's
    name (Synthea names FHIR files after the patient; clinics name notes after patients), and a
    case's provenance travels into derived artifacts. Rejects keep the real path for the operator.
    """
    path = Path(source)
    return str(path.parent / f"file-{hashlib.sha256(path.name.encode()).hexdigest()[:16]}")


def sha256_text(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


@dataclass
class TermCheck:
    """Result of checking a case's HPO ids against the loaded release."""

    phenotypes: list[PhenotypeObservation]
    issues: list[str] = field(default_factory=list)


def check_terms(phenotypes: list[PhenotypeObservation], terms: TermResolver | None) -> TermCheck:
    """Replace alt/obsolete HPO ids by their current ids; keep unknown ids and report them.

    Unknown ids are kept (a newer release may know them) and listed in ``issues`` so the import
    report and ``provenance.parameters['issues']`` say so. Duplicates after replacement are merged.
    """
    if terms is None:
        return TermCheck(phenotypes)
    issues: list[str] = []
    seen: dict[tuple[str, bool], PhenotypeObservation] = {}
    for obs in phenotypes:
        current = terms.resolve_id(obs.id)
        if current is None:
            issues.append(f"{obs.id} is not in HPO {terms.version}; kept as given")
            current = obs.id
        elif current != obs.id:
            issues.append(f"{obs.id} is obsolete or an alternative id; replaced by {current}")
            obs = obs.model_copy(update={"id": current})
        seen.setdefault((obs.id, obs.excluded), obs)
    return TermCheck(list(seen.values()), issues)


def local_file(uri: str) -> Path | None:
    """The path a ``file:`` URI or plain path names (``file:///abs``, ``file://rel/x`` and
    ``file:rel`` as phenopackets write them, percent-decoded); ``None`` for other schemes."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri.strip())
    if parsed.scheme == "file":
        return Path(unquote(parsed.netloc + parsed.path))
    if parsed.scheme == "" or len(parsed.scheme) == 1:  # a plain or Windows drive path
        return Path(uri.strip())
    return None
