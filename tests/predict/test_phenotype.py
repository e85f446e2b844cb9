"""Phenotype likelihood-ratio ranker: scores derived by hand on the tiny ontology.

Tiny release (tests/conftest.py): IC(Seizure) = IC(nervous system) = IC(eye) = ln 3/2,
IC(Bilateral tonic-clonic seizure, "BTCS") = IC(Visual impairment, "VI") = ln 3, IC = 0 above.
Disease A: Seizure 0.5, VI 0.895. B: BTCS 0.8, NOT VI. C: Abnormality of the eye (no frequency
→ default 0.5), only in females. Defaults: λ = 6, α = 0.01, β = 0.1, excluded weight 0.15,
excluded relevance 0.5, NOT penalty 3, sex penalty 2.
"""

from __future__ import annotations

import math

import pytest

from ocais.predict.phenotype import PhenotypeRanker
from ocais.schemas import Case, PhenotypeObservation, Provenance, Sex, Subject

LN3, LN15 = math.log(3), math.log(1.5)
LOG_FLOOR = math.log(0.01)


def make_case(observed=(), excluded=(), sex=Sex.UNKNOWN, age=None) -> Case:  # type: ignore[no-untyped-def]
    phenotypes = [PhenotypeObservation(id=t) for t in observed]
    phenotypes += [PhenotypeObservation(id=t, excluded=True) for t in excluded]
    return Case(
        id="c1",
        subject=Subject(sex=sex, age_years=age),
        phenotypes=phenotypes,
        provenance=Provenance(source="test", source_format="test"),
    )


def loose(frequency: float, ic_link: float, ic_term: float) -> float:
    """log of f·e^{IC(a) − λ(IC(q) − IC(a))} with λ = 6."""
    return math.log(frequency) + 7 * ic_link - 6 * ic_term


def scores(ranker: PhenotypeRanker, case: Case) -> dict[str, float]:
    [row] = ranker.score_cases([case])
    return dict(zip(ranker.disease_ids, row.tolist(), strict=True))


def test_specific_observed_term(tiny_kb) -> None:
    ranker = PhenotypeRanker(tiny_kb)
    got = scores(ranker, make_case(observed=["HP:0002069"]))
    # B is annotated with BTCS itself: log(0.8) + IC(BTCS); nothing else to add
    expected_b = math.log(0.8) + LN3
    # A only has Seizure (a parent): loose match, and its VI (0.895) is unreported
    expected_a = loose(0.5, LN15, LN3) + math.log(1 - 0.1 * 0.895)
    # C has nothing related (floor) and an unreported eye feature (0.5)
    expected_c = LOG_FLOOR + math.log(1 - 0.1 * 0.5)
    assert got["OMIM:100002"] == pytest.approx(expected_b)
    assert got["OMIM:100001"] == pytest.approx(expected_a)
    assert got["ORPHA:100003"] == pytest.approx(expected_c)
    prediction = ranker.predict(make_case(observed=["HP:0002069"]))
    assert [c.disease_id for c in prediction.candidates] == [
        "OMIM:100002",
        "OMIM:100001",
        "ORPHA:100003",
    ]


def test_excluded_not_and_sex(tiny_kb) -> None:
    ranker = PhenotypeRanker(tiny_kb)
    case = make_case(observed=["HP:0000505"], excluded=["HP:0001250"], sex=Sex.MALE)
    got = scores(ranker, case)
    # Observed VI: A has it (0.895); B is annotated NOT VI (floor − 3); C via the eye (loose)
    # Excluded Seizure: relevance 0.5 × its observed log LR, plus 0.15·log(1 − p)
    seizure_a = max(loose(0.5, LN15, LN15), LOG_FLOOR)  # = log 0.5 + IC(Seizure)
    seizure_b = loose(0.8, LN15, LN15)
    seizure_c = loose(0.5, 0.0, LN15)  # only the root links them
    expected_a = math.log(0.895) + LN3 + 0.5 * seizure_a + 0.15 * math.log(0.5)
    expected_b = LOG_FLOOR - 3 + 0.5 * seizure_b + 0.15 * math.log(0.2)
    expected_c = loose(0.5, LN15, LN3) + 0.5 * seizure_c - 2.0  # female-only disease
    assert got["OMIM:100001"] == pytest.approx(expected_a)
    assert got["OMIM:100002"] == pytest.approx(expected_b)
    assert got["ORPHA:100003"] == pytest.approx(expected_c)
    top = ranker.predict(case, top_k=3)
    assert top.candidates[0].disease_id == "OMIM:100001"
    assert sum(c.probability or 0 for c in top.candidates) == pytest.approx(1.0)


def test_evidence_and_next_questions(tiny_kb) -> None:
    ranker = PhenotypeRanker(tiny_kb)
    prediction = ranker.predict(make_case(observed=["HP:0001250"], excluded=["HP:0000505"]))
    by_id = {c.disease_id: c for c in prediction.candidates}
    a = by_id["OMIM:100001"].evidence
    assert a["matched"][0]["disease_term"] == "HP:0001250"
    assert a["matched"][0]["relation"] == "exact" and a["matched"][0]["frequency"] == 0.5
    # A has VI at 0.895 and the patient lacks it: a conflict
    assert [c["id"] for c in a["conflicts"]] == ["HP:0000505"]
    b = by_id["OMIM:100002"].evidence
    assert b["matched"][0]["relation"] == "patient term is broader"
    questions = [q.id for q in prediction.next_phenotypes]
    # BTCS separates B (0.8) from A (not annotated): the best question
    assert questions[0] == "HP:0002069"
    assert "HP:0001250" not in questions and "HP:0000505" not in questions


def test_unknown_and_obsolete_ids_and_empty_case(tiny_kb) -> None:
    ranker = PhenotypeRanker(tiny_kb)
    prediction = ranker.predict(make_case(observed=["HP:0000999", "HP:0004321"]))
    assert any("HP:0004321 is not in HPO" in w for w in prediction.warnings)
    assert any("HP:0000999" in w and "HP:0001250" in w for w in prediction.warnings)
    assert prediction.candidates[0].disease_id == "OMIM:100002"
    empty = ranker.predict(make_case())
    assert empty.candidates == [] and empty.warnings


def test_onset_penalty(tiny_kb) -> None:
    """A disease annotated "Adult onset" is penalised for a congenital presentation."""
    import numpy as np

    from ocais.predict.demographics import Demographics

    demo = Demographics(
        onset_low=np.array([16.0, np.nan]),
        onset_high=np.array([120.0, np.nan]),
        limited_to=np.array([0, 0], dtype=np.int8),
    )
    infant = make_case(observed=["HP:0001250"], age=0.5)
    assert demo.penalty(infant, 1.0, 2.0).tolist() == [-1.0, 0.0]
    adult = make_case(observed=["HP:0001250"], age=30)
    assert demo.penalty(adult, 1.0, 2.0).tolist() == [0.0, 0.0]


def test_namespaces_and_options(tiny_kb) -> None:
    ranker = PhenotypeRanker(tiny_kb, namespaces=("OMIM",))
    assert list(ranker.disease_ids) == ["OMIM:100001", "OMIM:100002"]
    with pytest.raises(TypeError):
        PhenotypeRanker(tiny_kb, nonsense=1)


def test_measured_options_off_by_default_and_their_effect(tiny_kb) -> None:
    """The tuning options (docs/decisions/0003) change nothing unless set; each has the effect
    derived by hand on one tiny case."""
    case = make_case(observed=["HP:0002069", "HP:0001250"], excluded=["HP:0000505"])
    default = scores(PhenotypeRanker(tiny_kb), case)
    off = PhenotypeRanker(tiny_kb, match_ic_weight=0.0, system_cap=None, excluded_ratio=None)
    assert scores(off, case) == default
    # B: BTCS exact (log 0.8 + ln 3) and Seizure through BTCS (log 0.8 + ln 1.5), both in the
    # nervous system; its excluded VI (a NOT annotation: floor − 3, and p = 0) adds 0.5 × that
    btcs, seizure = math.log(0.8) + LN3, math.log(0.8) + LN15
    excluded_b = 0.5 * (LOG_FLOOR - 3)
    assert default["OMIM:100002"] == pytest.approx(btcs + seizure + excluded_b)
    capped = scores(PhenotypeRanker(tiny_kb, system_cap=0.5), case)
    assert capped["OMIM:100002"] == pytest.approx(0.5 + excluded_b, abs=1e-5)
    # γ = 1: weights IC(q) / mean IC = ln 3 / m and ln 1.5 / m with m = (ln 3 + ln 1.5) / 2
    m = (LN3 + LN15) / 2
    weighted = scores(PhenotypeRanker(tiny_kb, match_ic_weight=1.0), case)
    expected = LN3 / m * btcs + LN15 / m * seizure + excluded_b
    assert weighted["OMIM:100002"] == pytest.approx(expected, abs=1e-5)
    # ratio 0.25: 2 observed, 1 excluded → the excluded parts × min(1, 0.25 · 2 / 1) = 0.5
    halved = scores(PhenotypeRanker(tiny_kb, excluded_ratio=0.25), case)
    assert halved["OMIM:100002"] == pytest.approx(btcs + seizure + 0.5 * excluded_b, abs=1e-5)


def test_excluded_weight_default(tiny_kb) -> None:
    """The conflict part of a pertinent negative weighs 0.15 (0.3 before 2026-12-05; chosen on
    half the cohorts, checked on the other, docs/decisions/0003): an excluded Seizure costs A
    (Seizure 0.5) 0.15·log 0.5 and B (BTCS 0.8, under Seizure) 0.15·log 0.2, C nothing."""
    case = make_case(observed=["HP:0000505"], excluded=["HP:0001250"])
    new = scores(PhenotypeRanker(tiny_kb), case)
    old = scores(PhenotypeRanker(tiny_kb, excluded_weight=0.3), case)
    none = scores(PhenotypeRanker(tiny_kb, excluded_weight=0.0), case)
    assert new["OMIM:100001"] - none["OMIM:100001"] == pytest.approx(0.15 * math.log(0.5))
    assert new["OMIM:100002"] - none["OMIM:100002"] == pytest.approx(0.15 * math.log(0.2))
    assert old["OMIM:100002"] - new["OMIM:100002"] == pytest.approx(0.15 * math.log(0.2))
    assert new["ORPHA:100003"] == none["ORPHA:100003"]
