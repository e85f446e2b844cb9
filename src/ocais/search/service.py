"""One search call: a semantic query (text, HPO terms or a stored case) + structured filters + k.

The plan: structured filters that the vector index stores as metadata (sex, site, source format,
synthetic) are applied inside the index; relational ones (age range, diagnosis, phenotype present
or absent — a term or any of its descendants —, cohort, date) select candidate case ids in the
store first and restrict the vector search to them. Every hit says why it matched: the filters it
passed, the phenotypes it shares with the query, and its similarity.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from ocais.errors import InvalidRecordError, UnknownTermError
from ocais.knowledge import KnowledgeBase
from ocais.schemas import Case, PhenotypeObservation, Provenance
from ocais.search.base import Embedder
from ocais.search.embedders import PhenotypeEmbedder
from ocais.search.query import SearchFilters, SearchHit, SearchQuery, SearchResult, Visibility
from ocais.store import CaseFilter, Repository
from ocais.store.vectors.base import CollectionSpec, VectorIndex

METADATA_KEYS = ("sex", "site", "source_format", "synthetic", "has_profile", "shared")
#: v2: every stored case is indexed, those without a present phenotype with ``has_profile``
#: false (v1, ``cases_<embedder>``, refused them and so broke indexing of everything after).
COLLECTION_VERSION = "v2"
DEFAULT_COLLECTION = f"cases_phenotype_{COLLECTION_VERSION}"


def _unversioned(embedder_name: str) -> str:
    """``cases_<embedder>``, the name a valid collection name can be built on."""
    return "cases_" + re.sub(r"[^a-z0-9_]", "_", embedder_name.lower())[:30]


def collection_name(embedder_name: str) -> str:
    """The case collection of an embedder, e.g. ``cases_phenotype_v2``."""
    return f"{_unversioned(embedder_name)}_{COLLECTION_VERSION}"


def legacy_collections(embedder_name: str) -> tuple[str, ...]:
    """Collections of earlier versions for this embedder (dropped once replaced)."""
    return (_unversioned(embedder_name),)


class SearchService:
    """Semantic + contextual search over the store's cases."""

    def __init__(
        self,
        repo: Repository,
        index: VectorIndex,
        embedder: Embedder,
        knowledge: KnowledgeBase,
        collection: str | None = None,
    ) -> None:
        self.repo, self.index, self.embedder, self.kb = repo, index, embedder, knowledge
        self.collection = collection or collection_name(embedder.name)
        self.spec = CollectionSpec(
            name=self.collection,
            embedder_id=embedder.id,
            dimension=embedder.dimension,
            metric=embedder.metric,
            metadata_keys=METADATA_KEYS,
            metadata_types={"synthetic": "bool", "has_profile": "bool", "shared": "bool"},
        )
        index.create_collection(self.spec)

    @cached_property
    def recognizer(self) -> Any:
        """Reads free-text queries (built on first use)."""
        from ocais.ingest.text import ConceptRecognizer

        return ConceptRecognizer(self.kb)

    # --- indexing -----------------------------------------------------------------------------
    def index_cases(self, cases: Sequence[Case]) -> int:
        """Embed and (re)index cases; a case's vector is replaced when it changes.

        Every case is indexed. One without a usable phenotype profile (all its findings are
        excluded, or none is known to the embedder) gets a placeholder vector and
        ``has_profile`` false: semantic searches skip it, filter-only searches still find it,
        and it never blocks the indexing of the others.
        """
        if not cases:
            return 0
        vectors = np.array(self.embedder.embed_cases(cases), dtype=np.float32, copy=True)
        shared = self.repo.shared_ids([c.id for c in cases])
        has_profile = np.linalg.norm(vectors, axis=1) > 0
        if not has_profile.all():
            vectors[~has_profile] = 0.0
            vectors[~has_profile, 0] = 1.0
        metadata = [
            {
                "sex": c.subject.sex.value,
                "site": c.site,
                "source_format": c.provenance.source_format,
                "synthetic": c.synthetic,
                "has_profile": bool(profile),
                "shared": c.id in shared,
            }
            for c, profile in zip(cases, has_profile, strict=True)
        ]
        return self.index.upsert(self.collection, [c.id for c in cases], vectors, metadata)

    def indexed_count(self) -> int:
        """How many cases the index holds."""
        return self.index.count(self.collection)

    def index_run(self, run_id: str, batch_size: int = 1000) -> int:
        """Index the cases an ingest run inserted or updated."""
        ids = self.repo.case_ids(CaseFilter(ingest_run_id=run_id))
        return sum(
            self.index_cases(self.repo.get_cases(ids[i : i + batch_size]))
            for i in range(0, len(ids), batch_size)
        )

    def reindex(self, batch_size: int = 1000) -> int:
        """Index every stored case."""
        return sum(self.index_cases(batch) for batch in self.repo.iter_cases(batch_size))

    # --- searching ----------------------------------------------------------------------------
    def search(self, query: SearchQuery, *, visible: Visibility | None = None) -> SearchResult:
        """Run ``query``. ``visible``: the cases the caller may see (``None``: all) — every hit,
        candidate count and ``like_case`` is confined to them, inside the index query itself (so
        the top k are the best k the caller may see, on every backend)."""
        started = time.perf_counter()
        filters = query.filters
        restrict: list[str] | None = None
        if filters.needs_store():
            restrict = self.repo.case_ids(self._store_filter(filters, visible))
        query_case = self._query_case(query)
        query_terms = query_case.observed if query_case else []
        scored: list[tuple[str, float | None]]
        if restrict is not None and not restrict:
            scored = []
        elif query_case is None:  # filters only: matching cases, oldest first
            ids = self.repo.case_ids(self._store_filter(filters, visible), limit=query.k)
            scored = [(i, None) for i in ids]
        else:
            k = query.k + (1 if query.like_case else 0)
            vector = self._query_vector(query, query_case)
            index_filters = {**filters.index_filters(), "has_profile": True}
            hits: list[tuple[str, float | None]] = list(
                self._visible_hits(vector, k, index_filters, restrict, visible)
            )
            scored = [(i, score) for i, score in hits if i != query.like_case]
            del scored[query.k :]
        cases = {c.id: c for c in self.repo.get_cases([i for i, _ in scored])}
        n_candidates = None if restrict is None else len(restrict)
        if n_candidates is None and visible is not None:  # what the caller's search covered
            n_candidates = self.repo.count_matching(self._store_filter(filters, visible))
        return SearchResult(
            hits=[
                self._hit(cases[i], score, query_terms, filters)
                for i, score in scored
                if i in cases
            ],
            query_phenotypes=query_terms,
            n_candidates=n_candidates,
            collection=self.collection,
            took_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    def _visible_hits(
        self,
        vector: np.ndarray,
        k: int,
        filters: dict[str, Any],
        restrict: list[str] | None,
        visible: Visibility | None,
    ) -> list[tuple[str, float]]:
        """The k nearest among what ``visible`` allows: one index query for everything, else one
        among the caller's own cases and one among the shared ones, merged by score."""
        if visible is None:
            hits = self.index.search(
                self.collection, vector, k, filters=filters, restrict_to=restrict
            )
            return [(h.id, float(h.score)) for h in hits]
        found: dict[str, float] = {}
        owned = list(visible.owned)
        if restrict is not None:
            allowed = set(restrict)
            owned = [i for i in owned if i in allowed]
        if owned:
            for h in self.index.search(
                self.collection, vector, k, filters=filters, restrict_to=owned
            ):
                found[h.id] = float(h.score)
        if visible.shared:
            for h in self.index.search(
                self.collection,
                vector,
                k,
                filters={**filters, "shared": True},
                restrict_to=restrict,
            ):
                found[h.id] = float(h.score)
        return sorted(found.items(), key=lambda item: (-item[1], item[0]))[:k]

    def _query_vector(self, query: SearchQuery, query_case: Case) -> np.ndarray:
        if query.text and self.embedder.name != PhenotypeEmbedder.name:
            return self.embedder.embed_texts([query.text])[0]
        vector = self.embedder.embed_cases([query_case])[0]
        if not np.any(vector):
            raise InvalidRecordError(
                "no HPO phenotype was recognised in the query",
                source="query",
                hint="describe findings in clinical terms (e.g. 'seizures, short stature'), "
                "or pick them from the suggestions",
            )
        return vector

    def similar_cases(
        self,
        case: Case,
        k: int = 5,
        filters: SearchFilters | None = None,
        *,
        visible: Visibility | None = None,
    ) -> list[SearchHit]:
        """Stored cases most similar to ``case`` by phenotype profile (evidence for predictions),
        among the ``visible`` ids (``None``: all)."""
        result = self.search(
            SearchQuery(hpo=case.observed, filters=filters or SearchFilters(), k=k + 1),
            visible=visible,
        )
        return [h for h in result.hits if h.case_id != case.id][:k]

    def _store_filter(
        self, filters: SearchFilters, visible: Visibility | None = None
    ) -> CaseFilter:
        return CaseFilter(
            case_ids=None if visible is None else tuple(visible.owned),
            or_shared=visible is not None and visible.shared,
            source_format=filters.source_format,
            site=filters.site,
            cohort=filters.cohort,
            synthetic=filters.synthetic,
            sex=filters.sex.value if filters.sex else None,
            age_min=filters.age_min,
            age_max=filters.age_max,
            disease_ids=tuple(filters.diagnoses),
            observed_any=tuple(self._with_descendants(t) for t in filters.phenotypes_present),
            excluded_any=tuple(self._with_descendants(t) for t in filters.phenotypes_absent),
            created_from=filters.created_from,
            created_to=filters.created_to,
        )

    def _with_descendants(self, term_id: str) -> tuple[str, ...]:
        current = self.kb.resolve_id(term_id)
        if current is None:
            raise UnknownTermError(f"unknown HPO term {term_id} in a filter")
        return tuple(self.kb.descendants(current))

    def _query_case(self, query: SearchQuery) -> Case | None:
        if query.like_case:
            return self.repo.get_case(query.like_case)
        observations: list[PhenotypeObservation] = []
        if query.hpo:
            for term in query.hpo:
                if self.kb.resolve_id(term) is None:
                    raise InvalidRecordError(
                        f"{term} is not in HPO {self.kb.version}", source="query", field="hpo"
                    )
            observations = [PhenotypeObservation(id=t) for t in query.hpo]
        elif query.text:
            from ocais.ingest.text import extract_phenotypes, to_observations

            observations = to_observations(extract_phenotypes(query.text, self.recognizer))
        else:
            return None
        return Case(
            id="query",
            phenotypes=observations,
            provenance=Provenance(source="search query", source_format="query"),
        )

    def _hit(
        self, case: Case, score: float | None, query_terms: list[str], filters: SearchFilters
    ) -> SearchHit:
        shared = []
        if query_terms:
            case_ancestors: set[str] = set()
            for term in case.observed:
                current = self.kb.resolve_id(term)
                if current:
                    case_ancestors.update(self.kb.ancestors(current))
            for term in query_terms:
                current = self.kb.resolve_id(term)
                if current and current in case_ancestors:
                    shared.append({"id": current, "label": self.kb.name(current)})
        reasons = []
        if score is not None:
            reasons.append(f"phenotype similarity {score:.3f}")
        if shared:
            reasons.append(
                f"shares {len(shared)} of {len(query_terms)} query phenotypes: "
                + ", ".join(s["label"] for s in shared[:5])
            )
        reasons.extend(_filter_reasons(filters))
        diagnoses = [d.disease_id for d in case.diagnoses if d.status != "excluded"]
        return SearchHit(
            case_id=case.id,
            external_id=case.external_id,
            score=None if score is None else round(float(score), 6),
            sex=case.subject.sex.value,
            age_years=case.subject.age_years,
            diagnoses=diagnoses,
            shared_phenotypes=shared,
            reasons=reasons,
        )


def _filter_reasons(filters: SearchFilters) -> list[str]:
    reasons = []
    for name, value in filters.model_dump(exclude_defaults=True).items():
        reasons.append(f"matches {name.replace('_', ' ')} = {value}")
    return reasons
