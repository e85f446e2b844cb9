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

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from ocais.errors import ConfigError
from ocais.knowledge import KnowledgeBase
from ocais.plugins import choose, parameters, registered
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


@dataclass(frozen=True)
class PredictorDependencies:
    """What a predictor may need besides the knowledge base, handed over by the factory.

    A predictor asks for one by naming it as a keyword parameter of its constructor (or factory):
    ``def __init__(self, knowledge, *, search, top_n=5)`` gets the search service. Each field is
    a provider (called only when a predictor asks, so nothing is opened for the others); a
    required one (no default) that the installation cannot give is a :class:`ConfigError`.
    """

    cases: Callable[[], Any] | None = None  # the case store (``ocais.store.Repository``)
    search: Callable[[], Any] | None = None  # similar cases (``ocais.search.SearchService``)
    llm: Callable[[], Any] | None = None  # the LLM backend (``ocais.llm.base.LLMBackend``)
    # the weight of a model's answers, by model name (``rag``; measured by `ocais llm calibrate`)
    llm_weights: Callable[[], Any] | None = None


def available_predictors() -> dict[str, Any]:
    """Predictor factories by name: ``factory(kb, **options) -> Predictor``."""
    return registered(ENTRY_POINT_GROUP)


def create_predictor(
    name: str,
    knowledge: KnowledgeBase,
    *,
    dependencies: PredictorDependencies | None = None,
    **options: Any,
) -> Predictor:
    """Build a registered predictor with its options and the dependencies it asks for
    (:class:`PredictorDependencies`); unknown names and options raise ``ConfigError``."""
    factory = choose("predictor", name, available_predictors())
    given = dependencies or PredictorDependencies()
    accepted = parameters(factory)
    for dependency in fields(given):
        parameter = accepted.get(dependency.name)
        if parameter is None or dependency.name in options:
            continue
        provider = getattr(given, dependency.name)
        if provider is not None:
            options[dependency.name] = provider()
        elif parameter.default is inspect.Parameter.empty:
            raise ConfigError(
                f"predictor {name!r} needs {dependency.name!r}, which this installation "
                "does not provide",
                hint=f"configure {dependency.name} (see the README) or choose another predictor",
            )
    try:
        predictor: Predictor = factory(knowledge, **options)
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
