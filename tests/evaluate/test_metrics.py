"""Metrics computed by hand on small rank lists."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ocais.evaluate.metrics import (
    SEX_GROUPS,
    age_group,
    binary_top_k,
    calibration_metrics,
    covered_metrics,
    per_disease_table,
    pessimistic_rank,
    phenotype_count_group,
    ranking_metrics,
    reliability_bins,
    subgroup_metrics,
    top_indices,
    topk_curve,
)

INF = math.inf


# --- ranks --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("scores", "truth", "expected"),
    [
        ([0.5, 0.9, 0.5, 0.1], 0, 3),  # one better, one tied → placed after both
        ([0.5, 0.9, 0.5, 0.1], [0, 2], 2),  # a tied *true* disease is not a competitor
        ([1.0, 1.0, 1.0, 1.0], 0, 4),  # all tied: last
        ([1.0, 2.0, 3.0], [0, 2], 1),  # the best-ranked truth wins
        ([0.2, 0.1], 1, 2),
        ([1.0, -INF], 1, None),  # -inf: not ranked
        ([1.0, math.nan], 1, None),
        ([-INF, -INF], [0, 1], None),
        ([1.0, INF], 1, 1),
        ([1.0, 2.0], [], None),
    ],
)
def test_pessimistic_rank(
    scores: list[float], truth: int | list[int], expected: int | None
) -> None:
    assert pessimistic_rank(np.array(scores), truth) == expected


def test_pessimistic_rank_rejects_an_index_out_of_range() -> None:
    with pytest.raises(ValueError, match="out of range"):
        pessimistic_rank([1.0, 2.0], 2)


def test_top_indices_sorts_by_score_then_index_and_drops_minus_inf() -> None:
    scores = np.array([1.0, 3.0, 3.0, -INF, math.nan, 2.0])
    assert top_indices(scores, 3).tolist() == [1, 2, 5]
    assert top_indices(scores, 10).tolist() == [1, 2, 5, 0]
    assert top_indices(np.array([-INF]), 5).tolist() == []


# --- accuracy -----------------------------------------------------------------------------------
RANKS = [1, 2, None, 11, None]
COVERED = [True, True, False, True, True]


def test_ranking_metrics_count_uncovered_cases_as_misses() -> None:
    m = ranking_metrics(RANKS, COVERED)
    assert m["n_cases"] == 5 and m["n_covered"] == 4 and m["n_ranked"] == 3
    assert m["coverage"] == pytest.approx(0.8)
    assert (m["top1"], m["top3"], m["top5"], m["top10"]) == pytest.approx((0.2, 0.4, 0.4, 0.4))
    assert m["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 11) / 5, abs=1e-6)
    assert m["mean_rank"] == pytest.approx(14 / 3, abs=1e-4)
    assert m["median_rank"] == 2


def test_covered_metrics_leave_out_unknown_diagnoses() -> None:
    m = covered_metrics(RANKS, COVERED)
    assert m["n_cases"] == 4 and m["coverage"] == 1
    assert m["top1"] == pytest.approx(0.25)
    assert m["top10"] == pytest.approx(0.5)
    assert m["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 11) / 4, abs=1e-6)


def test_ranking_metrics_of_nothing_are_zero() -> None:
    m = ranking_metrics([], [])
    assert m["n_cases"] == 0 and m["top1"] == 0 and m["mrr"] == 0 and m["coverage"] == 0


def test_a_ranked_case_must_be_covered() -> None:
    with pytest.raises(ValueError, match="covered"):
        ranking_metrics([1], [False])
    with pytest.raises(ValueError, match="coverage flags"):
        ranking_metrics([1, 2], [True])


def test_topk_curve() -> None:
    assert topk_curve([1, 3, None], max_k=5) == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3])
    assert len(topk_curve([1])) == 50
    assert topk_curve([], max_k=2) == [0.0, 0.0]


# --- subgroups ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("age", "label"),
    [
        (None, "unknown"),
        (0.0, "<1"),
        (0.99, "<1"),
        (1.0, "1-5"),
        (5.9, "1-5"),
        (6.0, "6-11"),
        (11.9, "6-11"),
        (12.0, "12-17"),
        (17.99, "12-17"),
        (18.0, "18-39"),
        (39.9, "18-39"),
        (40.0, "40+"),
        (90.0, "40+"),
    ],
)
def test_age_group(age: float | None, label: str) -> None:
    assert age_group(age) == label


@pytest.mark.parametrize(
    ("n", "label"),
    [
        *[(0, "0"), (1, "1-2"), (2, "1-2"), (3, "3-5"), (5, "3-5"), (6, "6-10"), (10, "6-10")],
        *[(11, "11-20"), (20, "11-20"), (21, ">20"), (300, ">20")],
    ],
)
def test_phenotype_count_group(n: int, label: str) -> None:
    assert phenotype_count_group(n) == label


def test_subgroup_metrics_follow_the_given_order_then_the_rest() -> None:
    labels = ["male", "female", "female", "x"]
    groups = subgroup_metrics([1, None, 2, 5], [True] * 4, labels, SEX_GROUPS)
    assert list(groups) == ["female", "male", "x"]
    assert groups["female"]["n_cases"] == 2
    assert groups["female"]["top1"] == 0 and groups["female"]["top3"] == 0.5
    assert groups["male"]["top1"] == 1
    with pytest.raises(ValueError, match="group labels"):
        subgroup_metrics([1], [True], [])


def test_per_disease_table() -> None:
    rows = per_disease_table(
        [["OMIM:1"], ["OMIM:1"], ["OMIM:2"], ["OMIM:1", "OMIM:2"], ["OMIM:3"]],
        [1, 12, None, 2, None],
        [True, True, False, True, False],
        {"OMIM:1": "One", "OMIM:2": "Two"},
    )
    assert [r["disease_id"] for r in rows] == ["OMIM:1", "OMIM:2", "OMIM:3"]
    one, two, three = rows
    assert one == {
        "disease_id": "OMIM:1",
        "name": "One",
        "n_cases": 3,
        "coverage": 1.0,
        "top1": pytest.approx(1 / 3, abs=1e-6),
        "top10": pytest.approx(2 / 3, abs=1e-6),
        "mean_rank": 5.0,
    }
    assert two["n_cases"] == 2 and two["coverage"] == 0.5 and two["top10"] == 0.5
    assert two["mean_rank"] == 2.0
    assert three["name"] == "" and three["mean_rank"] is None and three["top1"] == 0


# --- binary -------------------------------------------------------------------------------------
TRUTHS = [{"A"}, {"A"}, {"B"}, {"C"}]
TOPS = [["A", "B"], ["B", "C", "A"], ["A"], ["C"]]


def test_binary_top_k() -> None:
    top1 = binary_top_k("A", TRUTHS, TOPS, k=1)
    assert (top1["tp"], top1["fn"], top1["fp"], top1["tn"]) == (1, 1, 1, 1)
    assert top1["sensitivity"] == 0.5 and top1["specificity"] == 0.5
    assert top1["n_positive"] == 2 and top1["n_negative"] == 2
    top3 = binary_top_k("A", TRUTHS, TOPS, k=3)
    assert (
        top3["sensitivity"] == 1.0
        and top3["specificity"] == 0.5
        and top3["ppv"] == pytest.approx(2 / 3, abs=1e-6)
    )
    nobody = binary_top_k("Z", TRUTHS, TOPS, k=1)
    assert nobody["sensitivity"] is None and nobody["specificity"] == 1.0


# --- calibration --------------------------------------------------------------------------------
PROBABILITIES = [0.9, 0.9, 0.2, 0.2]
CORRECT = [True, False, False, False]


def test_expected_calibration_error_by_hand() -> None:
    m = calibration_metrics(PROBABILITIES, CORRECT)
    # bin 0.9: confidence 0.9, accuracy 0.5 (gap 0.4); bin 0.2: 0.2 vs 0 (gap 0.2); 2 cases each
    assert m["ece"] == pytest.approx(0.3)
    assert m["mce"] == pytest.approx(0.4)
    assert m["brier"] == pytest.approx((0.01 + 0.81 + 0.04 + 0.04) / 4)
    assert m["n"] == 4 and m["accuracy"] == 0.25 and m["confidence"] == pytest.approx(0.55)


def test_reliability_bins() -> None:
    bins = reliability_bins([*PROBABILITIES, 1.0], [*CORRECT, True], n_bins=5)
    assert [b["count"] for b in bins] == [0, 2, 0, 0, 3]
    assert bins[4]["accuracy"] == pytest.approx(2 / 3) and bins[4]["upper"] == 1.0
    assert bins[1]["confidence"] == pytest.approx(0.2) and bins[0]["accuracy"] == 0


def test_calibration_checks_its_input() -> None:
    assert calibration_metrics([], [])["ece"] == 0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        calibration_metrics([1.5], [True])
    with pytest.raises(ValueError, match="outcomes"):
        calibration_metrics([0.5], [])
