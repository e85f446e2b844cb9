"""Reader for FHIR R4 data: one :class:`~ocais.schemas.Case` per ``Patient`` resource.

Inputs: a Bundle JSON file (Synthea writes one per patient), a single-resource JSON file, bulk-data
NDJSON files (``Patient.ndjson``, ``Condition.ndjson``, ... or mixed), or a directory of these
(recursive; files that do not look like FHIR are skipped). Patient, Condition, Observation,
MedicationRequest, Encounter and Procedure are validated with ``fhir.resources.R4B`` and read;
other types are ignored, so a Bundle without a Patient yields nothing.

A Bundle's patients get that Bundle's resources and are yielded when the Bundle is done (a folder
of Synthea bundles is streamed). Patients and resources from NDJSON or single-resource files are
pooled over the whole input and yielded at the end. A resource whose subject is not a Patient of
the input, or a Bundle patient outside its Bundle, is rejected. Only de-identified demographics are
kept (sex, birth year, age, deceased flag): never names, addresses, identifiers or birth dates. An
age over 89 is stored as 90, "90 or older", with no birth year that would show it
(:mod:`ocais.ingest.deid.ages`).

``Patient.id`` is often the hospital's record number, so a case keeps only its keyed hash
(:func:`~ocais.ingest.deid.keyed.pseudonymous_id`, as ``external_id`` and ``provenance.record_id``;
the case id derives from it): reading needs the site secret ``OCAIS_DEID_SECRET``, and the same
secret maps a re-imported patient to the same case.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from ocais.errors import InvalidRecordError, UnsupportedFormatError
from ocais.ingest.base import (
    ReaderContext,
    Record,
    check_size,
    condition_mondo_id,
    pseudonymous_source,
    sha256_text,
)
from ocais.ingest.deid import DeidConfig
from ocais.ingest.deid.ages import top_code_ages
from ocais.ingest.deid.dates import shift_findings
from ocais.ingest.deid.keyed import pseudonymous_id, site_deid_config
from ocais.schemas import (
    Case,
    Finding,
    FindingCategory,
    PhenotypeObservation,
    Provenance,
    Sex,
    Subject,
)

FORMAT = "fhir"
_CATEGORIES = {
    "Condition": FindingCategory.CONDITION,
    "Observation": FindingCategory.OBSERVATION,
    "MedicationRequest": FindingCategory.MEDICATION,
    "Encounter": FindingCategory.ENCOUNTER,
    "Procedure": FindingCategory.PROCEDURE,
}
_CODE = {"MedicationRequest": "medicationCodeableConcept", "Encounter": "type.0"}  # else "code"
# Where a resource's start and end dates are (dotted attribute paths; the first one set wins).
_START = {
    "Condition": "onsetDateTime onsetPeriod.start recordedDate",
    "Observation": "effectiveDateTime effectiveInstant effectivePeriod.start issued",
    "MedicationRequest": "authoredOn",
    "Encounter": "period.start",
    "Procedure": "performedDateTime performedPeriod.start",
}
_END = {
    "Condition": "abatementDateTime abatementPeriod.end",
    "Observation": "effectivePeriod.end",
    "Encounter": "period.end",
    "Procedure": "performedPeriod.end",
}
# Coding system URLs (and their OIDs) mapped to OCAIS system names; keys are lower case.
_SYSTEMS = {
    "http://snomed.info/sct": "SNOMEDCT",
    "urn:oid:2.16.840.1.113883.6.96": "SNOMEDCT",
    "http://loinc.org": "LOINC",
    "urn:oid:2.16.840.1.113883.6.1": "LOINC",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RXNORM",
    "urn:oid:2.16.840.1.113883.6.88": "RXNORM",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD10CM",
    "urn:oid:2.16.840.1.113883.6.90": "ICD10CM",
    "http://hl7.org/fhir/sid/icd-10": "ICD10",
    "urn:oid:2.16.840.1.113883.6.3": "ICD10",
    "http://www.nlm.nih.gov/research/umls": "UMLS",
    # the Human Phenotype Ontology: HL7's terminology URI, its OBO PURL and the project site
    "http://human-phenotype-ontology.org": "HPO",
    "http://purl.obolibrary.org/obo/hp.owl": "HPO",
    "http://purl.obolibrary.org/obo/hp": "HPO",
    "http://hpo.jax.org": "HPO",
    "http://www.human-phenotype-ontology.org": "HPO",
}
_XREF_SYSTEMS = {"SNOMEDCT": "SNOMEDCT_US", "UMLS": "UMLS"}  # OCAIS name -> hpo_for_xref system
_NOT_A_PHENOTYPE = {"entered-in-error"}  # Condition.verificationStatus codes
_RULED_OUT = {"refuted"}  # Condition.verificationStatus: the finding was looked for, absent
# Observation values / interpretations that say a finding is absent (phenopackets on FHIR, IPS):
# SNOMED CT Negative, Definitely NOT present, No, Absent; v3 ObservationInterpretation NEG
_ABSENT_CODES = {"260385009", "410594000", "373067005", "2667000", "NEG"}
_SEX = {"male": Sex.MALE, "female": Sex.FEMALE, "other": Sex.OTHER, "unknown": Sex.UNKNOWN}


def _system(url: str | None) -> str:
    if not url:
        return "unknown"
    key = url.strip().rstrip("/").lower().replace("https://", "http://", 1)
    return _SYSTEMS.get(key, url.strip())


def _day(value: object) -> date | None:
    """A FHIR date/dateTime as a date; partial dates ("2016", "2016-07") have no day: None."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _ref_key(reference: str | None) -> str | None:
    """The id in ``urn:uuid:X`` or ``[base/]Patient/X[/_history/n]``; None for other references."""
    if not reference:
        return None
    if reference.startswith("urn:uuid:"):
        return reference[len("urn:uuid:") :]
    parts = reference.split("/_history/")[0].split("/")
    if len(parts) >= 2 and parts[-2] == "Patient" and parts[-1]:
        return parts[-1]
    return None


def _codes(concept: Any) -> list[tuple[str, str, str | None]]:
    """(system, code, display) of each coding of a CodeableConcept that has a code."""
    if concept is None:
        return []
    text = concept.text
    return [(_system(c.system), c.code, c.display or text) for c in concept.coding or [] if c.code]


def _value(element: Any) -> tuple[float | str | None, str | None]:
    """Value and unit of an Observation or Observation.component."""
    quantity = getattr(element, "valueQuantity", None)
    if quantity is not None and quantity.value is not None:
        return float(quantity.value), quantity.unit or quantity.code
    concept = getattr(element, "valueCodeableConcept", None)
    if concept is not None:
        codes = _codes(concept)
        return (codes[0][2] or codes[0][1]) if codes else concept.text, None
    for name in ("valueString", "valueInteger", "valueBoolean"):
        value = getattr(element, name, None)
        if isinstance(value, bool):
            return str(value).lower(), None
        if value is not None:
            return (float(value) if isinstance(value, int) else str(value)), None
    return None, None


def _hpo_id(code: str) -> str | None:
    """``HP:0001250``, ``HP_0001250`` or ``0001250`` → ``HP:0001250``; None otherwise."""
    digits = code.strip().upper().removeprefix("HP:").removeprefix("HP_")
    return f"HP:{digits}" if len(digits) == 7 and digits.isdigit() else None


def _encounter_class(encounter: Any) -> list[tuple[str, str, str | None]]:
    """An untyped Encounter's class (``AMB``, ``IMP``, ...; v3 ActCode) as its code, so its
    dates still count as time under observation."""
    kind = encounter.class_fhir
    if kind is None or not kind.code:
        return [("unknown", "encounter", None)]
    return [(_system(kind.system), kind.code, kind.display)]


def _absent(observation: Any) -> bool:
    """Does an Observation say its finding is absent (valueBoolean false, a negative value or
    interpretation)?"""
    if observation.valueBoolean is False:
        return True
    concepts = [observation.valueCodeableConcept, *(observation.interpretation or [])]
    for concept in concepts:
        if concept is None:
            continue
        if any(code in _ABSENT_CODES for _, code, _ in _codes(concept)):
            return True
        if (concept.text or "").strip().lower() in ("absent", "negative", "not present", "no"):
            return True
    return False


def _get(model: Any, path: str) -> Any:
    """Follow a dotted attribute path (``period.start``, ``type.0``); None where it breaks."""
    for name in path.split("."):
        if model is None:
            return None
        if name.isdigit():
            model = model[int(name)] if len(model) > int(name) else None
        else:
            model = getattr(model, name, None)
    return model


def _first_day(model: Any, paths: str) -> date | None:
    return next((d for d in (_day(_get(model, p)) for p in paths.split()) if d is not None), None)


def _concept(model: Any, path: str) -> Any:
    """The coded concept of a resource; a MedicationRequest may point to a contained Medication."""
    concept = _get(model, path)
    ref = _get(model, "medicationReference.reference") if concept is None else None
    if isinstance(ref, str) and ref.startswith("#"):
        for item in model.contained or []:
            if item.id == ref[1:] and item.get_resource_type() == "Medication":
                return item.code
    return concept


def _digest(raw: dict[str, Any]) -> str:
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return sha256_text(canonical)


@dataclass
class _Part:
    """What one clinical resource contributes to its patient's case."""

    ref: str  # the subject reference as written
    source: str
    record: str
    findings: list[Finding]
    phenotypes: list[str]
    digest: str
    excluded: list[str] = field(default_factory=list)


@dataclass
class _Patient:
    """A patient being assembled: de-identified demographics plus the parts found so far."""

    id: str
    source: str
    subject: Subject  # without age_years, set when the case is built
    birth: date | None
    death: date | None
    synthetic: bool
    digests: list[str]
    findings: list[Finding] = field(default_factory=list)
    hpo: dict[str, None] = field(default_factory=dict)  # ordered set
    excluded: dict[str, None] = field(default_factory=dict)  # ruled out

    def add(self, part: _Part) -> None:
        self.findings.extend(part.findings)
        self.hpo.update(dict.fromkeys(part.phenotypes))
        self.excluded.update(dict.fromkeys(part.excluded))
        self.digests.append(part.digest)

    def age(self) -> float | None:
        dates = [d for f in self.findings for d in (f.date, f.end_date) if d is not None]
        at, year = self.death or max(dates, default=None), self.subject.birth_year
        if at is None or year is None:
            return None
        years = (at - self.birth).days / 365.25 if self.birth else at.year - year
        return round(years, 1) if 0 <= years <= 150 else None


class _Run:
    """State of one ``read`` call (no module-level state)."""

    def __init__(self, context: ReaderContext, deid: DeidConfig) -> None:
        self.context = context
        self.deid = deid
        self.xrefs: dict[tuple[str, str], list[str]] = {}
        self.pool_patients: dict[str, _Patient] = {}
        self.pool_parts: list[_Part] = []
        self.bundled: dict[str, str] = {}  # patient id -> Bundle file it was read from
        self.rejected: set[str] = set()  # ids of rejected Patients (their resources are dropped)

    def file(self, path: Path) -> Iterator[Record]:
        source = str(path)
        if path.suffix.lower() == ".ndjson":
            with path.open("rb") as lines:
                for number, line in enumerate(lines, 1):
                    if line.strip():
                        yield from self._loose(line, source, f"line {number}")
            return
        yield from self._loose(path.read_bytes(), source, None)

    def _loose(self, text: bytes, source: str, where: str | None) -> Iterator[Record]:
        """One JSON document (a file or an NDJSON line): a Bundle or a single resource."""
        try:
            raw = json.loads(text)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            yield _reject(f"malformed JSON: {exc}", source, where, None)
            return
        if not (isinstance(raw, dict) and raw.get("resourceType") == "Bundle"):
            yield from self._batch([(raw, where, None)], source, bundle=False)
            return
        entries = raw.get("entry") or []
        if not isinstance(entries, list):
            entries = [entries]
        items: list[tuple[Any, str | None, str | None]] = []
        for index, entry in enumerate(entries):
            record = f"entry {index}" if where is None else f"{where}, entry {index}"
            if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                yield _reject("Bundle entry has no resource", source, record, "resource")
                continue
            full_url = entry.get("fullUrl")
            items.append(
                (entry["resource"], record, full_url if isinstance(full_url, str) else None)
            )
        yield from self._batch(items, source, bundle=True)

    def _batch(
        self, items: list[tuple[Any, str | None, str | None]], source: str, *, bundle: bool
    ) -> Iterator[Record]:
        """Resources (raw, record, fullUrl) of one document; a Bundle's patients are done here."""
        local: dict[str, _Patient] = {}
        aliases: dict[str, str] = {}  # id or fullUrl uuid -> patient id, within the Bundle
        parts: list[_Part] = []
        for raw, record, full_url in items:
            out = self._resource(raw, source, record, full_url)
            if isinstance(out, _Patient):
                if any(out.id in ids for ids in (local, self.pool_patients, self.bundled)):
                    yield _twice(out)
                elif bundle:
                    local[out.id] = out
                    aliases.update(
                        dict.fromkeys(filter(None, (out.id, _ref_key(full_url))), out.id)
                    )
                else:
                    self.pool_patients[out.id] = out
            elif isinstance(out, _Part):
                parts.append(out)
            elif out is not None:
                yield out
        for part in parts:
            owner = aliases.get(_ref_key(part.ref) or "")
            if owner is None:
                self.pool_parts.append(part)
            else:
                local[owner].add(part)
        for patient in local.values():
            self.bundled[patient.id] = source
            yield self.case(patient)

    def _resource(
        self, raw: Any, source: str, record: str | None, full_url: str | None
    ) -> _Patient | _Part | InvalidRecordError | None:
        """Validate one resource and turn it into a patient or a part; None if not handled."""
        kind = raw.get("resourceType") if isinstance(raw, dict) else None
        if not isinstance(kind, str):
            return _reject("not a FHIR resource (no resourceType)", source, record, "resourceType")
        if kind != "Patient" and kind not in _CATEGORIES:
            return None
        rid = raw.get("id")
        label = f"{kind}/{rid}" if isinstance(rid, str) else kind
        record = label if record is None else f"{record} ({label})"
        try:
            model: Any = get_fhir_model_class(kind).model_validate(raw)
        except ValidationError as exc:
            if kind == "Patient":
                self.rejected.update(
                    filter(None, (rid if isinstance(rid, str) else None, _ref_key(full_url)))
                )
            return _invalid(exc, f"{kind} is not valid FHIR R4", source, record)
        if kind == "Patient":
            return self._patient(model, raw, source, record, full_url)
        return self._part(model, raw, source, record)

    def _patient(
        self, model: Any, raw: dict[str, Any], source: str, record: str, full_url: str | None
    ) -> _Patient | InvalidRecordError:
        pid = model.id or _ref_key(full_url)
        if not pid:
            return _reject("Patient has no id", source, record, "id")
        birth = model.birthDate
        year = int(birth[:4]) if isinstance(birth, str) else birth.year if birth else None
        death = model.deceasedDateTime
        deceased = True if death is not None else model.deceasedBoolean
        sex = _SEX.get(model.gender or "unknown", Sex.UNKNOWN)
        try:
            subject = Subject(sex=sex, birth_year=year, deceased=deceased)
        except ValidationError as exc:
            self.rejected.add(pid)
            return _invalid(exc, "Patient cannot be read", source, record)
        synthetic = any("synthea" in (i.system or "").lower() for i in model.identifier or [])
        digests = [_digest(raw)]
        return _Patient(pid, source, subject, _day(birth), _day(death), synthetic, digests)

    def _part(
        self, model: Any, raw: dict[str, Any], source: str, record: str
    ) -> _Part | InvalidRecordError:
        subject = model.subject.reference if model.subject else None
        if _ref_key(subject) is None:
            message = f"subject {subject!r} is not a reference to a Patient"
            return _reject(message, source, record, "subject.reference")
        kind = model.get_resource_type()
        category, path = _CATEGORIES[kind], _CODE.get(kind, "code")
        start, end = _first_day(model, _START[kind]), _first_day(model, _END.get(kind, ""))
        findings: list[Finding] = []
        elements = [model, *(model.component or [])] if kind == "Observation" else [model]
        try:
            for element in elements:
                codes = _codes(_concept(model, path) if element is model else element.code)
                if not codes and kind == "Encounter":
                    codes = _encounter_class(model)  # a visit without a type still dates care
                value, unit = _value(element) if kind == "Observation" else (None, None)
                if codes:
                    findings.append(self._finding(category, codes, value, unit, start, end))
        except ValidationError as exc:
            return _invalid(exc, "cannot build a finding", source, record)
        phenotypes: list[str] = []
        excluded: list[str] = []
        if kind == "Condition" and findings:
            status = {c for _, c, _ in _codes(model.verificationStatus)}
            if status & _RULED_OUT:
                excluded = findings[0].hpo_ids
            elif not status & _NOT_A_PHENOTYPE:
                phenotypes = findings[0].hpo_ids
        elif kind == "Observation" and findings and model.status != "entered-in-error":
            # an observed finding coded in (or cross-referenced to) HPO is a phenotype; a
            # measurement whose code has no HPO term stays a finding only
            if _absent(model):
                excluded = findings[0].hpo_ids
            else:
                phenotypes = findings[0].hpo_ids
        return _Part(
            subject or "", source, record, findings, phenotypes, _digest(raw), excluded=excluded
        )

    def _finding(
        self,
        category: FindingCategory,
        codes: list[tuple[str, str, str | None]],
        value: float | str | None,
        unit: str | None,
        start: date | None,
        end: date | None,
    ) -> Finding:
        hpo: dict[str, None] = {}
        for system, code, _ in codes:
            hpo.update(dict.fromkeys(self._hpo(system, code)))
        system, code, display = codes[0]
        mondo_id = None
        if category is FindingCategory.CONDITION:
            mondo_id = condition_mondo_id(self.context.terms, [(s, c) for s, c, _ in codes])
        return Finding(
            category=category,
            system=system,
            code=code,
            display=display,
            value=value,
            unit=unit,
            date=start,
            end_date=end,
            hpo_ids=list(hpo),
            mondo_id=mondo_id,
        )

    def _hpo(self, system: str, code: str) -> list[str]:
        terms = self.context.terms
        if system == "HPO":
            term = _hpo_id(code)
            if term is None:
                return []
            if terms is None:
                return [term]
            current = terms.resolve_id(term)  # alternative and obsolete ids: the current one
            return [current] if current else []
        xref = _XREF_SYSTEMS.get(system)
        if terms is None or xref is None:
            return []
        key = (xref, code)
        if key not in self.xrefs:
            self.xrefs[key] = list(terms.hpo_for_xref(xref, code))
        return self.xrefs[key]

    def finish(self) -> Iterator[Record]:
        """Join the pooled resources to the pooled patients and yield those cases."""
        for part in self.pool_parts:
            key = _ref_key(part.ref) or ""
            patient = self.pool_patients.get(key)
            if patient is not None:
                patient.add(part)
            elif key in self.bundled:
                message = (
                    f"refers to Patient {key} of the Bundle {self.bundled[key]}; resources"
                    " outside a patient's Bundle are not merged into it"
                )
                yield _reject(message, part.source, part.record, "subject.reference")
            elif key not in self.rejected:
                message = f"refers to {part.ref!r}, which is not a Patient in the input"
                yield _reject(message, part.source, part.record, "subject.reference")
        self.pool_parts.clear()
        for patient in self.pool_patients.values():
            yield self.case(patient)

    def case(self, patient: _Patient) -> Case | InvalidRecordError:
        terms = self.context.terms
        digest = hashlib.sha256("\n".join(sorted(patient.digests)).encode()).hexdigest()
        record_id = pseudonymous_id(self.deid.secret, patient.id)
        try:
            case = Case(
                id=Case.stable_id(FORMAT, record_id),
                external_id=record_id,
                subject=patient.subject.model_copy(update={"age_years": patient.age()}),
                phenotypes=[PhenotypeObservation(id=h, label=None) for h in patient.hpo]
                + [
                    PhenotypeObservation(id=h, label=None, excluded=True)
                    for h in patient.excluded
                    if h not in patient.hpo  # observed somewhere wins over ruled out elsewhere
                ],
                # dates move by the patient's keyed shift (ages were computed before)
                findings=shift_findings(
                    patient.findings, self.deid.secret.get_secret_value(), record_id, self.deid
                ),
                site=self.context.site,
                synthetic=patient.synthetic,
                provenance=Provenance(
                    source=pseudonymous_source(patient.source),
                    source_format=FORMAT,
                    record_id=record_id,
                    record_hash=digest,
                    created_by=self.context.created_by,
                    knowledge_version=terms.version if terms is not None else None,
                    parameters={"dates": "shifted per patient (keyed), intervals kept"},
                ),
            )
        except ValidationError as exc:
            return _invalid(exc, "cannot build the case", patient.source, f"Patient/{patient.id}")
        return top_code_ages(case)


class FhirReader:
    """Reads FHIR R4 Bundles, NDJSON files or a directory of them (see the module docstring)."""

    name: ClassVar[str] = FORMAT

    def __init__(self, context: ReaderContext, deid_config: DeidConfig | None = None) -> None:
        self.context = context
        self._deid_config = deid_config  # None: the site secret from OCAIS_DEID_SECRET

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            return any(_looks_like_fhir(p) for p in path.rglob("*"))
        return _looks_like_fhir(path)

    def _deid(self) -> DeidConfig:
        return site_deid_config(
            self._deid_config,
            "FHIR Patient ids are kept only as a keyed hash",
            installation_key=self.context.installation_key,
        )

    def read_document(self, document: dict[str, Any], source: str) -> Iterator[Record]:
        """One Bundle or resource already in memory (a CDS Hooks prefetch, a server's
        answer), read exactly as a file of it would be; ``source`` names where it came from."""
        run = _Run(self.context, self._deid())
        text = json.dumps(document, ensure_ascii=False).encode("utf-8")
        yield from run._loose(text, source, None)
        yield from run.finish()

    def read(self, path: Path) -> Iterator[Record]:
        if not path.exists():
            raise UnsupportedFormatError(f"{path} does not exist")
        deid = self._deid()
        files = (
            [p for p in sorted(path.rglob("*")) if _looks_like_fhir(p)] if path.is_dir() else [path]
        )
        run = _Run(self.context, deid)
        for file in files:
            check_size(file, self.context.max_file_bytes)
            yield from run.file(file)
        yield from run.finish()


def _looks_like_fhir(path: Path) -> bool:
    """A ``.json``/``.ndjson`` file whose beginning mentions ``resourceType``."""
    if path.suffix.lower() not in (".json", ".ndjson") or not path.is_file():
        return False
    try:
        with path.open("rb") as head:
            return b'"resourceType"' in head.read(64 * 1024)
    except OSError:
        return False


def _reject(message: str, source: str, record: str | None, field: str | None) -> InvalidRecordError:
    return InvalidRecordError(message, source=source, record=record, field=field)


def _invalid(exc: ValidationError, what: str, source: str, record: str) -> InvalidRecordError:
    """A reject naming the first pydantic error (its message only: never the input value)."""
    first = exc.errors()[0]
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return InvalidRecordError(
        f"{what}: {first['msg']}{more}",
        source=source,
        record=record,
        field=".".join(str(part) for part in first["loc"]) or None,
    )


def _twice(patient: _Patient) -> InvalidRecordError:
    message = f"Patient {patient.id} appears more than once in the input; the first one is kept"
    return _reject(message, patient.source, f"Patient/{patient.id}", "id")
