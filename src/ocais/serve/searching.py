"""Search for the API: the search layer's ``SearchService`` over the store's vector index.

Cases created or deleted through the API are (re)indexed at once, so they are searchable
immediately. Cases imported with the CLI are indexed by the search layer's own commands.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ocais.config import Settings
from ocais.errors import OcaisError
from ocais.knowledge import KnowledgeBase
from ocais.schemas import Case
from ocais.search.service import SearchQuery, SearchResult, SearchService
from ocais.store import Repository

logger = logging.getLogger("ocais.serve")


class SearchAdapter:
    """A ``SearchService`` that also keeps the index in step with API writes."""

    def __init__(self, service: SearchService) -> None:
        self.service = service

    def search(self, query: SearchQuery) -> SearchResult:
        return self.service.search(query)

    def index_cases(self, cases: list[Case]) -> int:
        return self.service.index_cases(cases)

    def remove_cases(self, case_ids: Sequence[str]) -> int:
        return self.service.index.delete(self.service.collection, list(case_ids))


def open_search(
    settings: Settings, repo: Repository, knowledge: KnowledgeBase
) -> SearchService | None:
    """The default search service (phenotype embedder, store's vector index), if available."""
    try:
        from ocais.search.embedders import PhenotypeEmbedder
        from ocais.store.vectors import open_vector_index
    except ImportError:
        logger.warning("search is unavailable: no vector index backend (ocais.store.vectors)")
        return None
    try:
        index = open_vector_index(settings.resolved_store_url, settings.data_dir)
        return SearchService(repo, index, PhenotypeEmbedder(knowledge), knowledge)
    except OcaisError as exc:
        logger.warning("search is unavailable: %s (%s)", exc.code, type(exc).__name__)
        return None
