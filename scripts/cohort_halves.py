"""Cohorts held out whole, for the tuning scripts: split the cases by cohort into two halves per
seed, and score a setting's grouped ranks on each half.

Imported by ``tune_ranker_by_cohort.py``, ``tune_genotype_by_cohort.py`` and
``measure_temperature.py`` (run as ``python scripts/NAME.py``: this folder is on the path).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


def cohort_halves(cases: Sequence[Any], seeds: Iterable[int]) -> dict[int, dict[str, np.ndarray]]:
    """Per seed, the case indices of half ``"A"`` and half ``"B"``: the sorted cohorts (a case
    without one is its own) shuffled by the seed, the first half of them in A."""
    halves: dict[int, dict[str, np.ndarray]] = {}
    for seed in seeds:
        cohorts = sorted({c.cohort or c.id for c in cases})
        random.Random(seed).shuffle(cohorts)
        first = set(cohorts[: len(cohorts) // 2])
        in_a = np.array([(c.cohort or c.id) in first for c in cases])
        halves[seed] = {"A": np.flatnonzero(in_a), "B": np.flatnonzero(~in_a)}
    return halves


def grouped_ranks(grouped: np.ndarray, rows: Sequence[Sequence[int]]) -> np.ndarray:
    """Each case's rank of its truth among the grouped scores (ties pessimistic); a case whose
    diagnosis is not ranked counts as a miss (10⁹)."""
    from ocais.evaluate.metrics import pessimistic_rank

    return np.array(
        [pessimistic_rank(grouped[i], r) or 10**9 if r else 10**9 for i, r in enumerate(rows)]
    )


def half_figures(ranks: np.ndarray, halves: dict[int, dict[str, np.ndarray]]) -> dict[str, Any]:
    """Top-1 and top-10 (%) over all cases (``"all"``) and per half (``"0A"``, ``"0B"``, …)."""
    figures: dict[str, Any] = {"all": [round(100 * float(np.mean(ranks <= k)), 2) for k in (1, 10)]}
    for seed, parts in halves.items():
        for half, index in parts.items():
            figures[f"{seed}{half}"] = [
                round(100 * float(np.mean(ranks[index] <= k)), 2) for k in (1, 10)
            ]
    return figures
