"""The embedded backend's ANN index: faiss HNSW over 8-bit scalar-quantised vectors.

Chosen by measurement (200k × 256 clustered unit vectors, 2 cores, one query at a time):

==========================  =======  =============================
library (HNSW)              build    ef=128: recall@10, latency
==========================  =======  =============================
faiss, M=32, 8-bit storage  23 s     0.994, 0.28 ms
faiss, M=32, float32        36 s     0.993, 0.30 ms
hnswlib, M=16               19 s     0.985, 0.22 ms
usearch, M=16               47 s     0.984, 0.58 ms
==========================  =======  =============================

faiss also skips rows natively during the traversal (``IDSelectorBitmap``: used for deleted
rows), which hnswlib does only through a Python callback per node and usearch's Python API not
at all. 8-bit storage makes the index a quarter of the float32 vectors and builds faster;
candidates are re-scored exactly from the memory-mapped float32 vectors, so scores equal the
exact search's. At 1M × 256 the build takes ~140 s (``benchmarks/bench_vectors.py``).

Labels are row positions; rows appended later are added with :func:`extend`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ocais.errors import StoreError
from ocais.store.vectors import embedded_files as files
from ocais.store.vectors.base import Metric

TRAIN_SAMPLE = 200_000
ADD_CHUNK = 65_536


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise StoreError(
            "the embedded vector index needs faiss for collections above exact_threshold",
            hint="pip install faiss-cpu",
        ) from exc
    return faiss


def build(
    chunks: Iterator[np.ndarray],
    sample: np.ndarray,
    *,
    dimension: int,
    metric: Metric,
    m: int,
    ef_construction: int,
) -> Any:
    """An HNSW-SQ8 index over the rows of ``chunks`` (in order); ``sample`` trains the quantiser."""
    faiss = _faiss()
    faiss_metric = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
    index = faiss.IndexHNSWSQ(dimension, faiss.ScalarQuantizer.QT_8bit, m, faiss_metric)
    index.hnsw.efConstruction = ef_construction
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    for chunk in chunks:
        extend(index, chunk)
    return index


def extend(index: Any, vectors: np.ndarray) -> None:
    """Add rows (their labels continue from ``index.ntotal``)."""
    for start in range(0, len(vectors), ADD_CHUNK):
        index.add(np.ascontiguousarray(vectors[start : start + ADD_CHUNK], dtype=np.float32))


def rows(index: Any) -> int:
    return int(index.ntotal)


def save(index: Any, path: Path) -> None:
    """Write atomically (temporary file, fsync, rename)."""
    tmp = files.temp_path(path.parent, path.name)
    _faiss().write_index(index, str(tmp))
    files.replace_file(tmp, path)


def load(path: Path) -> Any:
    return _faiss().read_index(str(path))


def search(
    index: Any, q: np.ndarray, n: int, *, ef_search: int, allowed: np.ndarray | None
) -> np.ndarray:
    """Row positions of up to ``n`` approximate neighbours of ``q`` among ``allowed`` rows.

    ``allowed`` (bool, one per indexed row) is applied during the traversal, so the result
    holds only passing rows.
    """
    faiss = _faiss()
    params = faiss.SearchParametersHNSW()
    params.efSearch = max(ef_search, n)
    bitmap = None
    if allowed is not None:
        bitmap = np.packbits(allowed, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
        params.sel = selector
    _, labels = index.search(q.reshape(1, -1).astype(np.float32), n, params=params)
    del bitmap  # kept alive until the search has returned
    found: np.ndarray = labels[0]
    return found[found >= 0]
