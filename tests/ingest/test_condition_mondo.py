"""Condition codes (ICD-10-CM, SNOMED CT) from FHIR and Synthea map to MONDO diseases."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocais.ingest.base import DiseaseResolver, condition_mondo_id
from ocais.knowledge.mondo import MondoDisease, MondoTable
from ocais.schemas import Case, FindingCategory
from tests.ingest import test_fhir, test_synthea_csv

TABLE = MondoTable(
    [
        MondoDisease("MONDO:0005027", "epilepsy", (), ("ICD10CM:G40",), ("SNOMEDCT:84757009",)),
        MondoDisease(
            "MONDO:0005148",
            "type 2 diabetes",
            ("OMIM:125853",),
            ("ICD10CM:E11",),
            ("SNOMEDCT:44054006",),
        ),
    ]
)


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCAIS_DEID_SECRET", test_fhir.SECRET)


class FhirTerms(test_fhir.FakeTerms):
    def mondo_for_code(self, system: str, code: str) -> str | None:
        return TABLE.mondo_for_code(system, code)


class SyntheaTerms(test_synthea_csv.FakeTerms):
    def mondo_for_code(self, system: str, code: str) -> str | None:
        return TABLE.mondo_for_code(system, code)


def test_resolver_capability() -> None:
    assert isinstance(FhirTerms(), DiseaseResolver)
    assert not isinstance(test_fhir.FakeTerms(), DiseaseResolver)
    assert condition_mondo_id(test_fhir.FakeTerms(), [("SNOMEDCT", "84757009")]) is None
    assert condition_mondo_id(FhirTerms(), [("LOINC", "1"), ("ICD10CM", "E11")]) == (
        "MONDO:0005148"
    )


def test_fhir_conditions_get_their_mondo_disease(tmp_path: Path) -> None:
    path = test_fhir.write_json(tmp_path / "bundle.json", test_fhir.bundle())
    case = test_fhir.only_case(path, terms=FhirTerms())
    by_code = {f.code: f for f in case.findings}
    assert by_code["84757009"].mondo_id == "MONDO:0005027"
    assert by_code["44054006"].mondo_id == "MONDO:0005148"
    # an ICD-10-CM coding without an exact match still maps through its SNOMED coding
    assert by_code["G40.909"].mondo_id == "MONDO:0005027"
    assert all(
        f.mondo_id is None for f in case.findings if f.category is not FindingCategory.CONDITION
    )


def test_fhir_without_a_disease_resolver_records_none(tmp_path: Path) -> None:
    path = test_fhir.write_json(tmp_path / "bundle.json", test_fhir.bundle())
    case = test_fhir.only_case(path, terms=test_fhir.FakeTerms())
    assert all(f.mondo_id is None for f in case.findings)


def test_synthea_conditions_get_their_mondo_disease(tmp_path: Path) -> None:
    records = test_synthea_csv.read(test_synthea_csv.write_export(tmp_path / "csv"), SyntheaTerms())
    cases = [r for r in records if isinstance(r, Case)]
    conditions = [f for c in cases for f in c.findings if f.category is FindingCategory.CONDITION]
    assert conditions
    mapped = {f.code: f.mondo_id for f in conditions}
    assert mapped.get("44054006") == "MONDO:0005148"
