"""Tests of the Synthea CSV reader: the real 100-patient export and small hand-made exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocais.errors import ConfigError, InputTooLargeError, InvalidRecordError, UnsupportedFormatError
from ocais.ingest.base import Reader, ReaderContext, Record
from ocais.ingest.deid import DeidConfig, pseudonymous_id
from ocais.ingest.synthea_csv import SyntheaCsvReader
from ocais.schemas import Case, FindingCategory, PhenotypeObservation, Sex

SYNTHEA_ZIP = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "synthea-100"
    / "synthea-100-csv-fhir.zip"
)

DIABETES = "44054006"
HYPERGLYCEMIA = "HP:0003074"
SECRET = "a-long-random-test-secret-for-synthea"


@pytest.fixture(autouse=True)
def site_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCAIS_DEID_SECRET", SECRET)


def hashed(patient_id: str, secret: str = SECRET) -> str:
    """What a case keeps of a patient's Id."""
    return pseudonymous_id(secret, patient_id)


class FakeTerms:
    """A TermResolver knowing one SNOMED CT code."""

    version = "hp-test-2024-01-01"

    def resolve_id(self, term_id: str) -> str | None:
        return term_id

    def hpo_for_xref(self, system: str, code: str) -> list[str]:
        if system == "SNOMEDCT_US" and code == DIABETES:
            return [HYPERGLYCEMIA, HYPERGLYCEMIA]
        return []


def split(records: list[Record]) -> tuple[list[Case], list[InvalidRecordError]]:
    cases = [r for r in records if isinstance(r, Case)]
    rejects = [r for r in records if isinstance(r, InvalidRecordError)]
    assert len(cases) + len(rejects) == len(records)
    return cases, rejects


def count(case: Case, category: FindingCategory) -> int:
    return sum(1 for f in case.findings if f.category is category)


def string_values(data: Any) -> Iterator[str]:
    """Every key and string value of a JSON-like structure."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield str(key)
            yield from string_values(value)
    elif isinstance(data, list):
        for item in data:
            yield from string_values(item)


# --- the real export ------------------------------------------------------------------------------


def zip_rows(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    member = next(n for n in archive.namelist() if n.endswith(f"/csv/{name}"))
    with archive.open(member) as raw:
        return list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")))


@pytest.fixture(scope="module")
def real() -> tuple[list[Record], dict[str, list[dict[str, str]]]]:
    if not SYNTHEA_ZIP.is_file():
        pytest.skip(f"shared Synthea sample not found at {SYNTHEA_ZIP}")
    with zipfile.ZipFile(SYNTHEA_ZIP) as archive:
        expected = {
            name: zip_rows(archive, f"{name}.csv")
            for name in ("patients", "conditions", "medications")
        }
    deid = DeidConfig(secret=SECRET)  # module scope: no monkeypatch
    records = list(SyntheaCsvReader(ReaderContext(), deid_config=deid).read(SYNTHEA_ZIP))
    return records, expected


@pytest.mark.slow
def test_real_export_counts_match_the_csv_files(real: Any) -> None:
    records, expected = real
    cases, rejects = split(records)
    assert rejects == []
    assert SyntheaCsvReader(ReaderContext()).sniff(SYNTHEA_ZIP)

    patient_ids = [hashed(row["Id"]) for row in expected["patients"]]
    assert len(cases) == len(patient_ids) > 0
    assert sorted(c.external_id or "" for c in cases) == sorted(patient_ids)
    assert {c.id for c in cases} == {Case.stable_id("synthea-csv", i) for i in patient_ids}

    conditions = sum(count(c, FindingCategory.CONDITION) for c in cases)
    medications = sum(count(c, FindingCategory.MEDICATION) for c in cases)
    assert conditions == len(expected["conditions"])
    assert medications == len(expected["medications"])

    per_patient = Counter(row["PATIENT"] for row in expected["medications"])
    some_id, some_count = per_patient.most_common(1)[0]
    case = next(c for c in cases if c.external_id == hashed(some_id))
    assert count(case, FindingCategory.MEDICATION) == some_count
    assert case.provenance.source == str(SYNTHEA_ZIP)
    assert case.provenance.source_format == "synthea-csv"
    assert case.provenance.record_id == hashed(some_id)


@pytest.mark.slow
def test_real_export_keeps_no_names_ssn_or_address(real: Any) -> None:
    records, expected = real
    cases, _ = split(records)
    # Every string that occurs in any case's JSON (a name could only leak through one of these).
    text = "\n".join(sorted({s for c in cases for s in string_values(c.model_dump(mode="json"))}))
    columns = ("Id", "FIRST", "LAST", "SSN", "ADDRESS")
    phi = {row[col] for row in expected["patients"] for col in columns}
    leaked = sorted(value for value in phi if value and value in text)
    assert leaked == []


# --- small hand-made exports ----------------------------------------------------------------------

# Header lines with the columns the reader needs plus identifying ones it must drop.
EXPORT: dict[str, str] = {
    "patients.csv": """\
Id,BIRTHDATE,DEATHDATE,SSN,FIRST,LAST,GENDER,ADDRESS,LAT,LON
p-alice,2000-01-01,,999-11-2222,Alice123,Smith456,F,1 Main Street,42.1,-71.0
p-bob,1950-06-15,2010-06-15,999-33-4444,Bob789,Jones012,M,2 Elm Road,42.2,-71.1
""",
    "conditions.csv": f"""\
START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION
2010-01-01,,p-alice,e1,{DIABETES},Diabetes mellitus type 2 (disorder)
2015-01-01,2016-01-01,p-alice,e2,{DIABETES},Diabetes mellitus type 2
1990-03-04,,p-bob,e3,38341003,Hypertension
""",
    "observations.csv": """\
DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE
2019-05-05T10:00:00Z,p-alice,e1,laboratory,4548-4,HbA1c,7.5,%,numeric
2019-05-05T10:00:00Z,p-alice,e1,survey,72166-2,Tobacco smoking status,Never smoked,,text
2019-05-05T10:00:00Z,p-alice,e1,survey,56799-0,What address do you live at?,1 Main Street,,text
2019-05-05T10:00:00Z,p-alice,e1,survey,99999-9,Who is your contact?,Mrs Smith456,,text
""",
    "medications.csv": """\
START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION
2012-01-01T08:00:00Z,,p-alice,e1,860975,Metformin 500 MG
""",
    "procedures.csv": """\
START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION
2008-02-02T09:00:00Z,2008-02-02T09:30:00Z,p-bob,e3,73761001,Colonoscopy
""",
    "encounters.csv": """\
Id,START,STOP,PATIENT,ENCOUNTERCLASS,CODE,DESCRIPTION
e1,2010-01-01T08:00:00Z,2010-01-01T09:00:00Z,p-alice,wellness,410620009,Well child visit
e2,2020-01-01T08:00:00Z,2020-01-01T09:00:00Z,p-alice,ambulatory,185345009,Encounter for symptom
e3,1990-03-04T08:00:00Z,,p-bob,outpatient,185349003,Check up
""",
}
SECRETS = ("Alice123", "Smith456", "Bob789", "999-11-2222", "Main Street", "Elm Road")


def write_export(folder: Path, **extra_lines: str) -> Path:
    """Write EXPORT into ``folder``; ``conditions="..."`` appends lines to conditions.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in EXPORT.items():
        (folder / name).write_text(text + extra_lines.get(name.removesuffix(".csv"), ""))
    return folder


def read(path: Path, terms: FakeTerms | None = None) -> list[Record]:
    return list(SyntheaCsvReader(ReaderContext(site="site-a", terms=terms)).read(path))


def test_reader_satisfies_the_protocol() -> None:
    reader = SyntheaCsvReader(ReaderContext())
    assert isinstance(reader, Reader)
    assert SyntheaCsvReader.name == "synthea-csv"


def test_small_export_maps_demographics_findings_and_phenotypes(tmp_path: Path) -> None:
    cases, rejects = split(read(write_export(tmp_path / "csv"), FakeTerms()))
    assert rejects == []
    alice, bob = cases

    assert alice.id == Case.stable_id("synthea-csv", hashed("p-alice"))
    assert alice.external_id == hashed("p-alice")
    assert alice.site == "site-a"
    assert alice.subject.sex is Sex.FEMALE
    assert alice.subject.birth_year == 2000
    assert alice.subject.deceased is False
    assert alice.subject.age_years == 20.0  # at the latest encounter, 2020-01-01
    assert bob.subject.sex is Sex.MALE
    assert bob.subject.deceased is True
    assert bob.subject.age_years == 60.0  # at death, 2010-06-15

    # Two diabetes rows map to one phenotype, with the onset of the earlier one (age 10).
    assert alice.phenotypes == [PhenotypeObservation(id=HYPERGLYCEMIA, onset_age_years=10.0)]
    assert bob.phenotypes == []
    conditions = [f for f in alice.findings if f.category is FindingCategory.CONDITION]
    assert [f.hpo_ids for f in conditions] == [[HYPERGLYCEMIA], [HYPERGLYCEMIA]]
    assert conditions[1].system == "SNOMEDCT"
    assert conditions[1].display == "Diabetes mellitus type 2"
    # dates move by the patient's keyed shift (never 0, at most a year): intervals are kept
    assert conditions[1].date is not None and conditions[1].end_date is not None
    shift = conditions[1].date - dt.date(2015, 1, 1)
    assert 1 <= abs(shift.days) <= 365
    assert conditions[1].end_date - conditions[1].date == dt.timedelta(days=365)

    observations = [f for f in alice.findings if f.category is FindingCategory.OBSERVATION]
    lab, smoking, address, contact = observations
    assert (lab.system, lab.code, lab.value, lab.unit) == ("LOINC", "4548-4", 7.5, "%")
    assert isinstance(lab.value, float)
    assert lab.date == dt.date(2019, 5, 5) + shift
    assert (smoking.value, smoking.unit) == ("Never smoked", None)
    # An address answer and a text naming the patient are kept as findings, without the value.
    assert (address.code, address.value, contact.code, contact.value) == (
        "56799-0",
        None,
        "99999-9",
        None,
    )
    assert alice.provenance.parameters == {
        "withheld_values": 2,
        "dates": "shifted per patient (keyed), intervals kept",
    }

    (medication,) = (f for f in alice.findings if f.category is FindingCategory.MEDICATION)
    assert (medication.system, medication.code, medication.end_date) == ("RXNORM", "860975", None)
    (procedure,) = (f for f in bob.findings if f.category is FindingCategory.PROCEDURE)
    assert (procedure.system, procedure.code) == ("SNOMEDCT", "73761001")
    encounters = [f for f in alice.findings if f.category is FindingCategory.ENCOUNTER]
    assert [(e.system, e.value) for e in encounters] == [
        ("SNOMEDCT", "wellness"),
        ("SNOMEDCT", "ambulatory"),
    ]

    prov = alice.provenance
    assert (prov.source, prov.source_format, prov.record_id) == (
        str(tmp_path / "csv"),
        "synthea-csv",
        hashed("p-alice"),
    )
    assert prov.knowledge_version == FakeTerms.version
    assert prov.created_by.startswith("ocais")
    assert prov.record_hash and len(prov.record_hash) == 64
    assert prov.record_hash != bob.provenance.record_hash

    for case in cases:
        dumped = case.model_dump_json()
        for secret in SECRETS:
            assert secret not in dumped
        assert "2000-01-01" not in dumped and "1950-06-15" not in dumped  # exact birth dates
        assert "p-alice" not in dumped and "p-bob" not in dumped  # ids: only their keyed hash


def test_without_terms_no_phenotypes(tmp_path: Path) -> None:
    cases, _ = split(read(write_export(tmp_path)))
    assert all(c.phenotypes == [] for c in cases)
    assert all(f.hpo_ids == [] for c in cases for f in c.findings)
    assert cases[0].provenance.knowledge_version is None


def test_directory_parent_and_zip_give_the_same_cases(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "export" / "csv")
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for file in sorted(folder.iterdir()):
            out.write(file, f"run1/csv/{file.name}")
        out.writestr("run1/metadata/info.json", "{}")
    reader = SyntheaCsvReader(ReaderContext())
    for path in (folder, tmp_path / "export", archive):
        assert reader.sniff(path), path
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "bad.zip").write_text("not a zip")
    for path in (tmp_path / "empty", tmp_path / "notes.txt", tmp_path / "bad.zip"):
        assert not reader.sniff(path), path

    hashes = [
        [(c.id, c.content_hash(), c.provenance.record_hash) for c in split(read(path))[0]]
        for path in (folder, tmp_path / "export", archive)
    ]
    assert hashes[0] == hashes[1] == hashes[2]
    assert len(hashes[0]) == 2


def test_reading_twice_gives_identical_cases(tmp_path: Path) -> None:
    folder = write_export(tmp_path)
    first, second = split(read(folder, FakeTerms()))[0], split(read(folder, FakeTerms()))[0]
    assert [c.id for c in first] == [c.id for c in second]
    assert [c.content_hash() for c in first] == [c.content_hash() for c in second]
    assert [c.provenance.record_hash for c in first] == [c.provenance.record_hash for c in second]
    # A changed row changes the content hash of that patient only.
    extra = "2013-01-01T08:00:00Z,,p-alice,e1,197361,Amlodipine 5 MG\n"
    changed = split(read(write_export(tmp_path / "changed", medications=extra), FakeTerms()))[0]
    assert changed[0].content_hash() != first[0].content_hash()
    assert changed[0].provenance.record_hash != first[0].provenance.record_hash
    assert changed[1].content_hash() == first[1].content_hash()


def test_patient_ids_are_keyed_hashes_stable_under_one_secret(tmp_path: Path) -> None:
    folder = write_export(tmp_path)
    first, second = split(read(folder))[0], split(read(folder))[0]
    assert [c.external_id for c in first] == [c.external_id for c in second]
    assert [c.source_key for c in first] == [c.source_key for c in second]
    assert all(c.external_id and c.external_id.startswith("h:") for c in first)
    other = "another-site-secret-of-enough-length"
    reader = SyntheaCsvReader(ReaderContext(), deid_config=DeidConfig(secret=other))
    elsewhere = split(list(reader.read(folder)))[0]
    expected = [hashed("p-alice", other), hashed("p-bob", other)]
    assert [c.external_id for c in elsewhere] == expected
    assert {c.id for c in elsewhere}.isdisjoint(c.id for c in first)


def test_without_the_site_secret_nothing_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_export(tmp_path)
    monkeypatch.delenv("OCAIS_DEID_SECRET")
    with pytest.raises(ConfigError, match="OCAIS_DEID_SECRET"):
        read(folder)


def test_age_over_89_is_stored_as_90_without_birth_year(tmp_path: Path) -> None:
    folder = write_export(
        tmp_path,
        patients="p-carl,1920-03-01,,999-77-8888,Carl345,Old678,M,4 Ash Lane,0,0\n",
        conditions=f"2012-06-01,,p-carl,e4,{DIABETES},Diabetes mellitus type 2\n",
        encounters="e4,2013-03-02T08:00:00Z,,p-carl,ambulatory,185345009,Visit\n",
    )
    cases, rejects = split(read(folder, FakeTerms()))
    assert rejects == []
    carl = next(c for c in cases if c.external_id == hashed("p-carl"))
    assert carl.subject.age_years == 90.0  # 93 at the last encounter: "90 or older"
    assert carl.subject.birth_year is None
    assert carl.phenotypes == [PhenotypeObservation(id=HYPERGLYCEMIA, onset_age_years=90.0)]
    assert carl.provenance.parameters["age_top_coded"] is True
    alice = next(c for c in cases if c.external_id == hashed("p-alice"))
    assert alice.subject.birth_year == 2000 and "age_top_coded" not in alice.provenance.parameters


# --- errors ---------------------------------------------------------------------------------------


def test_bad_rows_are_rejected_with_file_line_and_field(tmp_path: Path) -> None:
    folder = write_export(
        tmp_path,
        patients="p-carol,1980-02-30,,999-55-6666,Carol,King,F,3 Oak,0,0\n",  # line 4
        conditions="2021-13-01,,p-alice,e1,38341003,Hypertension\n"  # line 5: bad date
        "2021-01-01,,p-carol,e9,38341003,Hypertension\n",  # line 6: rejected patient, skipped
        observations="2019-05-05T10:00:00Z,p-nobody,e1,laboratory,4548-4,HbA1c,7,%,numeric\n"
        "2019-05-05T10:00:00Z,p-alice,e1,laboratory,4548-4,HbA1c,high,%,numeric\n"
        "2019-05-05T10:00:00Z,p-alice,e1,laboratory,,HbA1c,7,%,numeric\n",  # lines 6-8
    )
    cases, rejects = split(read(folder))

    assert [c.external_id for c in cases] == [hashed("p-alice"), hashed("p-bob")]
    found = [(r.source, r.record, r.field) for r in rejects]
    assert found == [
        ("patients.csv", "line 4", "BIRTHDATE"),
        ("conditions.csv", "line 5", "START"),
        ("observations.csv", "line 6", "PATIENT"),
        ("observations.csv", "line 7", "VALUE"),
        ("observations.csv", "line 8", "CODE"),
    ]
    assert "p-nobody" in str(rejects[2])
    assert "'high'" in str(rejects[3])
    # The good rows of the patient are all there.
    alice = cases[0]
    assert count(alice, FindingCategory.CONDITION) == 2
    assert count(alice, FindingCategory.OBSERVATION) == 4
    assert alice.provenance.parameters == {
        "skipped_rows": 3,
        "withheld_values": 2,
        "dates": "shifted per patient (keyed), intervals kept",
    }


def test_missing_patients_csv_is_unsupported(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "csv")
    (folder / "patients.csv").unlink()
    reader = SyntheaCsvReader(ReaderContext())
    assert not reader.sniff(tmp_path)
    with pytest.raises(UnsupportedFormatError, match=r"patients\.csv") as error:
        list(reader.read(tmp_path))
    assert str(tmp_path) in str(error.value)
    archive = tmp_path / "empty.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("csv/conditions.csv", "START\n")
    with pytest.raises(UnsupportedFormatError, match=r"patients\.csv"):
        list(reader.read(archive))


def test_missing_columns_are_unsupported(tmp_path: Path) -> None:
    folder = write_export(tmp_path)
    (folder / "observations.csv").write_text("DATE,PATIENT,CODE\n2020-01-01,p-alice,1\n")
    with pytest.raises(UnsupportedFormatError, match=r"observations\.csv.*DESCRIPTION.*TYPE"):
        read(folder)


def test_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    folder = write_export(tmp_path)
    reader = SyntheaCsvReader(ReaderContext(max_file_bytes=200))
    with pytest.raises(InputTooLargeError):
        list(reader.read(folder))
