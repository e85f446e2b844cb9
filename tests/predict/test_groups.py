"""One row per disease: predictors list each MONDO disease once (tiny release, tiny table)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ocais.knowledge import KnowledgeBase, load_knowledge
from ocais.knowledge.mondo import tiny_table
from ocais.predict.base import available_predictors, create_predictor
from ocais.predict.groups import DiseaseGroups
from tests.knowledge.test_mondo import GROUPED
from tests.predict.test_contract import TINY_CASES, check_contract, make_case, options_for


@pytest.fixture
def grouped_kb(tiny_release: Path, tmp_path: Path) -> KnowledgeBase:
    """The tiny release with Disease A (OMIM:100001) and C (ORPHA:100003) as one disease."""
    return load_knowledge(tiny_release, tmp_path / "cache", mondo=tiny_table(GROUPED))


IDS = ["OMIM:100001", "OMIM:100002", "ORPHA:100003"]


def test_group_scores_max_and_logsumexp(grouped_kb: KnowledgeBase) -> None:
    groups = DiseaseGroups.build(grouped_kb, IDS)
    assert groups.group_ids == ["MONDO:9000001", "OMIM:100002"]
    assert groups.group_of.tolist() == [0, 1, 0]
    scores = np.array([[1.0, 3.0, 2.0], [-np.inf, -np.inf, -np.inf]])
    assert groups.scores(scores).tolist() == [[2.0, 3.0], [-np.inf, -np.inf]]
    soft = DiseaseGroups.build(grouped_kb, IDS, temperature=2.0)
    expected = 2.0 * math.log(math.exp(0.5) + math.exp(1.0))
    assert soft.scores(scores)[0] == pytest.approx([expected, 3.0])  # a singleton keeps its own
    assert soft.scores(scores)[1].tolist() == [-np.inf, -np.inf]
    # a softmax over groups at T equals the entries' softmax summed per group
    entries = np.exp(scores[0] / 2.0) / np.exp(scores[0] / 2.0).sum()
    grouped = np.exp(soft.scores(scores)[0] / 2.0) / np.exp(soft.scores(scores)[0] / 2.0).sum()
    assert grouped[0] == pytest.approx(entries[0] + entries[2])
    top = groups.top(groups.scores(scores[0]), 1)
    assert top.tolist() == [1]
    assert groups.ranked_members(0, scores[0]).tolist() == [2, 0]


@pytest.mark.parametrize("name", sorted(available_predictors()))
def test_each_disease_once_with_members_and_links(name: str, grouped_kb: KnowledgeBase) -> None:
    predictor = create_predictor(name, grouped_kb, **options_for(name, grouped_kb))
    cases = [make_case(case_id, *terms) for case_id, terms in TINY_CASES]
    for top_k in (1, 3, 10):
        check_contract(predictor, grouped_kb, cases, top_k)
    # "eye" matches A and C (one disease): one candidate, both entries listed
    prediction = predictor.predict(make_case("eye", "HP:0000505"), 10)
    grouped = [c for c in prediction.candidates if c.mondo_id == "MONDO:9000001"]
    assert len(grouped) == 1
    candidate = grouped[0]
    assert {m.id for m in candidate.members} <= {"OMIM:100001", "ORPHA:100003"}
    assert candidate.members[0].id == candidate.disease_id
    assert candidate.mondo_url == "https://monarchinitiative.org/MONDO:9000001"
    urls = {m.url for m in candidate.members}
    assert any(
        u is not None and u.startswith(("https://omim.org/entry/", "https://www.orpha.net/"))
        for u in urls
    )
    probabilities = [c.probability for c in prediction.candidates if c.probability is not None]
    assert sum(probabilities) <= 1.0 + 1e-9


def test_probabilities_are_over_diseases(grouped_kb: KnowledgeBase) -> None:
    predictor: Any = create_predictor("phenotype", grouped_kb)
    case = make_case("both", "HP:0002069", "HP:0000505")
    prediction = predictor.predict(case, 10)
    scores = predictor.score_cases([case])[0]
    entries = predictor.probabilities(scores)[0]
    index = {d: i for i, d in enumerate(predictor.disease_ids)}
    for candidate in prediction.candidates:
        rows = [index[m] for m in grouped_kb.group_members(candidate.disease_id)]
        assert candidate.probability == pytest.approx(float(entries[rows].sum()))


@pytest.mark.slow
def test_no_differential_lists_a_mondo_disease_twice_on_the_shared_cases(
    real_kb: KnowledgeBase, phenopacket_archive: Path
) -> None:
    """All 4,277 shared cases, top 10 of the default predictor: each MONDO disease once."""
    from ocais.evaluate.benchmark import read_cases

    cases, _ = read_cases(phenopacket_archive, real_kb)
    assert len(cases) > 4000
    predictor = create_predictor("phenotype", real_kb)
    grouped = 0
    for case in cases:
        candidates = predictor.predict(case, 10).candidates
        groups = [real_kb.disease_group(c.disease_id) for c in candidates]
        assert len(groups) == len(set(groups)), case.external_id
        assert all(c.mondo_id in (None, real_kb.disease_group(c.disease_id)) for c in candidates)
        grouped += sum(len(c.members) > 1 for c in candidates)
    assert grouped > 0  # OMIM and Orphanet entries of one disease were merged


def test_the_fast_top_k_equals_scoring_every_group() -> None:
    """``top_of`` (bounded: only groups that can reach the k-th best are scored) gives exactly
    what scoring every group and taking the top k gives, ties and -inf included."""
    rng = np.random.default_rng(0)
    n = 300
    ids = [f"OMIM:{100000 + i}" for i in range(n)]
    group_of = rng.integers(0, 180, size=n)  # groups of 1 to ~6 entries
    order = np.argsort(group_of, kind="stable")
    sorted_groups = group_of[order]
    starts = np.flatnonzero(np.r_[True, np.diff(sorted_groups) != 0])
    _, dense = np.unique(group_of, return_inverse=True)
    for temperature in (None, 1.5):
        groups = DiseaseGroups(
            disease_ids=ids,
            group_ids=[f"MONDO:{g}" for g in range(starts.size)],
            group_of=dense.astype(np.int64),
            order=order.astype(np.int64),
            starts=starts.astype(np.int64),
            mondo=[True] * starts.size,
            temperature=temperature,
        )
        for trial in range(50):
            scores = np.round(rng.normal(size=n) * 3, 1)  # rounded: ties happen
            scores[rng.random(n) < 0.1] = -np.inf
            for k in (1, 5, 20, 200):
                every = groups.scores(scores)
                expected = groups.top(every, k)
                chosen, chosen_scores = groups.top_of(scores, k)
                assert chosen.tolist() == expected.tolist(), (temperature, trial, k)
                assert np.allclose(chosen_scores, every[expected])
