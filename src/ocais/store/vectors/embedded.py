"""The embedded ``VectorIndex``: numpy files in a directory beside the SQLite store, faiss HNSW.

Each collection is a directory of immutable, memory-mapped segments under an atomically replaced
manifest (see :mod:`ocais.store.vectors.embedded_files`). Filters are boolean masks over
metadata columns; search is exact (numpy) when few rows pass them and HNSW above that (see
:mod:`ocais.store.vectors.planner`).

Concurrency: one writer per collection at a time, across processes (``flock``); readers in other
processes see a write once its manifest is in place (they reload on the next call). Within one
process the index object serialises its calls with a lock.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from ocais.errors import NotFoundError, StoreError
from ocais.store.vectors import embedded_ann as ann
from ocais.store.vectors import embedded_files as files
from ocais.store.vectors import embedded_writes as writes
from ocais.store.vectors.base import (
    CollectionSpec,
    Filters,
    MetadataValue,
    SearchPlan,
    VectorHit,
    VectorIndexOptions,
)
from ocais.store.vectors.checks import (
    NAME_PATTERN,
    Scalar,
    check_filters,
    check_ids,
    check_k,
    check_metadata,
    check_name,
    check_query,
    check_restrict_to,
    check_vectors,
    spec_mismatch,
)
from ocais.store.vectors.embedded_state import (
    RESCORE_EXTRA,
    CollectionState,
    encode_segment,
    load_segment,
)
from ocais.store.vectors.planner import plan_search

LOAD_ATTEMPTS = 3


class EmbeddedVectorIndex:
    """Vector collections under ``root`` (one directory each)."""

    name: ClassVar[str] = "embedded"

    def __init__(self, root: Path, options: VectorIndexOptions | None = None) -> None:
        self._root = Path(root)
        self._options = options or VectorIndexOptions()
        self._states: dict[str, CollectionState] = {}
        self._lock = threading.RLock()
        try:
            self._root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the vector directory {self._root}: {exc}",
                hint="choose a writable OCAIS_DATA_DIR",
            ) from exc

    @property
    def root(self) -> Path:
        return self._root

    @property
    def options(self) -> VectorIndexOptions:
        return self._options

    # -- collections ---------------------------------------------------------------------------

    def _dir(self, name: str) -> Path:
        return self._root / check_name(name)

    def create_collection(self, spec: CollectionSpec) -> None:
        directory = self._dir(spec.name)
        with self._lock, files.writer_lock(self._root, self._options.lock_timeout_s):
            if (directory / files.SPEC_FILE).exists():
                existing = self.get_collection(spec.name)
                if existing != spec:
                    raise spec_mismatch(existing, spec)
                return
            for leftover in self._root.glob(f"{files.TMP_PREFIX}*"):  # of crashed creates/drops
                shutil.rmtree(leftover, ignore_errors=True)
            tmp = files.temp_path(self._root, spec.name)
            tmp.mkdir()
            files.write_json(tmp / files.SPEC_FILE, spec.model_dump(mode="json"))
            files.write_manifest(tmp, files.Manifest())
            if directory.exists():  # a leftover without spec.json: never committed
                shutil.rmtree(directory)
            os.replace(tmp, directory)
            files.fsync_dir(self._root)

    def get_collection(self, name: str) -> CollectionSpec:
        path = self._dir(name) / files.SPEC_FILE
        try:
            return CollectionSpec.model_validate(files.read_json(path))
        except FileNotFoundError:
            raise NotFoundError(
                f"no vector collection {name!r} in {self._root}",
                hint="create it first with create_collection",
            ) from None

    def list_collections(self) -> list[str]:
        return sorted(
            entry.name
            for entry in self._root.iterdir()
            if NAME_PATTERN.match(entry.name) and (entry / files.SPEC_FILE).exists()
        )

    def drop_collection(self, name: str) -> None:
        directory = self._dir(name)
        with self._lock:
            self._states.pop(name, None)
            if not directory.exists():
                return
            trash = self._root / f"{files.TMP_PREFIX}drop-{uuid.uuid4().hex[:8]}"
            with files.writer_lock(directory, self._options.lock_timeout_s):
                os.replace(directory, trash)
            shutil.rmtree(trash, ignore_errors=True)

    # -- state ---------------------------------------------------------------------------------

    def _state(self, name: str) -> CollectionState:
        """The collection as of its current manifest (reloaded if another process wrote)."""
        directory = self._dir(name)
        for attempt in range(LOAD_ATTEMPTS):
            try:
                stamp = files.manifest_stamp(directory)
                cached = self._states.get(name)
                if cached is not None and cached.stamp == stamp:
                    return cached
                state = self._load(directory, name, stamp, cached)
                self._states[name] = state
                return state
            except FileNotFoundError:
                # a concurrent writer replaced files between our reads; or no collection
                self.get_collection(name)
                if attempt == LOAD_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _load(
        self,
        directory: Path,
        name: str,
        stamp: tuple[int, int, int],
        cached: CollectionState | None,
    ) -> CollectionState:
        spec = self.get_collection(name)
        manifest = files.read_manifest(directory)
        known = {s.name: s for s in cached.segments} if cached and cached.spec == spec else {}
        state = CollectionState.empty(spec, manifest)
        for ref in manifest.segments:
            segment = known.get(ref.name) or load_segment(directory, ref.name, spec)
            state = state.with_segment(segment)
        if manifest.deleted:
            packed = files.read_npy(directory / manifest.deleted)
            deleted = np.unpackbits(packed, count=state.rows, bitorder="little").astype(bool)
            state = state.without_rows(np.flatnonzero(deleted))
        if manifest.ann is not None:
            same = cached is not None and cached.manifest.ann == manifest.ann and cached.ann
            state.ann = cached.ann if same and cached else ann.load(directory / manifest.ann.file)
        state.stamp = stamp
        return state

    # -- writes --------------------------------------------------------------------------------

    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadata: Sequence[Mapping[str, MetadataValue]] | None = None,
    ) -> int:
        spec = self.get_collection(collection)
        id_list = check_ids(ids)
        array = check_vectors(spec, vectors, len(id_list))
        columns = check_metadata(spec, metadata, len(id_list))
        if not id_list:
            return 0
        directory = self._dir(collection)
        with self._lock, files.writer_lock(directory, self._options.lock_timeout_s):
            state = self._state(collection)
            existing = np.array([state.row_of.get(id_, -1) for id_ in id_list], dtype=np.int64)
            changed = np.flatnonzero(self._changed(state, existing, array, columns))
            if len(changed) == 0:
                return 0
            generation = state.manifest.generation + 1
            segment_name = f"seg-{generation:08d}"
            files.write_segment_dir(
                directory,
                segment_name,
                encode_segment(
                    spec,
                    [id_list[i] for i in changed],
                    array[changed],
                    {key: [values[i] for i in changed] for key, values in columns.items()},
                ),
            )
            segment = load_segment(directory, segment_name, spec)
            replaced = existing[changed]
            state = writes.commit(
                directory, state, new_segment=segment, dropped_rows=replaced[replaced >= 0]
            )
            self._states[collection] = state
            self._states[collection] = writes.maintain(directory, state, self._options)
            return len(changed)

    @staticmethod
    def _changed(
        state: CollectionState,
        existing: np.ndarray,
        vectors: np.ndarray,
        columns: dict[str, list[Scalar | None]],
    ) -> np.ndarray:
        """Which rows are new or differ from what is stored (unchanged ones are not rewritten)."""
        changed = existing < 0
        known = np.flatnonzero(~changed)
        if len(known) == 0:
            return changed
        rows = existing[known]
        same = (state.gather(rows) == vectors[known]).all(axis=1)
        for key, column in state.columns.items():
            values, null = column.encode([columns[key][i] for i in known])
            same &= (null == column.null[rows]) & (null | (values == column.values[rows]))
        changed[known] = ~same
        return changed

    def delete(self, collection: str, ids: Sequence[str]) -> int:
        id_list = check_ids(ids, allow_duplicates=True)
        directory = self._dir(collection)
        self.get_collection(collection)
        with self._lock, files.writer_lock(directory, self._options.lock_timeout_s):
            state = self._state(collection)
            rows = state.rows_of(id_list)
            if len(rows) == 0:
                return 0
            state = writes.commit(directory, state, new_segment=None, dropped_rows=rows)
            self._states[collection] = state
            self._states[collection] = writes.maintain(directory, state, self._options)
            return len(rows)

    def build_index(self, collection: str) -> None:
        directory = self._dir(collection)
        self.get_collection(collection)
        with self._lock, files.writer_lock(directory, self._options.lock_timeout_s):
            state = self._state(collection)
            self._states[collection] = writes.build_ann(directory, state, self._options)

    def compact(self, collection: str) -> None:
        """Drop deleted and replaced rows from disk (rebuilds the ANN index if there is one)."""
        directory = self._dir(collection)
        self.get_collection(collection)
        with self._lock, files.writer_lock(directory, self._options.lock_timeout_s):
            state = self._state(collection)
            keep_ann = state.ann is not None
            self._states[collection] = writes.compact(
                directory, state, self._options, keep_ann=keep_ann
            )

    # -- reads ---------------------------------------------------------------------------------

    def count(self, collection: str, filters: Filters | None = None) -> int:
        spec = self.get_collection(collection)
        conditions = check_filters(spec, filters)
        with self._lock:
            state = self._state(collection)
            mask = state.mask(conditions, None)
            return state.live_rows if mask is None else int(np.count_nonzero(mask))

    def plan(
        self,
        collection: str,
        k: int = 10,
        *,
        filters: Filters | None = None,
        restrict_to: Sequence[str] | None = None,
        exact: bool = False,
    ) -> SearchPlan:
        spec = self.get_collection(collection)
        conditions = check_filters(spec, filters)
        with self._lock:
            state = self._state(collection)
            mask = state.mask(conditions, check_restrict_to(restrict_to))
            return self._plan(state, mask, check_k(k), exact)

    def _plan(
        self, state: CollectionState, mask: np.ndarray | None, k: int, exact: bool
    ) -> SearchPlan:
        matching = state.live_rows if mask is None else int(np.count_nonzero(mask))
        return plan_search(
            total_rows=state.live_rows,
            matching_rows=matching,
            k=k,
            options=self._options,
            has_index=state.ann is not None,
            exact=exact,
        )

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
        spec = self.get_collection(collection)
        q = check_query(spec, vector)
        k = check_k(k)
        conditions = check_filters(spec, filters)
        allowed_ids = check_restrict_to(restrict_to)
        with self._lock:
            state = self._state(collection)
            mask = state.mask(conditions, allowed_ids)
            plan = self._plan(state, mask, k, exact)
            if plan.method == "ann":
                hits = self._ann_search(state, q, k, mask, plan)
                if hits is not None:
                    return hits
            return state.exact_top(q, k, mask)

    def _ann_search(
        self,
        state: CollectionState,
        q: np.ndarray,
        k: int,
        mask: np.ndarray | None,
        plan: SearchPlan,
    ) -> list[VectorHit] | None:
        """HNSW over the indexed rows, post-filtered, + exact over the rows added since.

        Post-filtering the ``ef_search`` nearest rows (rather than filtering inside the graph
        traversal) keeps a guarantee: if fewer than ``k`` of them pass, the true top-``k`` may
        lie outside them, and ``None`` sends the caller to the exact search; otherwise the
        passing candidates hold the true top-``k`` up to the HNSW's own recall. In-graph
        filtering (faiss ``IDSelector``) returns ``k`` hits even when a filter correlates with
        the query's neighbourhood, silently missing the best ones. Deleted rows, which do not
        depend on the query, are skipped inside the traversal.
        """
        indexed = state.ann_rows
        live = state.live[:indexed]
        fetch = plan.candidates if mask is not None else max(2 * k, k + RESCORE_EXTRA)
        found = ann.search(
            state.ann,
            q,
            fetch,
            ef_search=plan.ef_search,
            allowed=None if state.live_rows == state.rows else live,
        )
        if mask is not None:
            passing = mask[:indexed]
            found = found[passing[found]]
            if len(found) < min(k, int(np.count_nonzero(passing))):
                return None
        found = found[: max(4 * k, k + 2 * RESCORE_EXTRA)]  # nearest first (8-bit distances)
        if indexed < state.rows:
            tail_mask = (state.live if mask is None else mask).copy()
            tail_mask[:indexed] = False
            found = np.concatenate([found, state.top_rows(q, k + RESCORE_EXTRA, tail_mask)])
        return state.hits(np.unique(found), q, k)

    def close(self) -> None:
        with self._lock:
            self._states.clear()
