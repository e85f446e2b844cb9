"""The ``VectorIndex`` extension point: collections of vectors with filterable metadata.

A collection is bound at creation to (embedder id, dimension, metric) and to its declared
metadata keys (each with a type: ``str``, ``int``, ``float`` or ``bool``); adding a vector of
another dimension, or filtering on an undeclared key, is an error. Equality filters (a value, or
a list of accepted values; ``None`` matches a missing value) behave the same on every backend.
Exact search must return the same ids and scores (to float tolerance) on every backend.

Scores are similarities, higher is closer: cosine similarity (``cosine``; vectors are
normalised on insert), inner product (``ip``) and minus the Euclidean distance (``l2``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Metric = Literal["cosine", "l2", "ip"]
MetadataType = Literal["str", "int", "float", "bool"]
MetadataValue = str | int | float | bool | None
Filters = Mapping[str, MetadataValue | Sequence[MetadataValue]]

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: Names a metadata key may not take (columns of the pgvector table, result fields).
RESERVED_KEYS = frozenset({"id", "embedding", "score", "distance"})
MAX_METADATA_KEYS = 64


class CollectionSpec(BaseModel):
    """What a collection is bound to.

    ``metadata_types`` gives the type of each declared key; keys it does not list are ``str``.
    The name leaves room for the backends' prefixes (a PostgreSQL identifier has 63 bytes).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")
    embedder_id: str = Field(min_length=1)
    dimension: int = Field(gt=0, le=16000)
    metric: Metric = "cosine"
    metadata_keys: tuple[str, ...] = ()
    metadata_types: dict[str, MetadataType] = Field(default_factory=dict)

    @field_validator("metadata_keys")
    @classmethod
    def _valid_keys(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        if len(keys) > MAX_METADATA_KEYS:
            raise ValueError(f"at most {MAX_METADATA_KEYS} metadata keys may be declared")
        if len(set(keys)) != len(keys):
            raise ValueError("metadata keys must be unique")
        for key in keys:
            if not KEY_PATTERN.match(key) or key in RESERVED_KEYS:
                raise ValueError(
                    f"metadata key {key!r} must match {KEY_PATTERN.pattern} and not be one of "
                    f"{sorted(RESERVED_KEYS)}"
                )
        return keys

    @model_validator(mode="after")
    def _types_of_declared_keys(self) -> CollectionSpec:
        unknown = sorted(set(self.metadata_types) - set(self.metadata_keys))
        if unknown:
            raise ValueError(f"metadata_types names undeclared keys {unknown}")
        return self

    def key_types(self) -> dict[str, MetadataType]:
        """Every declared key with its type, in declaration order."""
        return {key: self.metadata_types.get(key, "str") for key in self.metadata_keys}

    def __hash__(self) -> int:
        return hash(self.model_dump_json())


class VectorHit(BaseModel):
    """One search result: the id, its similarity (higher is closer) and its metadata."""

    id: str
    score: float
    metadata: dict[str, Any] = Field(default_factory=dict)


class VectorIndexOptions(BaseModel):
    """Tuning shared by the backends; the defaults suit ~1M vectors of a few hundred dimensions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exact_threshold: int = Field(
        50_000,
        ge=0,
        description="Search exactly when at most this many rows pass the filters.",
    )
    hnsw_m: int = Field(32, ge=4, le=100, description="HNSW links per node (m).")
    hnsw_ef_construction: int = Field(
        80, ge=8, le=1000, description="HNSW candidate list size while building."
    )
    ef_search: int = Field(
        200, ge=1, le=1000, description="HNSW candidate list size of an unfiltered query."
    )
    max_ef_search: int = Field(
        1000,
        ge=1,
        le=10_000,
        description="Largest candidate list a filtered query may use (pgvector allows 1000); "
        "a filter too selective for it is searched exactly.",
    )
    oversample: float = Field(
        2.0, ge=1.0, le=100.0, description="Safety margin on k / selectivity for filtered ANN."
    )
    auto_index: bool = Field(
        True,
        description="Build the ANN index when an upsert takes a collection above "
        "exact_threshold rows. Turn off for bulk loads, then call build_index once.",
    )
    index_tail_rows: int = Field(
        20_000,
        ge=0,
        description="Embedded: rows added after the ANN index was built are searched exactly; "
        "beyond this many, an upsert adds them to the index (auto_index only).",
    )
    lock_timeout_s: float = Field(
        30.0, gt=0, description="Embedded: how long a writer waits for another one."
    )


class SearchPlan(BaseModel):
    """How a search is (or would be) executed; see :mod:`ocais.store.vectors.planner`."""

    model_config = ConfigDict(frozen=True)

    method: Literal["exact", "ann"]
    total_rows: int
    matching_rows: int
    selectivity: float
    ef_search: int = 0
    candidates: int = 0
    reason: str = ""


@runtime_checkable
class VectorIndex(Protocol):
    """A store of vector collections. ``name`` selects the backend in settings."""

    name: ClassVar[str]

    def create_collection(self, spec: CollectionSpec) -> None:
        """Create, or check that an existing collection has exactly this spec."""
        ...

    def get_collection(self, name: str) -> CollectionSpec:
        """The spec of collection ``name``; :class:`~ocais.errors.NotFoundError` if unknown."""
        ...

    def list_collections(self) -> list[str]:
        """Names of all collections, sorted."""
        ...

    def drop_collection(self, name: str) -> None:
        """Delete a collection and everything in it (no error if it does not exist)."""
        ...

    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadata: Sequence[Mapping[str, MetadataValue]] | None = None,
    ) -> int:
        """Insert or replace vectors by id (all or nothing); returns how many were written.

        Rows whose vector and metadata are unchanged are not written (nor counted).
        """
        ...

    def delete(self, collection: str, ids: Sequence[str]) -> int:
        """Delete vectors by id; returns how many existed."""
        ...

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

    def plan(
        self,
        collection: str,
        k: int = 10,
        *,
        filters: Filters | None = None,
        restrict_to: Sequence[str] | None = None,
        exact: bool = False,
    ) -> SearchPlan:
        """How :meth:`search` would run with these arguments (before any fallback)."""
        ...

    def build_index(self, collection: str) -> None:
        """Build (or bring up to date) the collection's ANN index now."""
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...
