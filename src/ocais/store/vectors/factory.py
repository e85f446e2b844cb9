"""Choose the vector index for a store: pgvector beside a PostgreSQL store, embedded otherwise."""

from __future__ import annotations

from pathlib import Path

from ocais.errors import StoreError
from ocais.store.engine import normalise_url, sqlite_file
from ocais.store.vectors.base import VectorIndex, VectorIndexOptions


def vector_dir(store_url: str, data_dir: Path) -> Path:
    """Where the embedded index keeps its files: ``vectors/`` beside a SQLite store file, else
    ``data_dir/vectors`` (in-memory or other stores)."""
    database = sqlite_file(normalise_url(store_url))
    return (database.parent if database is not None else Path(data_dir)) / "vectors"


def open_vector_index(
    store_url: str, data_dir: Path, options: VectorIndexOptions | None = None
) -> VectorIndex:
    """The vector index that goes with the store at ``store_url``.

    PostgreSQL URLs get :class:`~ocais.store.vectors.pgvector.PgVectorIndex` in the same
    database; anything else gets :class:`~ocais.store.vectors.embedded.EmbeddedVectorIndex`
    under :func:`vector_dir`. Backends are imported here, so importing this module stays cheap.
    """
    url = normalise_url(store_url)
    if url.get_backend_name() == "postgresql":
        try:
            from ocais.store.vectors.pgvector import PgVectorIndex
        except ImportError as exc:
            raise StoreError(
                f"the pgvector vector index cannot be loaded: {exc}",
                hint="pip install 'ocais[postgres]' pgvector",
            ) from exc
        return PgVectorIndex(url.render_as_string(hide_password=False), options)
    from ocais.store.vectors.embedded import EmbeddedVectorIndex

    return EmbeddedVectorIndex(vector_dir(store_url, data_dir), options)
