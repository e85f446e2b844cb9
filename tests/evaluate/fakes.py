"""Fake predictors and a small phenopacket folder for the benchmark tests.

Cases (files p1..p4 valid; two more records are left out)::

    p1  Disease A (OMIM:100001)   female, 3.5 y, 2 observed, 1 excluded
    p2  Disease B (OMIM:100002)   male, 45 y
    p3  OMIM:999999               unknown to the fakes and to the tiny release
    p4  Disease C (ORPHA:100003)  no age, no phenotypes
    p5  no confirmed diagnosis    (skipped)
    bad.json                      not a phenopacket (skipped)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from ocais.schemas import Candidate, Case, Prediction, Provenance
from tests.helpers import packet

INF = float("inf")
DISEASES = ["OMIM:100001", "OMIM:100002", "ORPHA:100003"]

# scores in DISEASES order, by packet id
SCORES = {
    "p1": [3.0, 1.0, 0.0],  # truth A first → rank 1
    "p2": [2.0, 1.0, 1.0],  # truth B: one better, one tied → pessimistic rank 3
    "p3": [0.0, 0.0, 1.0],  # truth unknown → not covered, miss
    "p4": [1.0, 2.0, -INF],  # truth C scored -inf → covered but not ranked
}

# (disease id, score, probability) lists, by packet id
CANDIDATES = {
    "p1": [("OMIM:100002", 5.0, 0.9), ("OMIM:100001", 5.0, 0.1)],  # tie → rank 2
    "p2": [("OMIM:100002", 3.0, 0.6)],  # rank 1
    "p3": [("OMIM:100001", 1.0, 0.5)],  # unknown truth
    "p4": [],  # known truth, no candidates
}


def write_packets(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    male_45 = {
        "id": "proband",
        "sex": "MALE",
        "timeAtLastEncounter": {"age": {"iso8601duration": "P45Y"}},
    }
    records = {
        "p1": packet("p1"),
        "p2": packet("p2", subject=male_45, interpretations=[], diseases=[_disease("OMIM:100002")]),
        "p3": packet("p3", interpretations=[], diseases=[_disease("OMIM:999999", "Unknown D")]),
        "p4": packet(
            "p4",
            subject={"id": "x", "sex": "FEMALE"},
            phenotypicFeatures=[],
            interpretations=[],
            diseases=[_disease("ORPHA:100003")],
        ),
        "p5": packet("p5", interpretations=[], diseases=[]),
    }
    for name, record in records.items():
        (folder / f"{name}.json").write_text(json.dumps(record), encoding="utf-8")
    (folder / "bad.json").write_text('{"id": "bad", "subject": "nobody"}', encoding="utf-8")
    return folder


def _disease(disease_id: str, label: str = "") -> dict[str, object]:
    return {"term": {"id": disease_id, "label": label or disease_id}}


def _provenance() -> Provenance:
    return Provenance(source="test", source_format="ocais")


class FakeRanker:
    """Only ``predict``: the benchmark ranks the truth inside the candidate list."""

    name: ClassVar[str] = "fake-ranker"

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, case: Case, top_k: int = 10) -> Prediction:
        self.calls += 1
        found = CANDIDATES[case.external_id or ""][:top_k]
        return Prediction(
            case_id=case.id,
            predictor=self.name,
            candidates=[
                Candidate(disease_id=d, name=d, rank=i, score=s, probability=p)
                for i, (d, s, p) in enumerate(found, start=1)
            ],
            provenance=_provenance(),
        )


class FakeScorer(FakeRanker):
    """A ``DiseaseScorer`` with probabilities (softmax over the finite scores)."""

    name: ClassVar[str] = "fake-scorer"

    @property
    def disease_ids(self) -> Sequence[str]:
        return DISEASES

    def score_cases(self, cases: Sequence[Case]) -> np.ndarray:
        self.calls += 1
        return np.array([SCORES[c.external_id or ""] for c in cases], dtype=np.float64)

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def predict(self, case: Case, top_k: int = 10) -> Prediction:
        raise AssertionError("the benchmark must use score_cases for a DiseaseScorer")
