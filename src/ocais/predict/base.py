"""The ``Predictor`` extension point and its registry.

A predictor turns a :class:`~ocais.schemas.Case` into a ranked :class:`~ocais.schemas.Prediction`.
Contract (checked for every registered predictor by ``tests/predict/test_contract.py``): candidates
sorted by descending score, no duplicate ids, ids known to the knowledge base, empty case → empty
prediction, deterministic, provenance filled.

Predictors that score every disease at once also implement :class:`DiseaseScorer`; the benchmark
uses it to find the exact rank of the true diagnosis among all diseases (ties counted
pessimistically).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from ocais.errors import ConfigError
from ocais.knowledge import KnowledgeBase
from ocais.schemas import Case, Prediction

ENTRY_POINT_GROUP = "ocais.predictors"


@runtime_checkable
class Predictor(Protocol):
    """Ranks diseases for a case. ``name`` is what ``--predictor`` takes."""

    name: ClassVar[str]

    def predict(self, case: Case, top_k: int = 10) -> Prediction:
        """The ``top_k`` best candidates for ``case`` (fewer if fewer diseases match)."""
        ...


@runtime_checkable
class DiseaseScorer(Protocol):
    """Capability: a score for every disease in ``disease_ids``, for many cases at once."""

    @property
    def disease_ids(self) -> Sequence[str]: ...

    def score_cases(self, cases: Sequence[Case]) -> np.ndarray:
        """Array (len(cases), len(disease_ids)); higher is better; -inf = not a candidate."""
        ...


@dataclass(frozen=True)
class PredictorSpec:
    """How to build a predictor: its registered name and options (validated by the predictor)."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)


def available_predictors() -> dict[str, Any]:
    """Predictor factories by name: ``factory(kb, **options) -> Predictor``."""
    return {e.name: e.load() for e in entry_points(group=ENTRY_POINT_GROUP)}


def create_predictor(name: str, knowledge: KnowledgeBase, **options: Any) -> Predictor:
    """Build a registered predictor; unknown names and options raise ``ConfigError``."""
    factories = available_predictors()
    if name not in factories:
        raise ConfigError(
            f"unknown predictor {name!r}",
            hint="choose one of: " + ", ".join(sorted(factories)),
        )
    try:
        predictor: Predictor = factories[name](knowledge, **options)
    except TypeError as exc:
        raise ConfigError(f"invalid options for predictor {name!r}: {exc}") from exc
    return predictor


def predict_many(predictor: Predictor, cases: Sequence[Case], top_k: int = 10) -> list[Prediction]:
    """Batch prediction; predictors with a ``predict_batch`` method use it."""
    batch = getattr(predictor, "predict_batch", None)
    if callable(batch):
        result: list[Prediction] = batch(cases, top_k)
        return result
    return [predictor.predict(case, top_k) for case in cases]
