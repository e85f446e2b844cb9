"""Resnik best-match-average predictor, with scores derived by hand on the tiny ontology.

Information content on ``tiny_kb`` (3 diseases; IC(t) = -ln(fraction of diseases annotated at or
below t)):

    HP:0000001 All, HP:0000118 Phenotypic abnormality ....... 3/3 → IC 0
    HP:0000707 nervous system (A, B), HP:0001250 Seizure (A, B),
    HP:0000478 eye (A, C) ................................... 2/3 → IC ln(3/2) ≈ 0.4055
    HP:0002069 Bilateral tonic-clonic seizure (B),
    HP:0000505 Visual impairment (A) ........................ 1/3 → IC ln 3 ≈ 1.0986

Diseases: A = OMIM:100001 {Seizure, Visual impairment}, B = OMIM:100002 {Bilateral tonic-clonic
seizure} (its NOT Visual impairment is ignored), C = ORPHA:100003 {Abnormality of the eye}.
"""

from __future__ import annotations

import math
from statistics import mean

import numpy as np
import pytest

from ocais.errors import ConfigError
from ocais.predict.base import DiseaseScorer, Predictor, create_predictor
from ocais.predict.resnik import ResnikPredictor
from ocais.schemas import Case, PhenotypeObservation, Provenance

LN_3_2 = math.log(3 / 2)
LN_3 = math.log(3)
A, B, C = "OMIM:100001", "OMIM:100002", "ORPHA:100003"


def make_case(*observed: str, excluded: tuple[str, ...] = (), case_id: str = "c1") -> Case:
    phenotypes = [PhenotypeObservation(id=t) for t in observed]
    phenotypes += [PhenotypeObservation(id=t, excluded=True) for t in excluded]
    return Case(
        id=case_id,
        phenotypes=phenotypes,
        provenance=Provenance(source="test", source_format="test"),
    )


def scores_by_id(prediction) -> dict[str, float]:  # type: ignore[no-untyped-def]
    return {c.disease_id: c.score for c in prediction.candidates}


def test_is_a_registered_disease_scorer(tiny_kb) -> None:  # type: ignore[no-untyped-def]
    predictor = create_predictor("resnik", tiny_kb)
    assert isinstance(predictor, ResnikPredictor)
    assert isinstance(predictor, Predictor)
    assert isinstance(predictor, DiseaseScorer)
    assert list(predictor.disease_ids) == [A, B, C]


def test_bilateral_tonic_clonic_seizure(tiny_kb) -> None:  # type: ignore[no-untyped-def]
    # Q = {HP:0002069}; its ancestors: itself (ln 3), Seizure and nervous system (ln(3/2)), root.
    # B: sim(q, HP:0002069) = ln 3 both ways               → score = ln 3       ≈ 1.0986
    # A: q→A: max(sim(q, Seizure) = ln(3/2), sim(q, VI) = 0) = ln(3/2)
    #    A→q: mean(Seizure: ln(3/2), VI: 0) = ln(3/2)/2    → score = ¾·ln(3/2)  ≈ 0.3041
    # C: sim(q, eye) = IC(Phenotypic abnormality) = 0     → score = 0
    prediction = ResnikPredictor(tiny_kb, symmetric=True).predict(make_case("HP:0002069"))
    assert [c.disease_id for c in prediction.candidates] == [B, A, C]
    assert [c.rank for c in prediction.candidates] == [1, 2, 3]
    assert scores_by_id(prediction) == pytest.approx({B: LN_3, A: 0.75 * LN_3_2, C: 0.0})
    assert all(c.probability is None for c in prediction.candidates)
    assert prediction.warnings == []


def test_visual_impairment(tiny_kb) -> None:  # type: ignore[no-untyped-def]
    # Q = {HP:0000505}; ancestors: itself (ln 3), eye (ln(3/2)), root.
    # A: q→A: sim(q, VI) = ln 3; A→q: mean(Seizure: 0, VI: ln 3) → score = ¾·ln 3    ≈ 0.8240
    # C: sim(q, eye) = ln(3/2) both ways                         → score = ln(3/2)   ≈ 0.4055
    # B: sim(q, BTC seizure) = 0                                 → score = 0
    prediction = ResnikPredictor(tiny_kb, symmetric=True).predict(make_case("HP:0000505"))
    assert [c.disease_id for c in prediction.candidates] == [A, C, B]
    assert scores_by_id(prediction) == pytest.approx({A: 0.75 * LN_3, C: LN_3_2, B: 0.0})


def test_two_terms_average_both_directions(tiny_kb) -> None:  # type: ignore[no-untyped-def]
    # Q = {HP:0002069, HP:0000505}
    # A: Q→A: mean(ln(3/2), ln 3); A→Q: mean(Seizure: ln(3/2), VI: ln 3)
    #                                            → score = (ln(3/2) + ln 3)/2 ≈ 0.7520
    # B: Q→B: mean(ln 3, 0) = (ln 3)/2; B→Q: ln 3 → score = ¾·ln 3          ≈ 0.8240
    # C: Q→C: mean(0, ln(3/2)); C→Q: ln(3/2)      → score = ¾·ln(3/2)       ≈ 0.3041
    prediction = ResnikPredictor(tiny_kb, symmetric=True).predict(
        make_case("HP:0002069", "HP:0000505")
    )
    assert scores_by_id(prediction) == pytest.approx(
        {A: (LN_3_2 + LN_3) / 2, B: 0.75 * LN_3, C: 0.75 * LN_3_2}
    )
    assert [c.disease_id for c in prediction.candidates] == [B, A, C]  # 0.8240 > 0.7520 > 0.3041


def test_evidence_lists_best_matches(tiny_kb) -> None:  # type: ignore[no-untyped-def]
    prediction = ResnikPredictor(tiny_kb, symmetric=True).predict(make_case("HP:0002069"))
    matched = {c.disease_id: c.evidence["matched"] for c in prediction.candidates}
    assert matched[B] == [
        {
            "patient_term": "HP:0002069",
            "disease_term": "HP:0002069",
            "common_ancestor": "HP:0002069",
            "ic": pytest.approx(LN_3),
        }
    ]
    # Seizure and "nervous system" tie at ln(3/2): the more specific ancestor is reported.
    assert matched[A] == [
        {
            "patient_term": "HP:0002069",
            "disease_term": "HP:0001250",
            "common_ancestor": "HP:0001250",
            "ic": pytest.approx(LN_3_2),
        }
    ]
    assert matched[C] == []  # only an uninformative (IC 0) common ancestor


def test_excluded_and_repeated_terms_are_ignored(tiny_kb) -> None:  # type: ignore[no-untyped-def]
    predictor = ResnikPredictor(tiny_kb, symmetric=True)
    plain = predictor.score_cases([make_case("HP:0002069")])
    noisy = predictor.score_cases(
        [make_case("HP:0002069", "HP:0002069", excluded=("HP:0000505", "HP:0001250"))]
    )
    np.testing.assert_array_equal(plain, noisy)


def test_obsolete_alternative_and_unknown_ids(tiny_kb) -> None:  # type: ignore[no-untyped-def]
    # HP:0000999 (obsolete) and HP:0001251 (alt id) both become Seizure (ln(3/2)); HP:9999999 is
    # dropped. Q = {Seizure}: B = ln(3/2) both ways; A = ½(ln(3/2) + ln(3/2)/2) = ¾·ln(3/2); C = 0.
    prediction = ResnikPredictor(tiny_kb, symmetric=True).predict(
        make_case("HP:0000999", "HP:0001251", "HP:9999999")
    )
    assert scores_by_id(prediction) == pytest.approx({B: LN_3_2, A: 0.75 * LN_3_2, C: 0.0})
    warnings = " | ".join(prediction.warnings)
    assert "HP:0000999 is obsolete or an alternative id; used HP:0001250" in warnings
    assert "HP:0001251 is obsolete or an alternative id; used HP:0001250" in warnings
    assert "HP:9999999 is not in HPO 2099-01-01; ignored" in warnings
    assert prediction.candidates[0].evidence["matched"][0]["patient_term"] == "HP:0001250"


@pytest.mark.parametrize(
    "case",
    [
        make_case(),
        make_case(excluded=("HP:0002069",)),
        make_case("HP:9999999"),
    ],
    ids=["no-terms", "only-excluded", "only-unknown"],
)
def test_empty_case_gives_empty_prediction(tiny_kb, case: Case) -> None:  # type: ignore[no-untyped-def]
    predictor = ResnikPredictor(tiny_kb, symmetric=True)
    prediction = predictor.predict(case)
    assert prediction.candidates == []
    assert any("no usable observed phenotype" in w for w in prediction.warnings)
    assert np.all(predictor.score_cases([case]) == -np.inf)


def test_ties_ranked_by_disease_id(tiny_kb) -> None:  # type: ignore[no-untyped-def]
    # "Phenotypic abnormality" has IC 0: every disease scores 0, ranks follow the ids.
    predictor = ResnikPredictor(tiny_kb, symmetric=True)
    prediction = predictor.predict(make_case("HP:0000118"))
    assert [(c.disease_id, c.rank, c.score) for c in prediction.candidates] == [
        (A, 1, 0.0),
        (B, 2, 0.0),
        (C, 3, 0.0),
    ]
    assert [
        c.disease_id for c in predictor.predict(make_case("HP:0000118"), top_k=2).candidates
    ] == [
        A,
        B,
    ]


def test_score_cases_matches_predict(tiny_kb) -> None:  # type: ignore[no-untyped-def]
    predictor = ResnikPredictor(tiny_kb, symmetric=True)
    cases = [make_case("HP:0002069"), make_case(), make_case("HP:0000505", case_id="c2")]
    scores = predictor.score_cases(cases)
    assert scores.shape == (3, 3)
    for row, prediction in zip(scores, predictor.predict_batch(cases, 10), strict=True):
        assert prediction.case_id in {"c1", "c2"}
        for candidate in prediction.candidates:
            index = list(predictor.disease_ids).index(candidate.disease_id)
            assert row[index] == candidate.score


def test_namespaces_option(tiny_kb) -> None:  # type: ignore[no-untyped-def]
    assert list(ResnikPredictor(tiny_kb, namespaces=("ORPHA",)).disease_ids) == [C]
    assert list(ResnikPredictor(tiny_kb, namespaces="omim, orpha").disease_ids) == [A, B, C]
    with pytest.raises(ConfigError):
        ResnikPredictor(tiny_kb, namespaces=("DECIPHER",))
    with pytest.raises(ConfigError):
        ResnikPredictor(tiny_kb, namespaces=())
    with pytest.raises(TypeError):
        ResnikPredictor(tiny_kb, frequency=True)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="invalid options"):
        create_predictor("resnik", tiny_kb, frequency=True)


def test_provenance(tiny_kb) -> None:  # type: ignore[no-untyped-def]
    from ocais import __version__

    prediction = ResnikPredictor(tiny_kb, symmetric=True).predict(make_case("HP:0002069"))
    provenance = prediction.provenance
    assert prediction.predictor == "resnik"
    assert provenance.source == "ocais.predict.resnik"
    assert provenance.source_format == "prediction"
    assert provenance.created_by == f"ocais {__version__}"
    assert provenance.knowledge_version == tiny_kb.version
    assert provenance.parameters == {
        "namespaces": ["OMIM", "ORPHA"],
        "hpo_content_hash": tiny_kb.release["content_hash"],
    }


# --- a naive reference implementation, term pair by term pair ------------------------------------
def naive_score(kb, observed: list[str], disease_id: str) -> float:  # type: ignore[no-untyped-def]
    annotated = sorted(
        {
            p.id
            for p in kb.disease(disease_id).phenotypes
            if not p.excluded and (p.frequency is None or p.frequency > 0)
        }
    )
    ancestors = {t: set(kb.ancestors(t)) for t in [*observed, *annotated]}

    def sim(q: str, t: str) -> float:
        return max(
            float(kb.information_content[kb.term_index[a]]) for a in ancestors[q] & ancestors[t]
        )

    forward = mean(max(sim(q, t) for t in annotated) for q in observed)
    backward = mean(max(sim(q, t) for q in observed) for t in annotated)
    return (forward + backward) / 2


def test_matches_naive_reference_on_tiny(tiny_kb) -> None:  # type: ignore[no-untyped-def]
    predictor = ResnikPredictor(tiny_kb, symmetric=True)
    queries = [["HP:0002069"], ["HP:0001250", "HP:0000478"], ["HP:0000707", "HP:0000505"]]
    scores = predictor.score_cases([make_case(*q) for q in queries])
    for row, observed in zip(scores, queries, strict=True):
        expected = [naive_score(tiny_kb, observed, d) for d in predictor.disease_ids]
        assert row == pytest.approx(expected)


@pytest.mark.slow
def test_matches_naive_reference_on_real_kb(real_kb) -> None:  # type: ignore[no-untyped-def]
    predictor = ResnikPredictor(real_kb, symmetric=True)
    queries = [
        ["HP:0001250", "HP:0001263", "HP:0000252"],  # seizure, global delay, microcephaly
        ["HP:0001166", "HP:0001083", "HP:0002616", "HP:0000098"],  # Marfan-like
    ]
    scores = predictor.score_cases([make_case(*q) for q in queries])
    rng = np.random.default_rng(0)
    sample = rng.choice(len(predictor.disease_ids), size=40, replace=False)
    for row, observed in zip(scores, queries, strict=True):
        for index in sample:
            disease_id = predictor.disease_ids[int(index)]
            if not np.isfinite(row[index]):
                continue  # a disease without positive phenotype annotations
            assert row[index] == pytest.approx(naive_score(real_kb, observed, disease_id))


@pytest.mark.slow
def test_cystic_fibrosis_ranks_highly(real_kb) -> None:  # type: ignore[no-untyped-def]
    annotated = {p.id for p in real_kb.disease("OMIM:219700").phenotypes if not p.excluded}
    classic = [
        "HP:0012236",  # Elevated sweat chloride
        "HP:0004401",  # Meconium ileus
        "HP:0001738",  # Exocrine pancreatic insufficiency
        "HP:0002110",  # Bronchiectasis
        "HP:0001508",  # Failure to thrive
    ]
    assert set(classic) <= annotated
    prediction = ResnikPredictor(real_kb).predict(make_case(*classic), top_k=10)
    assert "OMIM:219700" in [c.disease_id for c in prediction.candidates]
    top = prediction.candidates[0]
    assert top.evidence["matched"], "the top candidate explains its score"


def test_one_way_query_to_disease_by_hand(tiny_kb) -> None:
    """Default (Phenomizer query → disease): mean over the case's terms of the best match."""
    got = dict(
        zip(
            ResnikPredictor(tiny_kb).disease_ids,
            ResnikPredictor(tiny_kb).score_cases([make_case("HP:0002069", "HP:0000505")])[0],
            strict=True,
        )
    )
    # BTCS: A via Seizure (ln 3/2), B exact (ln 3), C none (0); VI: A exact (ln 3), B none
    # (NOT annotations are not matches), C via the eye (ln 3/2)
    assert got[A] == pytest.approx((math.log(1.5) + math.log(3)) / 2)
    assert got[B] == pytest.approx(math.log(3) / 2)
    assert got[C] == pytest.approx(math.log(1.5) / 2)
