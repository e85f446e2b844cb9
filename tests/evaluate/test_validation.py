"""Before/after validation on fake scorers, with every expected figure worked out by hand.

Four diagnosed cases and one without a confirmed diagnosis::

    case  truth   before (ids A, B)      after (ids B, A, C)
    c1    A       [3, 2] → A rank 1      [1, 3, 2] → A rank 1
    c2    A       [1, 2] → A rank 2      [1, 3, 0] → A rank 1
    c3    B       [2, 2] → B tied: 2     [5, 1, 1] → B rank 1
    c4    C       [3, 2] → C unknown     [2, 1, 2] → C tied with B: rank 2
    c5    —       (left out)

Certain top-1 (a tie at the top leaves it empty): before c1 [A], c2 [B], c3 [], c4 [A];
after c1 [A], c2 [A], c3 [B], c4 [].
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ocais.errors import ConfigError
from ocais.evaluate.validation import (
    certain_top,
    paired_bootstrap,
    validate,
    validation_json,
    write_validation_html,
)
from ocais.schemas import Case, Diagnosis, Provenance

A, B, C, D = "OMIM:100001", "OMIM:100002", "OMIM:100003", "OMIM:100009"


def case(case_id: str, truth: str | None) -> Case:
    return Case(
        id=case_id,
        diagnoses=[] if truth is None else [Diagnosis(disease_id=truth, label=f"Disease {truth}")],
        provenance=Provenance(source="test", source_format="test"),
    )


class FakeScorer:
    def __init__(self, name: str, ids: Sequence[str], scores: dict[str, list[float]]) -> None:
        self.name = name
        self._ids = list(ids)
        self.scores = scores

    @property
    def disease_ids(self) -> Sequence[str]:
        return self._ids

    def score_cases(self, cases: Sequence[Case]) -> np.ndarray:
        return np.asarray([self.scores[c.id] for c in cases], dtype=np.float64)


CASES = [case("c1", A), case("c2", A), case("c3", B), case("c4", C), case("c5", None)]
BEFORE = FakeScorer(
    "old", [A, B], {"c1": [3, 2], "c2": [1, 2], "c3": [2, 2], "c4": [3, 2], "c5": [0, 0]}
)
AFTER = FakeScorer(
    "new",
    [B, A, C],
    {"c1": [1, 3, 2], "c2": [1, 3, 0], "c3": [5, 1, 1], "c4": [2, 1, 2], "c5": [0, 0, 0]},
)


def test_certain_top_leaves_out_ties_at_the_boundary() -> None:
    assert certain_top([3.0, 2.0, 2.0, 1.0], 1).tolist() == [0]
    assert certain_top([3.0, 2.0, 2.0, 1.0], 2).tolist() == [0]  # B and C tie for 2nd
    assert certain_top([3.0, 2.0, 2.0, 1.0], 3).tolist() == [0, 1, 2]
    assert certain_top([2.0, -np.inf], 5).tolist() == [0]


def test_overall_figures_and_differences() -> None:
    result = validate(BEFORE, AFTER, CASES, ks=(1, 3), binary_k=1)
    assert (result.before_name, result.after_name) == ("old", "new")
    assert (result.n_cases, result.n_skipped) == (4, 1)
    # before ranks [1, 2, 2, miss]; after ranks [1, 1, 1, 2]
    assert (result.before["top1"], result.before["top3"]) == (0.25, 0.75)
    assert result.before["mrr"] == 0.5
    assert result.before["coverage"] == 0.75
    assert (result.after["top1"], result.after["top3"]) == (0.75, 1.0)
    assert result.after["mrr"] == 0.875
    assert result.after["coverage"] == 1.0
    assert result.difference == {"top1": 0.5, "top3": 0.25, "mrr": 0.375, "coverage": 0.25}
    assert result.curve_before[:3] == [0.25, 0.75, 0.75]
    assert result.curve_after[:3] == [0.75, 1.0, 1.0]
    assert len(result.curve_after) == 20
    interval = result.intervals["top1"]
    assert interval.estimate == 0.5
    assert 0.0 <= interval.lower <= 0.5 <= interval.upper <= 1.0
    assert (interval.n_resamples, interval.seed) == (1000, 0)


def test_table_one_sensitivity_and_specificity() -> None:
    result = validate(BEFORE, AFTER, CASES, binary_k=1)
    rows = {r.disease_id: r for r in result.diseases}
    assert [r.disease_id for r in result.diseases] == [A, B, C]  # most cases first, then id
    assert rows[A].name == f"Disease {A}"
    assert (rows[A].n_positive, rows[A].n_negative) == (2, 2)
    # A: positives c1 (flagged), c2 (not); negatives c3 (not), c4 (flagged before)
    assert (rows[A].before.sensitivity, rows[A].before.specificity) == (0.5, 0.5)
    assert (rows[A].after.sensitivity, rows[A].after.specificity) == (1.0, 1.0)
    # B: c3 tied at the top before; c2 wrongly flagged before
    assert (rows[B].before.sensitivity, rows[B].before.specificity) == (0.0, 0.666667)
    assert (rows[B].after.sensitivity, rows[B].after.specificity) == (1.0, 1.0)
    assert (rows[B].before.tp, rows[B].before.fp, rows[B].before.tn) == (0, 1, 2)
    # C: unknown before, tied for first after: never certainly in the top 1
    assert (rows[C].before.sensitivity, rows[C].after.sensitivity) == (0.0, 0.0)
    assert (rows[C].before.specificity, rows[C].after.specificity) == (1.0, 1.0)


def test_sensitivity_equals_per_disease_top_k_accuracy() -> None:
    result = validate(BEFORE, AFTER, CASES, binary_k=2)
    rows = {r.disease_id: r for r in result.diseases}
    # before ranks of A's cases are 1 and 2; after, C is ranked 2
    assert rows[A].before.sensitivity == 1.0
    assert rows[B].before.sensitivity == 1.0
    assert rows[C].after.sensitivity == 1.0


def test_chosen_diseases_are_the_most_frequent_plus_the_given_ones() -> None:
    result = validate(BEFORE, AFTER, CASES, diseases=[D], n_diseases=2, binary_k=1)
    assert [r.disease_id for r in result.diseases] == [A, B, D]
    absent = result.diseases[-1]
    assert absent.n_positive == 0
    assert absent.before.sensitivity is None
    assert absent.after.specificity == 1.0


def test_paired_bootstrap_is_seeded_and_degenerate_for_constant_differences() -> None:
    first = paired_bootstrap([1, 0, 0, 0], [1, 1, 1, 0], seed=3)
    assert first == paired_bootstrap([1, 0, 0, 0], [1, 1, 1, 0], seed=3)
    assert first.estimate == 0.5
    flat = paired_bootstrap([0, 0, 0], [1, 1, 1])
    assert (flat.estimate, flat.lower, flat.upper) == (1.0, 1.0, 1.0)


def test_nothing_to_validate_is_an_error() -> None:
    with pytest.raises(ConfigError, match="confirmed diagnosis"):
        validate(BEFORE, AFTER, [case("c5", None)])
    with pytest.raises(ConfigError, match="at least 1"):
        validate(BEFORE, AFTER, CASES, binary_k=0)


def test_json_round_trips() -> None:
    result = validate(BEFORE, AFTER, CASES, binary_k=1)
    data = json.loads(validation_json(result))
    assert data["difference"]["top1"] == 0.5
    assert data["diseases"][0]["after"]["sensitivity"] == 1.0
    assert data["intervals"]["top1"]["estimate"] == 0.5


def test_html_has_table_one_and_every_plot(tmp_path: Path) -> None:
    result = validate(BEFORE, AFTER, CASES, binary_k=1)
    path = write_validation_html(result, tmp_path / "out" / "validation.html")
    html = path.read_text(encoding="utf-8")
    assert 'id="table1"' in html
    assert "50.0% → 100.0%" in html  # A's sensitivity and specificity
    assert "Disease OMIM:100001 (OMIM:100001)" in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 3
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
