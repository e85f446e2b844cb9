"""Predictors get the dependencies they ask for (store, search, LLM) from the factory."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from ocais.errors import ConfigError
from ocais.knowledge import KnowledgeBase
from ocais.predict import base
from ocais.predict.base import PredictorDependencies, create_predictor


class NeedsSearch:
    name: ClassVar[str] = "needs-search"

    def __init__(self, knowledge: KnowledgeBase, *, search: Any, top_n: int = 5) -> None:
        self.search, self.top_n = search, top_n


class MayUseCases:
    name: ClassVar[str] = "may-use-cases"

    def __init__(self, knowledge: KnowledgeBase, *, cases: Any = None) -> None:
        self.cases = cases


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    factories = {"needs-search": NeedsSearch, "may-use-cases": MayUseCases}
    monkeypatch.setattr(base, "available_predictors", lambda: factories)


def test_a_predictor_gets_only_what_it_asks_for(tiny_kb: KnowledgeBase) -> None:
    opened: list[str] = []

    def provide(what: str) -> Any:
        def build() -> str:
            opened.append(what)
            return f"the {what}"

        return build

    deps = PredictorDependencies(cases=provide("store"), search=provide("search"))
    predictor = create_predictor("needs-search", tiny_kb, dependencies=deps, top_n=3)
    assert isinstance(predictor, NeedsSearch)
    assert (predictor.search, predictor.top_n) == ("the search", 3)
    assert opened == ["search"]  # the store was never opened for it
    optional = create_predictor("may-use-cases", tiny_kb, dependencies=deps)
    assert isinstance(optional, MayUseCases) and optional.cases == "the store"


def test_a_required_dependency_the_installation_lacks_is_a_clear_error(
    tiny_kb: KnowledgeBase,
) -> None:
    with pytest.raises(ConfigError, match="'needs-search' needs 'search'"):
        create_predictor("needs-search", tiny_kb)
    optional = create_predictor("may-use-cases", tiny_kb)  # optional: built without it
    assert isinstance(optional, MayUseCases) and optional.cases is None
