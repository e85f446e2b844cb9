"""Vector indexes: the VectorIndex protocol, the embedded backend and pgvector.

Backends are imported lazily (:func:`open_vector_index`), so importing this package loads
neither faiss nor psycopg.
"""

from ocais.store.vectors.base import (
    CollectionSpec,
    Filters,
    MetadataType,
    MetadataValue,
    Metric,
    SearchPlan,
    VectorHit,
    VectorIndex,
    VectorIndexOptions,
)
from ocais.store.vectors.factory import open_vector_index, vector_dir

__all__ = [
    "CollectionSpec",
    "Filters",
    "MetadataType",
    "MetadataValue",
    "Metric",
    "SearchPlan",
    "VectorHit",
    "VectorIndex",
    "VectorIndexOptions",
    "open_vector_index",
    "vector_dir",
]
