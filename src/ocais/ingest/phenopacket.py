"""GA4GH Phenopacket v2 reader.

Reads a single ``.json`` packet, JSON Lines (``.jsonl``/``.ndjson``, one packet per line), a
directory tree (e.g. phenopacket-store's ``notebooks/<cohort>/phenopackets/*.json``), or a
``.tar.gz``/``.tgz``/``.zip`` archive of such files, without unpacking it to disk.

Each packet is validated by the official schema (the ``phenopackets`` protobuf classes:
unknown fields and wrong enum values are errors naming the field). A Phenopacket v1 file is
refused with a message saying how to convert it.

A packet's ``id`` is kept verbatim as ``external_id``: phenopackets are published case reports
(phenopacket-store ids such as ``PMID_23495017_Patient_23`` name the publication), not record
numbers. Ages over 89 are still stored as 90, "90 or older", with no birth year that would show
it, as from every other source (:mod:`ocais.ingest.deid.ages`): a packet may come from a
clinic, not a journal.
"""

from __future__ import annotations

import json
import tarfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from google.protobuf.json_format import ParseDict, ParseError
from phenopackets import Phenopacket

from ocais.errors import InvalidRecordError, UnsupportedFormatError
from ocais.ingest.base import (
    ReaderContext,
    Record,
    check_size,
    check_terms,
    local_file,
    sha256_text,
)
from ocais.ingest.deid.ages import top_code_ages
from ocais.ingest.parallel import parse_in_workers
from ocais.schemas import (
    Case,
    Classification,
    Diagnosis,
    Finding,
    FindingCategory,
    GenomicFile,
    Genomics,
    PhenotypeObservation,
    Provenance,
    Sex,
    Subject,
    VariantCall,
    Zygosity,
    iso_duration_years,
)

JSON_SUFFIXES = (".json",)
LINES_SUFFIXES = (".jsonl", ".ndjson")
#: files OCAIS writes beside packets: a synthetic set's manifest, a simulated set's summary
SKIPPED_FILES = frozenset({"ocais-manifest.json", "ocais-simulation.json"})
#: the external reference id prefix that marks a packet written by `ocais synth`
SYNTHETIC_REFERENCE = "ocais:synthetic/"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
_V1_ONLY_FIELDS = {"genes", "variants", "hgvsAlleles"}
_SEX = {"FEMALE": Sex.FEMALE, "MALE": Sex.MALE, "OTHER_SEX": Sex.OTHER}
_WEEKS_PER_YEAR = 365.25 / 7


def _is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _age_years(element: Any) -> tuple[float | None, str | None]:
    """(age in years, HPO onset term) from a phenopacket TimeElement."""
    kind = element.WhichOneof("element")
    if kind == "age":
        return iso_duration_years(element.age.iso8601duration), None
    if kind == "gestational_age":
        weeks = element.gestational_age.weeks + element.gestational_age.days / 7
        return round((weeks - 40) / _WEEKS_PER_YEAR, 4), None
    if kind == "ontology_class" and element.ontology_class.id.startswith("HP:"):
        return None, element.ontology_class.id
    return None, None


def _split_lines(
    text: str, source: str, member: PurePosixPath
) -> Iterator[tuple[str, str, str | None, str]]:
    if member.suffix in LINES_SUFFIXES:
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield line, source, f"line {number}", str(member)
    else:
        yield text, source, None, str(member)


def _cohort(member: PurePosixPath) -> str | None:
    """phenopacket-store layout: ``.../<cohort>/phenopackets/<file>.json``."""
    parts = member.parts
    if len(parts) >= 3 and parts[-2] == "phenopackets":
        return parts[-3]
    return None


class PhenopacketReader:
    """Reader for GA4GH Phenopacket v2 JSON."""

    name: ClassVar[str] = "phenopacket"

    def __init__(self, context: ReaderContext) -> None:
        self.context = context

    # --- discovery --------------------------------------------------------------------------
    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            return any(self.sniff(p) for p in sorted(path.rglob("*.json"))[:20])
        if _is_archive(path):
            return True
        if path.suffix in JSON_SUFFIXES + LINES_SUFFIXES and path.is_file():
            with path.open("rb") as handle:
                head = handle.read(64 * 1024)
            if b'"resourceType"' in head:
                return False  # FHIR
            return b'"phenotypicFeatures"' in head or b'"phenopacketSchemaVersion"' in head
        return False

    def read(self, path: Path) -> Iterator[Record]:
        yield from self._parse_all(self._items(path), many=path.is_dir() or _is_archive(path))

    def read_files(self, root: Path, files: Sequence[Path]) -> Iterator[Record]:
        """The packets of ``files`` only, each read as part of the folder ``root`` (a mixed
        folder's share; see :class:`~ocais.ingest.base.ReadsFileSelection`)."""
        items = (item for file in files for item in self._file_items(root, file))
        yield from self._parse_all(items, many=True)

    def _parse_all(
        self, items: Iterator[tuple[str, str, str | None, str]], *, many: bool
    ) -> Iterator[Record]:
        if self.context.workers > 1 and many:
            yield from parse_in_workers(PhenopacketReader, self.context, items, preload=(__name__,))
        else:
            yield from map(self.parse_item, items)

    def _items(self, path: Path) -> Iterator[tuple[str, str, str | None, str]]:
        """(text, source, record, member) for every packet, without parsing."""
        if not path.exists():
            raise UnsupportedFormatError(f"{path} does not exist")
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.is_file() and file.suffix in JSON_SUFFIXES + LINES_SUFFIXES:
                    yield from self._file_items(path, file)
        elif _is_archive(path):
            check_size(path, self.context.max_file_bytes)
            yield from self._archive_items(path)
        else:
            check_size(path, self.context.max_file_bytes)
            text = path.read_text(encoding="utf-8", errors="replace")
            yield from _split_lines(text, str(path), PurePosixPath(path.name))

    def _file_items(self, root: Path, file: Path) -> Iterator[tuple[str, str, str | None, str]]:
        if file.name in SKIPPED_FILES:
            return  # a synthetic set's manifest (ocais.synth), not a packet
        check_size(file, self.context.max_file_bytes)
        text = file.read_text(encoding="utf-8", errors="replace")
        yield from _split_lines(text, str(file), PurePosixPath(file.relative_to(root)))

    def _archive_items(self, path: Path) -> Iterator[tuple[str, str, str | None, str]]:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                for info in sorted(archive.infolist(), key=lambda i: i.filename):
                    member = PurePosixPath(info.filename)
                    if not info.is_dir() and member.suffix in JSON_SUFFIXES + LINES_SUFFIXES:
                        text = archive.read(info).decode("utf-8", errors="replace")
                        yield from _split_lines(text, f"{path}!{member}", member)
            return
        with tarfile.open(path, "r:*") as archive:
            for tar_member in archive:
                member = PurePosixPath(tar_member.name)
                if not tar_member.isfile() or member.suffix not in JSON_SUFFIXES + LINES_SUFFIXES:
                    continue
                handle = archive.extractfile(tar_member)
                if handle is not None:
                    text = handle.read().decode("utf-8", errors="replace")
                    yield from _split_lines(text, f"{path}!{member}", member)

    def parse_item(self, item: tuple[Any, ...]) -> Record:
        text, source, record, member = item
        return self._parse(text, source, record, PurePosixPath(member))

    # --- one packet -------------------------------------------------------------------------
    def _parse(self, text: str, source: str, record: str | None, member: PurePosixPath) -> Record:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            return InvalidRecordError(
                f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                source=source,
                record=record,
            )
        if not isinstance(raw, dict):
            return InvalidRecordError(
                "expected a JSON object (one phenopacket)", source=source, record=record
            )
        packet_id = raw.get("id")
        if isinstance(packet_id, str) and packet_id:
            record = f"{record} ({packet_id})" if record else packet_id
        version = str(raw.get("metaData", {}).get("phenopacketSchemaVersion", ""))
        if version.startswith("1") or _V1_ONLY_FIELDS & raw.keys():
            return InvalidRecordError(
                f"this is a Phenopacket v1 file (schema version {version or 'unknown'}); "
                "OCAIS reads v2 only",
                source=source,
                record=record,
                field="metaData.phenopacketSchemaVersion",
                hint="convert it with phenopacket-tools (`phenopacket-tools convert`)",
            )
        if "phenotypicFeatures" not in raw and "subject" not in raw:
            return InvalidRecordError(
                "not a phenopacket: no 'subject' or 'phenotypicFeatures'",
                source=source,
                record=record,
            )
        for name in ("subject", "metaData"):
            if name in raw and not isinstance(raw[name], dict):
                return InvalidRecordError(
                    f"expected an object, got {type(raw[name]).__name__}",
                    source=source,
                    record=record,
                    field=name,
                )
        try:
            packet = ParseDict(raw, Phenopacket())
        except ParseError as exc:
            return InvalidRecordError(
                str(exc), source=source, record=record, field=_field_from_parse_error(str(exc))
            )
        if not packet.id:
            return InvalidRecordError(
                "missing required field", source=source, record=record, field="id"
            )
        try:
            return self._to_case(packet, text, source, member)
        except ValueError as exc:  # pydantic.ValidationError and bad durations
            return InvalidRecordError(str(exc), source=source, record=packet.id)

    def _to_case(self, packet: Any, text: str, source: str, member: PurePosixPath) -> Case:
        subject = packet.subject
        age = None
        if subject.HasField("time_at_last_encounter"):
            age, _ = _age_years(subject.time_at_last_encounter)
        birth_year = (
            int(subject.date_of_birth.ToDatetime().year)
            if subject.HasField("date_of_birth")
            else None
        )
        deceased = None
        if subject.HasField("vital_status"):
            deceased = subject.vital_status.status == 2  # VitalStatus.Status.DECEASED
        phenotypes = []
        for feature in packet.phenotypic_features:
            onset_age, onset_term = (None, None)
            if feature.HasField("onset"):
                onset_age, onset_term = _age_years(feature.onset)
            phenotypes.append(
                PhenotypeObservation(
                    id=feature.type.id,
                    label=feature.type.label or None,
                    excluded=feature.excluded,
                    onset_age_years=onset_age,
                    onset_term=onset_term,
                )
            )
        checked = check_terms(phenotypes, self.context.terms)
        case = Case(
            id=Case.stable_id(self.name, packet.id),
            external_id=packet.id,
            subject=Subject(
                sex=_SEX.get(_sex_name(subject.sex), Sex.UNKNOWN),
                age_years=age if age is None or age >= 0 else 0.0,
                birth_year=birth_year,
                deceased=deceased,
            ),
            phenotypes=checked.phenotypes,
            findings=_measurements(packet),
            diagnoses=_diagnoses(packet),
            site=self.context.site,
            cohort=_cohort(member),
            synthetic=_marked_synthetic(packet),
            genomics=_genomics(packet, source),
            provenance=Provenance(
                source=source,
                source_format=self.name,
                record_id=packet.id,
                record_hash=sha256_text(text),
                created_by=self.context.created_by,
                knowledge_version=self.context.terms.version if self.context.terms else None,
                parameters={
                    "schema_version": packet.meta_data.phenopacket_schema_version,
                    **({"issues": checked.issues} if checked.issues else {}),
                },
            ),
        )
        return top_code_ages(case)


def _marked_synthetic(packet: Any) -> bool:
    """A packet written by ``ocais synth`` says so in ``metaData.externalReferences``."""
    return any(
        ref.id.startswith(SYNTHETIC_REFERENCE) for ref in packet.meta_data.external_references
    )


_ALLELIC_STATES = {
    "GENO:0000135": Zygosity.HETEROZYGOUS,
    "GENO:0000136": Zygosity.HOMOZYGOUS,
    "GENO:0000134": Zygosity.HEMIZYGOUS,
    "GENO:0000458": Zygosity.HETEROZYGOUS,  # simple heterozygous
    "GENO:0000402": Zygosity.HETEROZYGOUS,  # compound heterozygous (one call per allele)
}
_ACMG = {
    "PATHOGENIC": Classification.PATHOGENIC,
    "LIKELY_PATHOGENIC": Classification.LIKELY_PATHOGENIC,
    "UNCERTAIN_SIGNIFICANCE": Classification.UNCERTAIN,
    "LIKELY_BENIGN": Classification.LIKELY_BENIGN,
    "BENIGN": Classification.BENIGN,
}
_REJECTED = 1  # GenomicInterpretation.InterpretationStatus.REJECTED


def _genomics(packet: Any, source: str) -> Genomics | None:
    """The packet's sequencing results: its ``files`` of format VCF (paths relative to the
    packet's folder) and its genomic interpretations (genes; variants with ACMG class and
    allelic state). Rejected interpretations are left out."""
    from phenopackets import AcmgPathogenicityClassification

    files = []
    for file in packet.files:
        attributes = dict(file.file_attributes)
        fmt = str(attributes.get("fileFormat") or attributes.get("file_format") or "").lower()
        uri = file.uri.strip()
        looks_vcf = uri.lower().endswith((".vcf", ".vcf.gz", ".vcf.bgz", ".bcf"))
        if not uri or (fmt and fmt not in ("vcf", "bcf")) or (not fmt and not looks_vcf):
            continue
        samples = list(dict(file.individual_to_file_identifiers).items())
        subject = packet.subject.id
        sample = dict(samples).get(subject) if subject else None
        if sample is None and len(samples) == 1:
            sample = samples[0][1]
        files.append(
            GenomicFile(
                uri=_beside(uri, source),
                sample=sample or None,
                assembly=attributes.get("genomeAssembly") or None,
            )
        )
    variants: list[VariantCall] = []
    genes: list[str] = []
    for interpretation in packet.interpretations:
        for found in interpretation.diagnosis.genomic_interpretations:
            if found.interpretation_status == _REJECTED:
                continue
            if found.HasField("gene"):
                symbol = found.gene.symbol
                genes.append(f"{found.gene.value_id}|{symbol}" if symbol else found.gene.value_id)
                continue
            if not found.HasField("variant_interpretation"):
                continue
            variant = found.variant_interpretation
            descriptor = variant.variation_descriptor
            context = descriptor.gene_context
            if not (context.symbol or context.value_id):
                continue
            record = descriptor.vcf_record
            shown = [e.value for e in descriptor.expressions if e.syntax in ("hgvs.c", "hgvs.p")]
            if record.chrom:
                shown.insert(0, f"{record.chrom}:{record.pos} {record.ref}>{record.alt}")
            acmg = AcmgPathogenicityClassification.Name(variant.acmg_pathogenicity_classification)
            variants.append(
                VariantCall(
                    gene=context.symbol or context.value_id,
                    gene_id=context.value_id or None,
                    variant=" ".join(shown)[:500] or descriptor.label[:500] or None,
                    classification=_ACMG.get(acmg),
                    zygosity=_ALLELIC_STATES.get(descriptor.allelic_state.id, Zygosity.UNKNOWN),
                )
            )
    if not (files or variants or genes):
        return None
    return Genomics(files=files, variants=variants, genes=genes)


def _beside(uri: str, source: str) -> str:
    """A relative ``file:`` URI or path, resolved against the packet's folder; an absolute one
    that does not exist (a folder moved since it was written) but whose file is beside the
    packet, that file."""
    path = local_file(uri)
    if path is None or "!" in source:  # remote, or inside an archive
        return uri
    folder = Path(source).parent
    if path.is_absolute():
        moved = folder / path.name
        return str(moved.resolve()) if not path.exists() and moved.is_file() else uri
    return str((folder / path).resolve())


def _sex_name(value: int) -> str:
    from phenopackets import Sex as PacketSex

    return str(PacketSex.Name(value))


def _diagnoses(packet: Any) -> list[Diagnosis]:
    found: dict[str, Diagnosis] = {}
    for interpretation in packet.interpretations:
        disease = interpretation.diagnosis.disease
        if disease.id:
            solved = interpretation.progress_status == 3  # ProgressStatus.SOLVED
            found.setdefault(
                disease.id,
                Diagnosis(
                    disease_id=disease.id,
                    label=disease.label or None,
                    status="confirmed" if solved else "provisional",
                ),
            )
    for disease in packet.diseases:
        if disease.term.id and disease.term.id not in found:
            found[disease.term.id] = Diagnosis(
                disease_id=disease.term.id,
                label=disease.term.label or None,
                status="excluded" if disease.excluded else "confirmed",
            )
    return list(found.values())


def _measurements(packet: Any) -> list[Finding]:
    findings = []
    for measurement in packet.measurements:
        assay = measurement.assay
        if not assay.id or ":" not in assay.id:
            continue
        system, code = assay.id.split(":", 1)
        value: float | str | None = None
        unit = None
        if measurement.HasField("value"):
            if measurement.value.HasField("quantity"):
                value = measurement.value.quantity.value
                unit = measurement.value.quantity.unit.label or measurement.value.quantity.unit.id
            elif measurement.value.HasField("ontology_class"):
                value = measurement.value.ontology_class.id
        findings.append(
            Finding(
                category=FindingCategory.OBSERVATION,
                system=system,
                code=code,
                display=assay.label or None,
                value=value,
                unit=unit or None,
            )
        )
    return findings


def _field_from_parse_error(message: str) -> str | None:
    """Protobuf parse errors end with 'at Phenopacket.subject.sex.'; keep the field path."""
    marker = " at Phenopacket."
    if marker in message:
        return message.rsplit(marker, 1)[1].rstrip(".").strip() or None
    if "has no field named" in message:
        return message.split('"')[1] if '"' in message else None
    return None
