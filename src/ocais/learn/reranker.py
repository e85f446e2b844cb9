"""The learned predictor's re-ranker: per-disease features, their weights, and the temperature.

Every disease of a case gets one feature vector (:data:`FEATURES`); the re-ranker's score is a
linear function of it, so it ranks every disease at once.

* ``learned_score``: the score with learned profiles, for **every** disease — a profiled disease
  is scored by its learned profile, any other by its knowledge-base annotations, on one scale.
* ``learned_score_if_profiled``: the same for profiled diseases, 0 for the others. It was the
  only learned feature until decision 0011: a weight on it is a bonus proportional to the score
  itself, paid to profiled diseases only, and it let weak matches with a learned profile
  outrank the right answer on cases of diseases absent from the training data. Off by default
  (``LearnOptions.profiled_feature``).
* ``knowledge_score``: the knowledge-only ranker's score.
* ``profiled``, ``log_training_cases``, ``new_disease``: the case-mix prior
  (``LearnOptions.case_prior``, off by default, decision 0007).

Features that an option turns off are kept at 0 while fitting, so their weights stay 0 and a
saved model always lists all of them. Models saved with an older feature list load by name
(features they lack get weight 0), so they score as they did.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize_scalar

from ocais.learn.profiles import CaseProfiles
from ocais.predict.matrices import DiseaseMatrices

FloatArray = npt.NDArray[np.float64]

FEATURES = (
    "learned_score",
    "learned_score_if_profiled",
    "knowledge_score",
    "profiled",
    "log_training_cases",
    "new_disease",
)
PRIOR_FEATURES = ("profiled", "log_training_cases", "new_disease")
PROFILED_FEATURES = ("learned_score_if_profiled",)


def feature_mask(*, case_prior: bool, profiled_feature: bool) -> FloatArray:
    """1.0 for the features in use, 0.0 for those an option turns off."""
    off: set[str] = set()
    if not case_prior:
        off.update(PRIOR_FEATURES)
    if not profiled_feature:
        off.update(PROFILED_FEATURES)
    return np.asarray([0.0 if name in off else 1.0 for name in FEATURES])


def weights_by_name(names: Sequence[str], values: Sequence[float]) -> FloatArray:
    """Weights aligned with :data:`FEATURES` from a saved (name, weight) list; unknown names
    raise ``ValueError``, missing ones get 0."""
    unknown = [n for n in names if n not in FEATURES]
    if unknown or len(names) != len(values):
        raise ValueError(f"unsupported re-ranker features {list(names)}")
    weights = np.zeros(len(FEATURES))
    for name, value in zip(names, values, strict=True):
        weights[FEATURES.index(name)] = float(value)
    return weights


@dataclass
class FeatureContext:
    """What the features need besides the two scores, per disease of the learned list."""

    training_cases: FloatArray  # log(1 + n) per disease
    profiled: npt.NDArray[np.bool_]  # has a profile learned from cases
    new: FloatArray  # 1.0 for diseases the knowledge base lacks
    n_base: int  # diseases of the knowledge-only ranker (the first n_base of the list)


def feature_context(
    matrices: DiseaseMatrices, profiles: CaseProfiles, n_base: int
) -> FeatureContext:
    counts = np.zeros(matrices.n_diseases)
    index = matrices.index_of()
    counts[[index[d] for d in profiles.disease_ids]] = profiles.n_cases
    new = np.zeros(matrices.n_diseases)
    new[n_base:] = 1.0
    return FeatureContext(np.log1p(counts), counts > 0, new, n_base)


def feature_matrix(learned: FloatArray, base: FloatArray, context: FeatureContext) -> FloatArray:
    """(n_diseases, len(FEATURES)); −inf scores (empty case) are kept as is. Diseases the
    knowledge base lacks take their learned score as knowledge score."""
    knowledge = np.concatenate([base, learned[context.n_base :]])
    profiled = context.profiled
    return np.stack(
        [
            learned,
            np.where(profiled, learned, 0.0),
            knowledge,
            profiled.astype(np.float64),
            context.training_cases,
            context.new,
        ],
        axis=1,
    )


Group = tuple[FloatArray, int]  # one case: features of its candidates, row of the truth


def fit_temperature(groups: Sequence[Group], weights: FloatArray) -> float:
    """Temperature maximizing the likelihood of the truth among each case's candidates."""

    def nll(log_t: float) -> float:
        t = math.exp(log_t)
        total = 0.0
        for features, truth in groups:
            z = features @ weights / t
            z -= z.max()
            total -= z[truth] - math.log(np.exp(z).sum())
        return total

    result = minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded")
    return round(float(math.exp(result.x)), 6)


def top1(groups: Sequence[Group], weights: FloatArray) -> float:
    """Share of cases whose truth scores highest among their candidates."""
    if not groups:
        return 0.0
    hits = sum(int(np.argmax(f @ weights) == truth) for f, truth in groups)
    return round(hits / len(groups), 6)
