"""Domain types shared by every layer (pydantic v2).

A :class:`Case` is one patient as OCAIS sees it, whatever the source: demographics, phenotype
observations (HPO, with an excluded flag), coded findings (SNOMED CT, LOINC, ICD, RxNorm, ...),
free-text notes, diagnoses, and where it came from (:class:`Provenance`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import re
import uuid
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

HPO_ID_PATTERN = r"^HP:\d{7}$"
CURIE_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*:\S+$"

HpoId = Annotated[str, StringConstraints(pattern=HPO_ID_PATTERN)]
Curie = Annotated[str, StringConstraints(pattern=CURIE_PATTERN, max_length=200)]

# Fixed namespace so that a source record always maps to the same case id, on every site.
CASE_ID_NAMESPACE = uuid.UUID("6f1b8a4e-3c2d-4e7f-9a10-5b6c7d8e9f01")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, str_strip_whitespace=True)


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class Subject(_Model):
    """Demographics, minimal by design (no names or exact dates: de-identified)."""

    sex: Sex = Sex.UNKNOWN
    age_years: float | None = Field(
        default=None, ge=0, le=150, description="Age at last encounter (or at the record date)."
    )
    birth_year: int | None = Field(default=None, ge=1850, le=2200)
    deceased: bool | None = None


class PhenotypeObservation(_Model):
    """One HPO term observed in (or explicitly excluded from) the patient."""

    id: HpoId
    label: str | None = None
    excluded: bool = False
    onset_age_years: float | None = Field(default=None, ge=-1, le=150)
    onset_term: HpoId | None = Field(
        default=None, description="HPO onset class (HP:0003674 subtree), if given instead of an age"
    )


class FindingCategory(StrEnum):
    CONDITION = "condition"
    OBSERVATION = "observation"
    MEDICATION = "medication"
    PROCEDURE = "procedure"
    ENCOUNTER = "encounter"
    OTHER = "other"


class Finding(_Model):
    """A coded finding from an EHR: a condition, lab value, medication, procedure or encounter."""

    category: FindingCategory
    system: str = Field(description="Code system, e.g. SNOMEDCT, LOINC, ICD10CM, RXNORM")
    code: str
    display: str | None = None
    value: float | str | None = None
    unit: str | None = None
    date: dt.date | None = None
    end_date: dt.date | None = None
    hpo_ids: list[HpoId] = Field(
        default_factory=list, description="HPO terms this code maps to (via ontology xrefs)"
    )
    mondo_id: str | None = Field(
        default=None,
        description="The MONDO disease a condition code (ICD-10-CM, SNOMED CT) is an exact "
        "match of, if any",
    )


class Note(_Model):
    """A free-text clinical document."""

    text: str
    kind: str = "note"
    date: dt.date | None = None


class Diagnosis(_Model):
    disease_id: Curie = Field(description="OMIM:..., ORPHA:..., MONDO:..., SNOMEDCT:...")
    label: str | None = None
    status: Literal["confirmed", "provisional", "excluded"] = "confirmed"


class Zygosity(StrEnum):
    HETEROZYGOUS = "heterozygous"
    HOMOZYGOUS = "homozygous"
    HEMIZYGOUS = "hemizygous"
    UNKNOWN = "unknown"


class Classification(StrEnum):
    """ACMG/AMP (and ClinVar) pathogenicity classes."""

    PATHOGENIC = "pathogenic"
    LIKELY_PATHOGENIC = "likely_pathogenic"
    UNCERTAIN = "uncertain_significance"
    LIKELY_BENIGN = "likely_benign"
    BENIGN = "benign"


class Impact(StrEnum):
    """Predicted impact (snpEff / VEP IMPACT)."""

    HIGH = "HIGH"
    MODERATE = "MODERATE"
    LOW = "LOW"
    MODIFIER = "MODIFIER"


class VariantCall(_Model):
    """One variant allele the patient carries, as far as a gene is concerned: from a VCF
    (annotated by snpEff, VEP, ClinVar) or a phenopacket's genomic interpretation."""

    gene: str = Field(min_length=1, max_length=100, description="Symbol, or NCBIGene:/HGNC: id")
    gene_id: str | None = Field(
        default=None, max_length=100, description="NCBIGene:... or HGNC:..."
    )
    variant: str | None = Field(
        default=None, max_length=500, description="chrom:pos ref>alt and/or HGVS, for display"
    )
    effect: str | None = Field(default=None, max_length=200, description="Sequence Ontology term")
    impact: Impact | None = None
    classification: Classification | None = None
    zygosity: Zygosity = Zygosity.UNKNOWN


class GenomicFile(_Model):
    """A sequencing result the case points to (read when predicting, never stored)."""

    uri: str = Field(max_length=4000, description="Local path or file:// URI of the VCF")
    sample: str | None = Field(default=None, max_length=200, description="Sample column")
    assembly: str | None = Field(default=None, max_length=50, description="As declared")


class Genomics(_Model):
    """The patient's genomic evidence: VCFs to read, variants already called, or a plain list of
    candidate genes (symbols, ``NCBIGene:`` ids, ``HGNC:nnnn|SYMBOL``)."""

    files: list[GenomicFile] = Field(default_factory=list, max_length=10)
    variants: list[VariantCall] = Field(default_factory=list, max_length=200_000)
    genes: list[str] = Field(default_factory=list, max_length=5000)

    @property
    def empty(self) -> bool:
        return not (self.files or self.variants or self.genes)


class Provenance(_Model):
    """Where a derived object came from: enough to trace and reproduce it."""

    source: str = Field(description="File, URI or service the record came from")
    source_format: str = Field(description="phenopacket, fhir, synthea-csv, text, ocais, ...")
    record_id: str | None = Field(default=None, description="Identifier inside the source")
    record_hash: str | None = Field(default=None, description="sha256 of the source record")
    created_at: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))
    created_by: str = Field(default="ocais", description="Software and version that made it")
    knowledge_version: str | None = Field(default=None, description="HPO release used, if any")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Config, seed, model id")


class Case(_Model):
    """One patient case."""

    id: str = Field(description="Stable id; see Case.stable_id")
    external_id: str | None = Field(default=None, description="Id in the source (e.g. packet id)")
    subject: Subject = Field(default_factory=Subject)
    phenotypes: list[PhenotypeObservation] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    diagnoses: list[Diagnosis] = Field(default_factory=list)
    site: str = "local"
    cohort: str | None = Field(default=None, description="Group the case belongs to, if any")
    synthetic: bool = False
    genomics: Genomics | None = Field(
        default=None,
        description="Sequencing results (VCFs, variants, candidate genes): used to predict, "
        "not stored unless asked (identifying)",
    )
    provenance: Provenance

    @staticmethod
    def stable_id(source_format: str, record_id: str) -> str:
        """Deterministic id of a source record: the same record always gets the same case id."""
        return str(uuid.uuid5(CASE_ID_NAMESPACE, f"{source_format}:{record_id}"))

    @property
    def source_key(self) -> str:
        """Key that makes import idempotent: format and record id within the source."""
        record = self.provenance.record_id or self.external_id or self.id
        return f"{self.provenance.source_format}:{record}"

    @property
    def observed(self) -> list[str]:
        return [p.id for p in self.phenotypes if not p.excluded]

    @property
    def excluded(self) -> list[str]:
        return [p.id for p in self.phenotypes if p.excluded]

    def content_hash(self) -> str:
        """Hash of the clinical content (not provenance timestamps): detects changed records."""
        # a case without genomic evidence hashes as before that field existed
        exclude = {"provenance"} if self.genomics is not None else {"provenance", "genomics"}
        payload = self.model_dump(mode="json", exclude=exclude)
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class DiseasePhenotype(_Model):
    id: HpoId
    label: str | None = None
    frequency: float | None = Field(default=None, ge=0, le=1)
    excluded: bool = False
    onset: HpoId | None = None
    sex: Sex | None = None


class Disease(_Model):
    id: Curie
    name: str
    phenotypes: list[DiseasePhenotype] = Field(default_factory=list)
    knowledge_version: str | None = None


class GroupMember(_Model):
    """One catalogue entry (OMIM, ORPHA, ...) of a candidate disease."""

    id: Curie
    name: str
    score: float | None = Field(default=None, description="The entry's own score, if ranked")
    url: str | None = None


class Candidate(_Model):
    """One disease of a differential. Entries that MONDO says are one disease (an OMIM entry
    and its Orphanet twin) are one candidate: ``disease_id`` is the best-scoring of them."""

    disease_id: Curie = Field(description="The best-scoring entry of this disease")
    name: str
    rank: int = Field(ge=1)
    score: float
    probability: float | None = Field(
        default=None, ge=0, le=1, description="Over diseases (MONDO groups), not entries"
    )
    evidence: dict[str, Any] = Field(default_factory=dict)
    mondo_id: str | None = Field(
        default=None, description="The MONDO disease; None when MONDO has no exact match"
    )
    members: list[GroupMember] = Field(
        default_factory=list, description="The disease's entries that were ranked, best first"
    )
    mondo_url: str | None = Field(
        default=None,
        description="The MONDO disease page (each member carries its own OMIM/Orphanet page)",
    )


class NextPhenotype(_Model):
    """A phenotype worth checking next: its presence or absence best separates the top
    candidates."""

    id: HpoId
    label: str
    information_gain: float = Field(ge=0, description="Expected entropy reduction (bits)")
    candidates_with: list[str] = Field(
        default_factory=list, description="Top candidates annotated with it"
    )


class GeneSuggestion(_Model):
    """A gene worth testing: a gene of one or more of the first candidates."""

    symbol: str
    gene_id: str = Field(description="NCBIGene:...")
    candidates: list[str] = Field(default_factory=list, description="Candidates it explains")


class Prediction(_Model):
    case_id: str | None = None
    predictor: str
    candidates: list[Candidate] = Field(default_factory=list)
    next_phenotypes: list[NextPhenotype] = Field(default_factory=list)
    genes_to_test: list[GeneSuggestion] = Field(
        default_factory=list,
        description="Genes of the first candidates, as a panel (genomic predictor, when the "
        "case gives no genomic data)",
    )
    warnings: list[str] = Field(
        default_factory=list, description="Input problems handled (unknown/obsolete HPO ids)"
    )
    explanation: str | None = Field(
        default=None,
        description="Why the first candidates rank where they do, written by an LLM from the "
        "evidence (rag, or a request with explain); the model is named in the provenance",
    )
    provenance: Provenance

    @field_validator("candidates")
    @classmethod
    def _sorted_unique(cls, value: list[Candidate]) -> list[Candidate]:
        ids = [c.disease_id for c in value]
        if len(ids) != len(set(ids)):
            raise ValueError("candidates must not repeat a disease id")
        mondo = [c.mondo_id for c in value if c.mondo_id is not None]
        if len(mondo) != len(set(mondo)):
            raise ValueError("candidates must not repeat a MONDO disease")
        if any(a.score < b.score for a, b in itertools.pairwise(value)):
            raise ValueError("candidates must be sorted by descending score")
        return value


_ISO_DURATION = re.compile(
    r"^P(?:(?P<y>\d+(?:\.\d+)?)Y)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<w>\d+(?:\.\d+)?)W)?"
    r"(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T.*)?$"
)


def iso_duration_years(text: str) -> float:
    """Convert an ISO 8601 age duration (``P3Y6M``, ``P10D``, ``P2W``) to years.

    Raises ``ValueError`` on anything else.
    """
    match = _ISO_DURATION.match(text.strip())
    if not match or text.strip() in ("P", "PT"):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    years = float(match["y"] or 0)
    years += float(match["m"] or 0) / 12
    years += float(match["w"] or 0) * 7 / 365.25
    years += float(match["d"] or 0) / 365.25
    return round(years, 4)
