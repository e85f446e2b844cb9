"""The ``VectorIndex`` extension point: collections of vectors with filterable metadata.

A collection is bound at creation to (embedder id, dimension, metric) and to its declared
metadata keys; adding a vector of another dimension, or filtering on an undeclared key, is an
error. Equality filters (a value, or a list of accepted values) behave the same on every backend.
Exact search must return the same ids and scores (to float tolerance) on every backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

Metric = Literal["cosine", "l2", "ip"]
MetadataValue = str | int | float | bool | None
Filters = Mapping[str, MetadataValue | Sequence[MetadataValue]]


class CollectionSpec(BaseModel):
    """What a collection is bound to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    embedder_id: str
    dimension: int = Field(gt=0, le=16000)
    metric: Metric = "cosine"
    metadata_keys: tuple[str, ...] = ()


class VectorHit(BaseModel):
    """One search result: the id, its similarity (higher is closer) and its metadata."""

    id: str
    score: float
    metadata: dict[str, Any] = Field(default_factory=dict)


@runtime_checkable
class VectorIndex(Protocol):
    """A store of vector collections. ``name`` selects the backend in settings."""

    def create_collection(self, spec: CollectionSpec) -> None:
        """Create, or check that an existing collection has exactly this spec."""
        ...

    def get_collection(self, name: str) -> CollectionSpec: ...

    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadata: Sequence[Mapping[str, MetadataValue]] | None = None,
    ) -> int:
        """Insert or replace vectors by id (all or nothing); returns how many were written."""
        ...

    def delete(self, collection: str, ids: Sequence[str]) -> int: ...

    def count(self, collection: str, filters: Filters | None = None) -> int: ...

    def search(
        self,
        collection: str,
        vector: np.ndarray,
        k: int = 10,
        *,
        filters: Filters | None = None,
        restrict_to: Sequence[str] | None = None,
        exact: bool = False,
    ) -> list[VectorHit]:
        """The ``k`` nearest vectors passing ``filters`` (and among ``restrict_to`` ids)."""
        ...
