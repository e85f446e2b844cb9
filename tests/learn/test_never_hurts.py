"""Learning that never hurts (decision 0011): a model fitted on some diseases must not push
cases of the diseases it never saw down the knowledge-only ranking."""

from __future__ import annotations

import numpy as np
import pytest

from ocais.evaluate.metrics import pessimistic_rank
from ocais.knowledge import KnowledgeBase
from ocais.learn.model import LearnedModel, LearnedPredictor, LearnOptions, fit
from ocais.learn.profiles import truth_of
from ocais.learn.reranker import FEATURES, weights_by_name
from ocais.predict.phenotype import PhenotypeRanker
from ocais.schemas import Case
from tests.synth.cases import make_case
from tests.synth.test_generate import phenotypic_terms, rich_diseases, source_cases

N_LEARNED = 8


def with_extras(
    cases: list[Case], pool: list[str], n: int, seed: int, keep: int | None = None
) -> list[Case]:
    """Each case with ``n`` findings from ``pool`` added (what real cohorts report besides the
    textbook features: they make learned profiles broader than the annotations), and only
    ``keep`` of its own findings if given (a sparse case)."""
    rng = np.random.default_rng(seed)
    result = []
    for case in cases:
        terms = [p.id for p in case.phenotypes if not p.excluded][:keep]
        extra = [str(t) for t in rng.choice(pool, n, replace=False)]
        result.append(make_case(case.id, truth_of(case), sorted(set(terms + extra))))
    return result


@pytest.fixture(scope="module")
def setting(real_kb: KnowledgeBase) -> tuple[list[Case], list[Case], list[Case]]:
    """(training cases of the learned diseases, held-out cases of them, cases of others)."""
    diseases = rich_diseases(real_kb, N_LEARNED + 6)
    pool = sorted(phenotypic_terms(real_kb))[2000:2040]
    learned, others = diseases[:N_LEARNED], diseases[N_LEARNED:]
    train = with_extras(source_cases(real_kb, learned, 8, seed=0), pool, 4, seed=1)
    seen = with_extras(source_cases(real_kb, learned, 3, seed=5, prefix="t"), pool, 2, seed=2)
    unseen = with_extras(
        source_cases(real_kb, others, 6, seed=3, prefix="u"), pool, 3, seed=4, keep=2
    )
    return train, seen, unseen


def ranks(predictor: PhenotypeRanker, cases: list[Case]) -> list[int]:
    index = {d: i for i, d in enumerate(predictor.disease_ids)}
    scores = predictor.score_cases(cases)
    result = []
    for row, case in enumerate(cases):
        rank = pessimistic_rank(scores[row], index[truth_of(case) or ""])
        assert rank is not None
        result.append(rank)
    return result


def fitted(real_kb: KnowledgeBase, train: list[Case], **options: object) -> LearnedPredictor:
    model = fit(train, real_kb, LearnOptions(seed=0, **options))
    return LearnedPredictor(real_kb, model=model)


def test_a_learned_model_does_not_sink_diseases_it_did_not_learn(
    real_kb: KnowledgeBase, setting: tuple[list[Case], list[Case], list[Case]]
) -> None:
    train, seen, unseen = setting
    knowledge = PhenotypeRanker(real_kb)
    learned = fitted(real_kb, train)
    before, after = np.asarray(ranks(knowledge, unseen)), np.asarray(ranks(learned, unseen))
    # tolerance: no first place lost, the mean log rank within 10% of the knowledge ranker's
    assert np.mean(after == 1) >= np.mean(before == 1)
    assert np.mean(np.log(after / before)) <= 0.1
    # ... while the diseases it learned still gain
    seen_before, seen_after = ranks(knowledge, seen), ranks(learned, seen)
    assert np.mean(np.asarray(seen_after) == 1) >= np.mean(np.asarray(seen_before) == 1)


def test_the_profiled_only_feature_is_what_sinks_them(
    real_kb: KnowledgeBase, setting: tuple[list[Case], list[Case], list[Case]]
) -> None:
    """The pre-0011 feature set (learned score of profiled diseases only) as a contrast: it
    pays a bonus for having a profile, and the unlearned diseases lose places."""
    train, _seen, unseen = setting
    before = np.asarray(ranks(PhenotypeRanker(real_kb), unseen))
    old = np.asarray(ranks(fitted(real_kb, train, profiled_feature=True), unseen))
    assert np.mean(np.log(old / before)) > 0.15


def test_the_default_model_scores_every_disease_on_one_scale(
    real_kb: KnowledgeBase, setting: tuple[list[Case], list[Case], list[Case]]
) -> None:
    model: LearnedModel = fitted(real_kb, setting[0]).model
    weights = dict(zip(FEATURES, model.weights, strict=True))
    for name in ("learned_score_if_profiled", "profiled"):
        assert weights[name] == 0.0
    assert weights["learned_score"] != 0.0


def test_models_saved_with_the_old_feature_list_load_by_name() -> None:
    old = ["learned_score_if_profiled", "knowledge_score", "profiled"]
    weights = weights_by_name(old, [0.3, 0.05, 0.0])
    assert weights[FEATURES.index("learned_score_if_profiled")] == 0.3
    assert weights[FEATURES.index("learned_score")] == 0.0
    with pytest.raises(ValueError, match="unsupported"):
        weights_by_name(["what"], [1.0])
