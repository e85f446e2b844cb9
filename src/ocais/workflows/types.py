"""The domain types the shells format or pass through, re-exported so that the CLI and the API
depend on the use-case layer only (the import-linter contract forbids their importing
``ocais.store``, ``ocais.search`` and ``ocais.predict`` directly)."""

from ocais.llm.base import LLMBackend
from ocais.llm.writing import Written
from ocais.predict.base import Predictor, available_predictors
from ocais.search.service import SearchFilters, SearchHit, SearchQuery, SearchResult, SearchService
from ocais.store import CaseFilter, CaseSummary, Repository

__all__ = [
    "CaseFilter",
    "CaseSummary",
    "LLMBackend",
    "Predictor",
    "Repository",
    "SearchFilters",
    "SearchHit",
    "SearchQuery",
    "SearchResult",
    "SearchService",
    "Written",
    "available_predictors",
]
