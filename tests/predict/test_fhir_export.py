"""A differential as a FHIR R4 RiskAssessment (tiny release; A and C one MONDO disease)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.riskassessment import RiskAssessment

from ocais import __version__
from ocais.errors import InvalidRecordError
from ocais.knowledge import KnowledgeBase, load_knowledge
from ocais.knowledge.mondo import tiny_table
from ocais.predict.base import create_predictor
from ocais.predict.fhir_export import (
    DECISION_SUPPORT_NOTE,
    HPO_SYSTEM,
    NO_CANDIDATE_NOTE,
    UNIDENTIFIED_SUBJECT,
    disease_coding,
    risk_assessment,
    risk_assessment_from_record,
)
from ocais.schemas import Candidate, Prediction, Provenance
from ocais.store.service_models import PredictionRecord
from tests.knowledge.test_mondo import GROUPED
from tests.predict.test_contract import make_case

OMIM = "https://omim.org"
ORPHA = "http://www.orpha.net"
MONDO = "http://purl.obolibrary.org/obo/mondo.owl"


@pytest.fixture
def grouped_kb(tiny_release: Path, tmp_path: Path) -> KnowledgeBase:
    """The tiny release with Disease A (OMIM:100001) and C (ORPHA:100003) as MONDO:9000001."""
    return load_knowledge(tiny_release, tmp_path / "cache", mondo=tiny_table(GROUPED))


def predict(kb: KnowledgeBase, name: str = "phenotype", **kwargs: Any) -> Prediction:
    case = make_case("q", "HP:0000505", "HP:0002069", **kwargs)
    prediction: Prediction = create_predictor(name, kb).predict(case, 10)
    return prediction


def walk(data: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of a JSON document, at any depth."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield key, value
            yield from walk(value)
    elif isinstance(data, list):
        for value in data:
            yield from walk(value)


def codings(entry: dict[str, Any]) -> dict[str, str]:
    return {c["system"]: c["code"] for c in entry["outcome"].get("coding", [])}


def by_disease(prediction: Prediction, exported: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The exported prediction entries by the disease id of their candidate."""
    entries = exported["prediction"]
    return {c.disease_id: e for c, e in zip(prediction.candidates, entries, strict=True)}


def test_a_prediction_validates_with_one_entry_per_candidate(grouped_kb: KnowledgeBase) -> None:
    prediction = predict(grouped_kb)
    exported = risk_assessment(prediction, knowledge=grouped_kb)
    parsed = RiskAssessment.model_validate(exported)  # what an EHR's FHIR library would read
    assert parsed.status == "final"
    assert exported["resourceType"] == "RiskAssessment"
    assert [e["outcome"]["text"] for e in exported["prediction"]] == [
        c.name for c in prediction.candidates
    ]
    when = datetime.fromisoformat(exported["occurrenceDateTime"].replace("Z", "+00:00"))
    assert when == prediction.provenance.created_at
    method = exported["method"]
    assert method["coding"][0]["code"] == "phenotype"
    assert "phenotype" in method["text"] and "HPO 2099-01-01" in method["text"]
    assert f"ocais {__version__}" in method["text"]  # the software version
    assert method["coding"][0]["version"] == __version__
    assert exported["note"][0]["text"] == DECISION_SUPPORT_NOTE
    assert "confirmed by a clinician" in DECISION_SUPPORT_NOTE
    assert "relativeRisk" not in {key for key, _ in walk(exported)}


def test_outcomes_are_coded_in_each_system_of_the_disease(grouped_kb: KnowledgeBase) -> None:
    prediction = predict(grouped_kb)
    exported = risk_assessment(prediction, knowledge=grouped_kb)
    by_id = by_disease(prediction, exported)
    grouped = by_id["OMIM:100001"]  # Disease A, with its Orphanet twin C, as MONDO:9000001
    assert codings(grouped) == {OMIM: "100001", MONDO: "MONDO:9000001", ORPHA: "100003"}
    first = grouped["outcome"]["coding"][0]  # the best-scoring entry first
    assert first == {"system": OMIM, "code": "100001", "display": "Disease A"}
    mondo = next(c for c in grouped["outcome"]["coding"] if c["system"] == MONDO)
    assert mondo["display"] == "disease A or C"  # MONDO's label, from the knowledge base
    assert codings(by_id["OMIM:100002"]) == {OMIM: "100002"}  # no MONDO match: OMIM alone


def test_disease_codings() -> None:
    assert disease_coding("OMIM:154700") == {"system": OMIM, "code": "154700"}
    assert disease_coding("ORPHA:558", "Marfan syndrome") == {
        "system": ORPHA,
        "code": "558",
        "display": "Marfan syndrome",
    }
    assert disease_coding("MONDO:0007947") == {"system": MONDO, "code": "MONDO:0007947"}
    assert disease_coding("DECIPHER:1") is None
    assert disease_coding("OMIM:") is None


def test_probabilities_are_the_posterior(grouped_kb: KnowledgeBase) -> None:
    prediction = predict(grouped_kb)
    exported = risk_assessment(prediction)
    probabilities = [e["probabilityDecimal"] for e in exported["prediction"]]
    assert probabilities == pytest.approx([c.probability for c in prediction.candidates])
    assert all(0 < p <= 1 for p in probabilities) and sum(probabilities) <= 1 + 1e-9
    assert probabilities == sorted(probabilities, reverse=True)


def test_a_similarity_score_is_no_probability(grouped_kb: KnowledgeBase) -> None:
    prediction = predict(grouped_kb, "resnik")
    assert prediction.candidates and all(c.probability is None for c in prediction.candidates)
    exported = risk_assessment(prediction)
    RiskAssessment.model_validate(exported)
    for candidate, entry in zip(prediction.candidates, exported["prediction"], strict=True):
        assert "probabilityDecimal" not in entry
        assert f"score {candidate.score:.3f}" in entry["rationale"]
    assert exported["method"]["coding"][0]["code"] == "resnik"


def test_rationale_names_the_top_evidence(grouped_kb: KnowledgeBase) -> None:
    prediction = predict(grouped_kb, excluded=())
    exported = risk_assessment(prediction)
    by_id = by_disease(prediction, exported)
    a = by_id["OMIM:100001"]["rationale"]
    assert a.startswith("Rank 1 of the differential")
    assert "Matched phenotypes: " in a and "Visual impairment (HP:0000505, exact)" in a
    b = by_id["OMIM:100002"]["rationale"]
    assert "Bilateral tonic-clonic seizure (HP:0002069, exact)" in b
    # B is annotated NOT to have visual impairment, which the patient has
    assert "Against: Visual impairment" in b


def test_no_identifiers_are_invented(grouped_kb: KnowledgeBase) -> None:
    exported = risk_assessment(
        predict(grouped_kb), knowledge=grouped_kb, observed=["HP:0000505"], excluded=[]
    )
    assert exported["subject"] == {"display": UNIDENTIFIED_SUBJECT}
    assert "id" not in exported  # no stored prediction: no resource id either
    keys = {key for key, _ in walk(exported)}
    assert "identifier" not in keys
    references = [value for key, value in walk(exported) if key == "reference"]
    assert references == ["#phenotype-1"]  # only the contained basis, never a patient


def test_given_references_and_id_are_used_as_given(grouped_kb: KnowledgeBase) -> None:
    exported = risk_assessment(
        predict(grouped_kb), subject_reference="Patient/example-7", prediction_id="abc-123"
    )
    assert exported["subject"] == {"reference": "Patient/example-7"}
    assert exported["id"] == "abc-123"
    with pytest.raises(InvalidRecordError) as caught:
        risk_assessment(predict(grouped_kb), prediction_id="not a FHIR id!")
    assert caught.value.field == "id" and "RiskAssessment" in str(caught.value)


def test_the_basis_lists_the_terms_as_contained_observations(grouped_kb: KnowledgeBase) -> None:
    exported = risk_assessment(
        predict(grouped_kb),
        knowledge=grouped_kb,
        # an alternative id, a duplicate, an unknown id, a term both observed and excluded
        observed=["HP:0001251", "HP:0000505", "HP:0001250", "HP:9999999"],
        excluded=["HP:0000505", "HP:0002069"],
    )
    RiskAssessment.model_validate(exported)
    contained = {r["id"]: r for r in exported["contained"]}
    assert [b["reference"] for b in exported["basis"]] == [f"#{i}" for i in contained]
    terms = [
        (r["code"]["coding"][0]["code"], r["code"]["coding"][0]["display"], r["valueBoolean"])
        for r in contained.values()
    ]
    assert terms == [
        ("HP:0001250", "Seizure", True),
        ("HP:0000505", "Visual impairment", True),
        ("HP:0002069", "Bilateral tonic-clonic seizure", False),
    ]
    assert all(r["code"]["coding"][0]["system"] == HPO_SYSTEM for r in contained.values())
    assert all(r["resourceType"] == "Observation" for r in contained.values())
    # without terms: no basis and nothing contained
    bare = risk_assessment(predict(grouped_kb))
    assert "basis" not in bare and "contained" not in bare


def test_an_empty_prediction_is_a_valid_assessment_without_predictions() -> None:
    empty = Prediction(
        predictor="phenotype",
        provenance=Provenance(source="test", source_format="prediction", created_by="ocais 0.1.0"),
    )
    exported = risk_assessment(empty)
    RiskAssessment.model_validate(exported)
    assert "prediction" not in exported
    assert [n["text"] for n in exported["note"]] == [DECISION_SUPPORT_NOTE, NO_CANDIDATE_NOTE]


def test_a_disease_of_another_source_is_named_not_coded() -> None:
    prediction = Prediction(
        predictor="phenotype",
        candidates=[
            Candidate(disease_id="DECIPHER:16", name="Some syndrome", rank=1, score=2.0),
            Candidate(disease_id="OMIM:100001", name="Disease A", rank=2, score=1.0),
        ],
        provenance=Provenance(source="test", source_format="prediction"),
    )
    exported = risk_assessment(prediction)
    RiskAssessment.model_validate(exported)
    first, second = exported["prediction"]
    assert first["outcome"] == {"text": "Some syndrome (DECIPHER:16)"}
    assert codings(second) == {OMIM: "100001"}
    assert first["rationale"].startswith("Rank 1 ") and "Matched" not in first["rationale"]


def record(**overrides: Any) -> PredictionRecord:
    values: dict[str, Any] = {
        "id": "3f0c5a9e-1d2b-4c3d-8e4f-5a6b7c8d9e0f",
        "user_id": "u1",
        "created_at": datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC),
        "input_kind": "case",
        "observed": ["HP:0000505", "HP:0002069"],
        "excluded": ["HP:0001250"],
        "sex": "female",
        "age_years": 3.0,
        "top_k": 10,
        "predictor": "phenotype",
        "knowledge_version": "2099-01-01",
        "candidates": [
            {"disease_id": "OMIM:100001", "rank": 1, "score": -2.3, "probability": 0.7},
            {"disease_id": "OMIM:100002", "rank": 2, "score": -6.7, "probability": 0.3},
        ],
    }
    values.update(overrides)
    return PredictionRecord.model_validate(values)


def test_a_stored_prediction_has_the_same_shape(grouped_kb: KnowledgeBase) -> None:
    stored = record()
    exported = risk_assessment_from_record(stored, grouped_kb)
    RiskAssessment.model_validate(exported)
    live = risk_assessment(
        predict(grouped_kb),
        knowledge=grouped_kb,
        prediction_id=stored.id,
        observed=stored.observed,
        excluded=stored.excluded,
    )
    assert list(exported) == list(live)  # the same elements, in the same order
    assert [list(e) for e in exported["prediction"]] == [list(e) for e in live["prediction"]]
    assert exported["id"] == stored.id
    assert exported["occurrenceDateTime"] == "2025-03-04T05:06:07Z"
    assert exported["subject"] == {"display": UNIDENTIFIED_SUBJECT}
    assert exported["method"]["text"] == "OCAIS phenotype predictor (HPO 2099-01-01)"
    assert exported["contained"] == live["contained"]
    first, second = exported["prediction"]
    assert first["outcome"]["text"] == "Disease A"  # named from the knowledge base
    assert codings(first) == {OMIM: "100001", MONDO: "MONDO:9000001", ORPHA: "100003"}
    assert [first["probabilityDecimal"], second["probabilityDecimal"]] == [0.7, 0.3]
    assert "Visual impairment (HP:0000505)" in first["rationale"]
    assert "Bilateral tonic-clonic seizure (HP:0002069)" in second["rationale"]
    assert "Against: Visual impairment (HP:0000505): observed" in second["rationale"]
    assert [n["text"] for n in exported["note"]] == [DECISION_SUPPORT_NOTE]


def test_a_stored_prediction_from_another_release(grouped_kb: KnowledgeBase) -> None:
    candidates = [
        {"disease_id": "OMIM:999999", "rank": 1, "score": 0.5, "probability": None},
        {"disease_id": "ORPHA:100003", "rank": 2, "score": 0.2, "probability": None},
    ]
    stored = record(knowledge_version="2098-01-01", candidates=candidates)
    exported = risk_assessment_from_record(stored, grouped_kb)
    RiskAssessment.model_validate(exported)
    gone, known = exported["prediction"]
    assert gone["outcome"] == {
        "coding": [{"system": OMIM, "code": "999999"}],
        "text": "OMIM:999999",
    }
    assert "probabilityDecimal" not in gone and "probabilityDecimal" not in known
    assert codings(known) == {ORPHA: "100003", MONDO: "MONDO:9000001", OMIM: "100001"}
    assert "Ranked with HPO 2098-01-01" in exported["note"][-1]["text"]


def test_a_stored_prediction_without_candidates(grouped_kb: KnowledgeBase) -> None:
    exported = risk_assessment_from_record(record(candidates=[]), grouped_kb)
    RiskAssessment.model_validate(exported)
    assert "prediction" not in exported and len(exported["basis"]) == 3
    assert exported["note"][-1]["text"] == NO_CANDIDATE_NOTE
