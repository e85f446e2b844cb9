"""The learned predictor (ocais.learn.model) and its counted profiles (ocais.learn.profiles)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ocais.errors import ConfigError
from ocais.knowledge import KnowledgeBase
from ocais.learn.model import MODEL_FILE, LearnedModel, LearnedPredictor, LearnOptions, fit
from ocais.learn.profiles import CaseProfiles
from ocais.predict.base import create_predictor
from ocais.schemas import Case
from tests.synth.cases import make_case
from tests.synth.test_generate import phenotypic_terms, rich_diseases, source_cases

NEW_DISEASE = "LOCAL:0001"


def new_disease_terms(kb: KnowledgeBase) -> list[str]:
    """Eight phenotypic terms: the profile of a disease the knowledge base does not know."""
    return sorted(phenotypic_terms(kb))[5000:5008]


def new_disease_cases(kb: KnowledgeBase, n: int = 6) -> list[Case]:
    rng = np.random.default_rng(1)
    pool = new_disease_terms(kb)
    return [
        make_case(f"new-{i}", NEW_DISEASE, [str(t) for t in rng.choice(pool, 5, replace=False)])
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def training(real_kb: KnowledgeBase) -> list[Case]:
    return source_cases(real_kb, rich_diseases(real_kb, 3), 6) + new_disease_cases(real_kb)


@pytest.fixture(scope="module")
def model(real_kb: KnowledgeBase, training: list[Case]) -> LearnedModel:
    return fit(training, real_kb, LearnOptions(seed=0), source="unit test")


def test_fit_learns_a_disease_the_knowledge_base_lacks(
    real_kb: KnowledgeBase, model: LearnedModel
) -> None:
    assert not real_kb.has_disease(NEW_DISEASE)
    assert model.training["n_new_diseases"] == 1
    assert model.training["n_diseases"] == 4
    predictor = LearnedPredictor(real_kb, model=model)
    assert NEW_DISEASE in predictor.disease_ids
    typical = make_case("typical", None, new_disease_terms(real_kb)[:6])
    prediction = predictor.predict(typical, 5)
    assert prediction.candidates[0].disease_id == NEW_DISEASE
    assert (
        prediction.provenance.parameters["model"]["training"]["n_cases"]
        == model.training["n_cases"]
    )


def test_model_save_load_round_trip_scores_identically(
    tmp_path: Path, real_kb: KnowledgeBase, model: LearnedModel, training: list[Case]
) -> None:
    path = model.save(tmp_path / "model")
    assert path == tmp_path / "model" / MODEL_FILE
    loaded = LearnedModel.load(tmp_path / "model", real_kb)
    assert loaded.options == model.options
    assert loaded.temperature == model.temperature
    np.testing.assert_array_equal(loaded.weights, model.weights)
    before = LearnedPredictor(real_kb, model=model).score_cases(training)
    after = create_predictor("learned", real_kb, model_dir=tmp_path / "model").score_cases(training)
    np.testing.assert_array_equal(before, after)


def test_loading_a_missing_model_is_a_config_error_with_a_hint(
    tmp_path: Path, real_kb: KnowledgeBase
) -> None:
    with pytest.raises(ConfigError, match="no learned model") as caught:
        LearnedModel.load(tmp_path / "nowhere", real_kb)
    assert caught.value.hint and "ocais learn fit" in caught.value.hint


@pytest.mark.parametrize("content", ['{"format": "something-else"}', "[1, 2]", "{not json"])
def test_loading_a_wrong_format_is_a_config_error_with_a_hint(
    tmp_path: Path, real_kb: KnowledgeBase, content: str
) -> None:
    (tmp_path / MODEL_FILE).write_text(content)
    with pytest.raises(ConfigError) as caught:
        LearnedModel.load(tmp_path, real_kb)
    assert caught.value.hint and "ocais learn fit" in caught.value.hint


def test_the_predictor_needs_a_model(real_kb: KnowledgeBase) -> None:
    with pytest.raises(ConfigError, match="needs a model"):
        create_predictor("learned", real_kb)


def test_fit_needs_labelled_cases(real_kb: KnowledgeBase) -> None:
    with pytest.raises(ConfigError, match="usable cases"):
        fit([make_case("x", None, ["HP:0001250"])], real_kb)


def test_case_profiles_save_load_round_trip(
    tmp_path: Path, real_kb: KnowledgeBase, training: list[Case]
) -> None:
    profiles = CaseProfiles.from_cases(training, real_kb, max_terms=5, seed=3)
    private = profiles.privatized(2.0, real_kb, seed=1)
    for original in (profiles, private):
        target = tmp_path / f"profiles-{original.epsilon}"
        original.save(target)
        loaded = CaseProfiles.load(target, real_kb)
        assert loaded.disease_ids == original.disease_ids
        assert loaded.disease_names == original.disease_names
        assert loaded.max_terms == 5 and loaded.epsilon == original.epsilon
        assert loaded.sources == json.loads(json.dumps(original.sources))
        np.testing.assert_array_equal(loaded.n_cases, original.n_cases)
        np.testing.assert_array_equal(loaded.sex, original.sex)
        np.testing.assert_array_equal(loaded.age, original.age)
        np.testing.assert_array_equal(loaded.observed.toarray(), original.observed.toarray())
        np.testing.assert_array_equal(loaded.excluded.toarray(), original.excluded.toarray())


def test_case_profiles_load_errors(tmp_path: Path, real_kb: KnowledgeBase) -> None:
    with pytest.raises(ConfigError) as caught:
        CaseProfiles.load(tmp_path, real_kb)
    assert caught.value.hint


def test_frequencies_smooth_with_the_prior_and_drop_rare_terms(real_kb: KnowledgeBase) -> None:
    terms = new_disease_terms(real_kb)
    # 10 cases: every one shows terms[0], three show terms[1], one shows terms[2]
    cases = [
        make_case(f"c{i}", NEW_DISEASE, [terms[0]] + ([terms[1]] if i < 3 else []))
        for i in range(10)
    ]
    cases[9] = make_case("c9", NEW_DISEASE, [terms[0], terms[2]])
    profiles = CaseProfiles.from_cases(cases, real_kb)
    column = {t: real_kb.term_index[t] for t in terms[:3]}
    plain = profiles.frequencies(strength=1.0).toarray()[0]
    assert plain[column[terms[0]]] == pytest.approx(10 / 11)
    assert plain[column[terms[1]]] == pytest.approx(3 / 11)
    assert plain[column[terms[2]]] == pytest.approx(1 / 11)
    pruned = profiles.frequencies(strength=1.0, min_share=0.2).toarray()[0]
    assert pruned[column[terms[1]]] == pytest.approx(3 / 11)
    assert pruned[column[terms[2]]] == 0.0, "a finding of 1 case in 10 is dropped at 20%"
