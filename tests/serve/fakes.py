"""A minimal in-memory ``VectorIndex`` (exact cosine search) for the search route's tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ocais.store.vectors.base import CollectionSpec, VectorHit


class MemoryVectorIndex:
    def __init__(self) -> None:
        self.specs: dict[str, CollectionSpec] = {}
        self.rows: dict[str, dict[str, tuple[np.ndarray, dict[str, Any]]]] = {}

    def create_collection(self, spec: CollectionSpec) -> None:
        self.specs.setdefault(spec.name, spec)
        self.rows.setdefault(spec.name, {})

    def get_collection(self, name: str) -> CollectionSpec:
        return self.specs[name]

    def list_collections(self) -> list[str]:
        return sorted(self.specs)

    def drop_collection(self, name: str) -> None:
        self.specs.pop(name, None)
        self.rows.pop(name, None)

    def close(self) -> None:
        pass

    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadata: Sequence[Mapping[str, Any]] | None = None,
    ) -> int:
        for i, key in enumerate(ids):
            self.rows[collection][key] = (vectors[i], dict(metadata[i]) if metadata else {})
        return len(ids)

    def delete(self, collection: str, ids: Sequence[str]) -> int:
        return sum(self.rows[collection].pop(i, None) is not None for i in ids)

    def count(self, collection: str, filters: Mapping[str, Any] | None = None) -> int:
        return len(self._passing(collection, filters, None))

    def _passing(
        self, collection: str, filters: Mapping[str, Any] | None, restrict: Sequence[str] | None
    ) -> list[str]:
        keep = []
        for key, (_, meta) in self.rows[collection].items():
            if restrict is not None and key not in restrict:
                continue
            if all(meta.get(k) == v for k, v in (filters or {}).items()):
                keep.append(key)
        return keep

    def search(
        self,
        collection: str,
        vector: np.ndarray,
        k: int = 10,
        *,
        filters: Mapping[str, Any] | None = None,
        restrict_to: Sequence[str] | None = None,
        exact: bool = False,
        **_: Any,
    ) -> list[VectorHit]:
        scored = []
        for key in self._passing(collection, filters, restrict_to):
            stored, meta = self.rows[collection][key]
            denominator = float(np.linalg.norm(stored) * np.linalg.norm(vector)) or 1.0
            scored.append(
                VectorHit(id=key, score=float(stored @ vector) / denominator, metadata=meta)
            )
        return sorted(scored, key=lambda h: (-h.score, h.id))[:k]
