"""The ``Predictor`` contract, checked for EVERY registered predictor (see ``predict/base.py``).

Predictors are discovered through the ``ocais.predictors`` entry points, so one added later is
tested here without touching this file — unless it needs options to be built at all (a fitted
model): :data:`OPTION_FACTORIES` supplies those.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from ocais.errors import ConfigError
from ocais.knowledge import KnowledgeBase
from ocais.predict.base import (
    DiseaseScorer,
    Predictor,
    available_predictors,
    create_predictor,
    predict_many,
)
from ocais.schemas import Case, Diagnosis, PhenotypeObservation, Prediction, Provenance

PREDICTORS = sorted(available_predictors())
UNKNOWN_TERM = "HP:9999999"


def make_case(case_id: str, *observed: str, excluded: tuple[str, ...] = ()) -> Case:
    phenotypes = [PhenotypeObservation(id=t) for t in observed]
    phenotypes += [PhenotypeObservation(id=t, excluded=True) for t in excluded]
    return Case(
        id=case_id,
        phenotypes=phenotypes,
        provenance=Provenance(source="test", source_format="test"),
    )


def labelled(case_id: str, disease: str, *observed: str) -> Case:
    case = make_case(case_id, *observed)
    return case.model_copy(update={"diagnoses": [Diagnosis(disease_id=disease)]})


# training cases of the learned predictor, per knowledge base: (disease, terms) × 3 each; the
# LOCAL disease is one no knowledge base annotates (learned from cases alone)
TINY_TRAINING = [
    ("OMIM:100001", ["HP:0001250", "HP:0000505"]),
    ("OMIM:100002", ["HP:0002069"]),
    ("LOCAL:1", ["HP:0000478", "HP:0000707"]),
]
REAL_TRAINING = [
    ("OMIM:219700", ["HP:0012236", "HP:0004401", "HP:0001738", "HP:0002110"]),
    ("OMIM:154700", ["HP:0001083", "HP:0002616", "HP:0001166", "HP:0000098"]),
    ("LOCAL:1", ["HP:0001250", "HP:0001263", "HP:0000252", "HP:0001290"]),
]


def learned_options(kb: KnowledgeBase) -> dict[str, Any]:
    """A small model fitted on three cases per disease, each missing one of its terms."""
    from ocais.learn.model import LearnOptions, fit

    training = TINY_TRAINING if len(kb.term_ids) < 100 else REAL_TRAINING
    cases = [
        labelled(f"train-{disease}-{i}", disease, *[t for j, t in enumerate(terms) if j != i])
        if len(terms) > 1
        else labelled(f"train-{disease}-{i}", disease, *terms)
        for disease, terms in training
        for i in range(3)
    ]
    return {"model": fit(cases, kb, LearnOptions(seed=0))}


def rag_options(kb: KnowledgeBase) -> dict[str, Any]:
    """A scripted model that prefers the ranker's second candidate, with weight to move it."""
    from tests.llm.fakes import ScriptedLLM, rank_answer

    return {"llm": ScriptedLLM(answer=lambda _prompt: rank_answer([2, 1])), "weight": 1.0}


def llm_options(kb: KnowledgeBase) -> dict[str, Any]:
    """A scripted model that names three diseases of the knowledge base, one twice, and one
    that does not exist."""
    import json

    from tests.llm.fakes import ScriptedLLM

    names = [kb.disease_name(d) for d in kb.disease_ids if d.startswith("OMIM:")][:3]
    answer = json.dumps({"diagnoses": [*names, names[0], "no such disease at all"]})
    return {"llm": ScriptedLLM(answer=lambda _prompt: answer)}


# options a predictor cannot be built without, by name: factory(kb) -> options
OPTION_FACTORIES: dict[str, Callable[[KnowledgeBase], dict[str, Any]]] = {
    "learned": learned_options,
    "rag": rag_options,
    "llm": llm_options,
}


def options_for(name: str, kb: KnowledgeBase) -> dict[str, Any]:
    factory = OPTION_FACTORIES.get(name)
    return {} if factory is None else factory(kb)


def comparable(prediction: Prediction) -> dict[str, Any]:
    """The prediction as JSON, without the creation timestamp."""
    return prediction.model_dump(mode="json", exclude={"provenance": {"created_at"}})


def check_contract(predictor: Predictor, kb: Any, cases: Sequence[Case], top_k: int) -> None:
    predictions = [predictor.predict(case, top_k) for case in cases]
    for case, prediction in zip(cases, predictions, strict=True):
        ids = [c.disease_id for c in prediction.candidates]
        scores = [c.score for c in prediction.candidates]
        assert len(ids) <= top_k
        assert len(ids) == len(set(ids)), "no duplicate diseases"
        groups = [kb.disease_group(d) for d in ids]
        assert len(groups) == len(set(groups)), "no two candidates of one MONDO disease"
        for candidate in prediction.candidates:
            assert candidate.members and candidate.members[0].id == candidate.disease_id
            assert {kb.disease_group(m.id) for m in candidate.members} == {
                kb.disease_group(candidate.disease_id)
            }
        # a predictor may rank diseases it learned from cases (it lists them in disease_ids)
        learned = set(getattr(predictor, "disease_ids", ()))
        assert all(kb.has_disease(d) or d in learned for d in ids), "every candidate is known"
        assert scores == sorted(scores, reverse=True), "sorted by descending score"
        assert [c.rank for c in prediction.candidates] == list(range(1, len(ids) + 1))
        assert prediction.predictor == predictor.name
        assert prediction.case_id == case.id
        assert prediction.provenance.knowledge_version == kb.version
        assert prediction.provenance.created_by.startswith("ocais")
        assert prediction.provenance.source

    again = [predictor.predict(case, top_k) for case in cases]
    assert [comparable(p) for p in again] == [comparable(p) for p in predictions], "deterministic"
    batch = predict_many(predictor, cases, top_k)
    assert [comparable(p) for p in batch] == [comparable(p) for p in predictions]

    if isinstance(predictor, DiseaseScorer):
        matrix = predictor.score_cases(cases)
        assert matrix.shape == (len(cases), len(predictor.disease_ids))
        index = {d: i for i, d in enumerate(predictor.disease_ids)}
        grouping = getattr(predictor, "disease_groups", None)
        for row, prediction in zip(matrix, predictions, strict=True):
            if prediction.candidates:
                top = prediction.candidates[0]
                if grouping is None:
                    assert row[index[top.disease_id]] == np.max(row), "top candidate has the max"
                else:  # the top disease has the best group score, its entry the best in it
                    group_scores = grouping.scores(row)
                    best = grouping.index[kb.disease_group(top.disease_id)]
                    assert group_scores[best] == np.max(group_scores), "top disease has the max"
                    rows = grouping.members(best)
                    assert row[index[top.disease_id]] == np.max(row[rows])
            else:
                assert not np.isfinite(row).any(), "no candidate → no finite score"


def check_edge_cases(predictor: Predictor, known_term: str) -> None:
    empty = predictor.predict(make_case("empty"))
    assert empty.candidates == []
    only_excluded = predictor.predict(make_case("excluded", excluded=(known_term,)))
    assert only_excluded.candidates == []

    unknown = predictor.predict(make_case("unknown", known_term, UNKNOWN_TERM))
    assert any(UNKNOWN_TERM in w for w in unknown.warnings), "unknown ids are reported"
    assert unknown.candidates, "the known term is still used"


# --- tiny knowledge base ----------------------------------------------------------------------
TINY_CASES = [
    ("seizure", ["HP:0002069"]),
    ("eye", ["HP:0000505"]),
    ("both", ["HP:0002069", "HP:0000505"]),
    ("broad", ["HP:0000118"]),
    ("obsolete", ["HP:0000999"]),
    ("empty", []),
]


@pytest.mark.parametrize("name", PREDICTORS)
def test_contract_on_tiny_kb(name: str, tiny_kb) -> None:  # type: ignore[no-untyped-def]
    options = options_for(name, tiny_kb)
    predictor = create_predictor(name, tiny_kb, **options)
    assert isinstance(predictor, Predictor)
    assert predictor.name == name
    cases = [make_case(case_id, *terms) for case_id, terms in TINY_CASES]
    for top_k in (1, 2, 10):
        check_contract(predictor, tiny_kb, cases, top_k)
    check_edge_cases(predictor, "HP:0002069")

    rebuilt = create_predictor(name, tiny_kb, **options)
    assert [comparable(p) for p in predict_many(rebuilt, cases)] == [
        comparable(p) for p in predict_many(predictor, cases)
    ], "a fresh instance predicts the same"


@pytest.mark.parametrize("name", PREDICTORS)
def test_unknown_option_is_a_config_error(name: str, tiny_kb) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=name):
        create_predictor(name, tiny_kb, no_such_option=1)
    if name in OPTION_FACTORIES:  # also when built with the options it needs
        with pytest.raises(ConfigError, match=name):
            create_predictor(name, tiny_kb, **options_for(name, tiny_kb), no_such_option=1)


def test_unknown_predictor_names_the_available_ones(tiny_kb) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as caught:
        create_predictor("nope", tiny_kb)
    assert "nope" in str(caught.value)
    for name in PREDICTORS:
        assert name in str(caught.value)


def test_resnik_is_registered() -> None:
    assert "resnik" in PREDICTORS


# --- real knowledge base ------------------------------------------------------------------------
REAL_CASES = [
    # cystic fibrosis: sweat chloride, meconium ileus, pancreatic insufficiency, bronchiectasis
    ("cf", ["HP:0012236", "HP:0004401", "HP:0001738", "HP:0002110"]),
    # Marfan-like: ectopia lentis, aortic root aneurysm, arachnodactyly, tall stature
    ("marfan", ["HP:0001083", "HP:0002616", "HP:0001166", "HP:0000098"]),
    # epileptic encephalopathy-like: seizure, global developmental delay, microcephaly
    ("epilepsy", ["HP:0001250", "HP:0001263", "HP:0000252"]),
    ("single-broad", ["HP:0000118"]),
    ("empty", []),
]


@pytest.fixture(scope="module")
def real_cases(real_kb, phenopacket_archive) -> list[Case]:  # type: ignore[no-untyped-def]
    """Hand-written cases plus the first few real phenopackets."""
    from ocais.ingest.base import ReaderContext
    from ocais.ingest.phenopacket import PhenopacketReader

    reader = PhenopacketReader(ReaderContext(terms=real_kb))
    records = itertools.islice(reader.read(phenopacket_archive), 20)
    packets = [r for r in records if isinstance(r, Case) and r.observed][:5]
    return [make_case(case_id, *terms) for case_id, terms in REAL_CASES] + packets


@pytest.mark.slow
@pytest.mark.parametrize("name", PREDICTORS)
def test_contract_on_real_kb(name: str, real_kb, real_cases: list[Case]) -> None:  # type: ignore[no-untyped-def]
    predictor = create_predictor(name, real_kb, **options_for(name, real_kb))
    for top_k in (1, 10):
        check_contract(predictor, real_kb, real_cases, top_k)
    check_edge_cases(predictor, "HP:0001250")
