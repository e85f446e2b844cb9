"""``build_services(settings)``: the one composition root that every shell (CLI, API) uses.

Everything is built lazily on first use — a command that only looks up a term never opens the
store, one that only lists runs never loads the knowledge base — and closed with :meth:`close`.
Objects passed in (tests, embedding applications) are used as they are and not closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocais.config import Settings, unknown_settings
from ocais.errors import OcaisError, SearchUnavailableError
from ocais.knowledge import KnowledgeBase, load_knowledge
from ocais.llm.base import LLMBackend, metered
from ocais.predict.base import Predictor, PredictorDependencies, create_predictor
from ocais.search.service import SearchService
from ocais.store import Repository
from ocais.store.service_repo import ServiceRepository
from ocais.workflows.access import CaseAccess

logger = logging.getLogger("ocais.workflows")

#: How a shell shows a one-line notice (a repair done, a backend unavailable).
Notify = Callable[[str], None]


def _log_notice(message: str) -> None:
    logger.warning("%s", message)


#: "not given: build the default" (``None`` means "turned off")
UNSET: Any = object()


@dataclass
class Services:
    """The knowledge base, the store, search and predictors of one installation."""

    settings: Settings
    notify: Notify = _log_notice
    _knowledge: KnowledgeBase | None = None
    _repo: Repository | None = None
    _search: SearchService | Any | None = UNSET
    _owners: ServiceRepository | None = None
    _owns_repo: bool = True
    _recovered: bool = False
    _index_checked: bool = False
    _llm: LLMBackend | None = None
    notices: list[str] = field(default_factory=list)

    # -- the parts -----------------------------------------------------------------------------
    @property
    def knowledge(self) -> KnowledgeBase:
        if self._knowledge is None:
            self._knowledge = load_knowledge(
                self.settings.resolved_hpo_dir, self.settings.resolved_cache_dir
            )
        return self._knowledge

    @property
    def knowledge_loaded(self) -> bool:
        return self._knowledge is not None

    @property
    def repo(self) -> Repository:
        """The case store; on first open, runs left ``running`` by a dead process are marked
        ``interrupted`` (see :func:`ocais.workflows.indexing.recover_runs`)."""
        if self._repo is None:
            self._repo = Repository.open(self.settings.resolved_store_url)
        if not self._recovered:
            self._recovered = True
            from ocais.workflows.indexing import recover_runs

            for message in recover_runs(self._repo):
                self.tell(message)
        return self._repo

    @property
    def owners(self) -> ServiceRepository:
        """The service tables (users, case owners, predictions, feedback, audit)."""
        if self._owners is None:
            self._owners = ServiceRepository(self.repo.engine)
        return self._owners

    @property
    def access(self) -> CaseAccess:
        return CaseAccess(self.owners, self.repo)

    def search_or_none(self) -> SearchService | None:
        """The search service, or ``None`` (with a notice) if no vector index can be opened.

        On first use the index is brought in step with the store (interrupted imports,
        an index of an earlier format): see :func:`ocais.workflows.indexing.repair_index`.
        """
        if self._search is UNSET:
            self._search = self._open_search()
        if self._search is not None and not self._index_checked:
            self._index_checked = True
            from ocais.workflows.indexing import repair_index

            for message in repair_index(self.repo, self._search):
                self.tell(message)
        result: SearchService | None = self._search
        return result

    def search(self) -> SearchService:
        """The search service; :class:`SearchUnavailableError` if there is none."""
        service = self.search_or_none()
        if service is None:
            raise SearchUnavailableError(
                "search is not available on this installation",
                hint="the vector index backend (ocais.store.vectors) could not be opened; "
                "see the log for why",
            )
        return service

    def attach_search(self, search: SearchService | None) -> None:
        """Use ``search`` from now on (tests, embedding applications); its index is checked
        against the store on next use like any other."""
        self._search = search
        self._index_checked = False

    def _open_search(self) -> SearchService | None:
        try:
            from ocais.search.registry import create_embedder
            from ocais.store.vectors import open_vector_index
        except ImportError as exc:  # pragma: no cover - a broken installation
            self.tell(f"search is unavailable: {exc}")
            return None
        try:
            index = open_vector_index(self.settings.resolved_store_url, self.settings.data_dir)
            embedder = create_embedder(
                self.settings.search_embedder, self.knowledge, **self.settings.search_options
            )
            return SearchService(self.repo, index, embedder, self.knowledge)
        except OcaisError as exc:
            self.tell(f"search is unavailable: {exc} ({exc.code})")
            return None

    def predictor(
        self, name: str | None = None, *, model_dir: str | Path | None = None, **options: Any
    ) -> Predictor:
        """A registered predictor (default: settings' ``predictor``), handed the dependencies
        it asks for (the store, the search service)."""
        chosen = name or self.settings.predictor
        options = {**self.settings.predictor_options.get(chosen, {}), **options}
        if model_dir is not None:
            options["model_dir"] = self.model_path(model_dir)
        from ocais.workflows.genai import llm_weights

        return create_predictor(
            chosen,
            self.knowledge,
            dependencies=PredictorDependencies(
                cases=lambda: self.repo,
                search=self.search,
                llm=self.llm,
                llm_weights=lambda: llm_weights(self.settings),
            ),
            **options,
        )

    def model_path(self, ref: str | Path) -> Path:
        """A fitted model's folder: ``ref`` itself, or the payload of an installed model
        package named ``NAME[@VERSION]`` (``ocais package pull``)."""
        from ocais.workflows.sharing import resolve_artifact

        return resolve_artifact(self, ref, "model")[0]

    def llm(self) -> LLMBackend:
        """The configured LLM backend (built once, metered); the ``none`` backend when LLM
        features are off, whose calls say what to configure."""
        if self._llm is None:
            from ocais.workflows.genai import open_llm

            self._llm = open_llm(self.settings)
        return self._llm

    def llm_or_none(self) -> LLMBackend | None:
        """The LLM backend, or ``None`` when LLM features are off."""
        from ocais.workflows.genai import backend_name

        if self._llm is None and backend_name(self.settings) == "none":
            return None
        return self.llm()

    def tell(self, message: str) -> None:
        self.notices.append(message)
        self.notify(message)

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
        search = self._search
        if isinstance(search, SearchService):
            try:
                search.index.close()
            except OcaisError as exc:  # pragma: no cover - best effort at shutdown
                logger.warning("closing the vector index failed: %s", exc.code)
        if self._repo is not None and self._owns_repo:
            self._repo.close()


def build_services(
    settings: Settings,
    *,
    knowledge: KnowledgeBase | None = None,
    repo: Repository | None = None,
    search: SearchService | Any | None = UNSET,
    notify: Notify | None = None,
    llm: LLMBackend | None = None,
) -> Services:
    """The services of an installation, built lazily from ``settings``.

    ``knowledge``, ``repo``, ``search`` and ``llm`` replace what settings would build (a
    ``repo`` given is not closed by :meth:`Services.close`; ``search=None`` turns search off).
    """
    services = Services(
        settings=settings,
        notify=notify or _log_notice,
        _knowledge=knowledge,
        _repo=repo,
        _search=search,
        _owns_repo=repo is None,
        _llm=metered(llm) if llm is not None else None,
    )
    for message in unknown_settings():
        services.tell(message)
    return services
