"""Writes of the embedded backend: commit a change, merge segments, build the ANN, compact.

Every function here runs with the collection's writer lock held and returns the new state; the
manifest is replaced last, so an exception leaves the previous collection on disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ocais.store.vectors import embedded_ann as ann
from ocais.store.vectors import embedded_files as files
from ocais.store.vectors.base import MetadataType, VectorIndexOptions
from ocais.store.vectors.embedded_state import (
    CollectionState,
    Segment,
    encode_segment,
    load_segment,
)

#: Compact when this share of the stored rows is deleted or replaced (and at least MIN rows).
COMPACT_DELETED_SHARE = 0.3
COMPACT_MIN_DELETED = 1_000


def _deleted_file(directory: Path, live: np.ndarray, generation: int) -> str | None:
    if live.all():
        return None
    name = f"deleted-{generation:08d}.npy"
    files.write_npy(directory / name, np.packbits(~live, bitorder="little"))
    return name


def commit(
    directory: Path,
    state: CollectionState,
    *,
    new_segment: Segment | None,
    dropped_rows: np.ndarray,
) -> CollectionState:
    """Append ``new_segment`` (already written) and drop ``dropped_rows``; merge small segments."""
    generation = state.manifest.generation + 1
    added = 0 if new_segment is None else new_segment.rows
    live = np.concatenate([state.live, np.ones(added, dtype=bool)])
    live[dropped_rows] = False
    segments = list(state.segments) + ([new_segment] if new_segment is not None else [])
    segments = _merged_tail(directory, state, segments, generation)
    manifest = files.Manifest(
        generation=generation,
        segments=tuple(files.SegmentRef(name=s.name, rows=s.rows) for s in segments),
        deleted=_deleted_file(directory, live, generation),
        ann=state.manifest.ann,
    )
    files.write_manifest(directory, manifest)
    # Committed: update the in-memory view to match (cannot fail half-way from here on).
    new_state = state.without_rows(dropped_rows)
    if new_segment is not None:
        new_state = new_state.with_segment(new_segment)
    new_state = replace(
        new_state, segments=segments, manifest=manifest, stamp=files.manifest_stamp(directory)
    )
    files.remove_unreferenced(directory, manifest)
    return new_state


def _merged_tail(
    directory: Path, state: CollectionState, segments: list[Segment], generation: int
) -> list[Segment]:
    """Merge trailing segments while the older is not larger (a binary counter: O(log n) segments,
    each row rewritten O(log n) times). Row positions do not change."""
    merged = 0
    while len(segments) >= 2 and segments[-2].rows <= segments[-1].rows:
        name = f"seg-{generation:08d}-m{merged}"
        first, second = segments[-2], segments[-1]
        columns: dict[str, list[Any]] = {}
        for key, type_ in state.spec.key_types().items():
            columns[key] = _decoded(first, key, type_) + _decoded(second, key, type_)
        vectors = np.concatenate([np.asarray(first.vectors), np.asarray(second.vectors)])
        files.write_segment_dir(
            directory,
            name,
            encode_segment(state.spec, first.ids + second.ids, vectors, columns),
        )
        segments[-2:] = [load_segment(directory, name, state.spec)]
        merged += 1
    return segments


def _decoded(segment: Segment, key: str, type_: MetadataType) -> list[Any]:
    values, null, vocab = segment.columns[key]
    pairs = zip(values.tolist(), null.tolist(), strict=True)
    if type_ == "str":
        return [None if missing else vocab[value] for value, missing in pairs]
    if type_ == "bool":
        return [None if missing else bool(value) for value, missing in pairs]
    return [None if missing else value for value, missing in pairs]


def _chunks(state: CollectionState, start: int, stop: int) -> Iterator[np.ndarray]:
    bounds = np.cumsum([0] + [segment.rows for segment in state.segments]).tolist()
    for offset, segment in zip(bounds[:-1], state.segments, strict=True):
        lo, hi = max(start, offset), min(stop, offset + segment.rows)
        if lo < hi:
            yield segment.vectors[lo - offset : hi - offset]


def _save_ann(
    directory: Path, state: CollectionState, index: Any, rows: int, *, bump: bool = True
) -> CollectionState:
    generation = state.manifest.generation + (1 if bump else 0)
    name = f"ann-{generation:08d}.faiss"
    ann.save(index, directory / name)
    manifest = state.manifest.model_copy(
        update={"generation": generation, "ann": files.AnnRef(file=name, rows=rows)}
    )
    files.write_manifest(directory, manifest)
    new_state = replace(state, manifest=manifest, ann=index, stamp=files.manifest_stamp(directory))
    files.remove_unreferenced(directory, manifest)
    return new_state


def build_ann(
    directory: Path, state: CollectionState, options: VectorIndexOptions
) -> CollectionState:
    """Build the HNSW index over every stored row, or add the rows it does not cover yet."""
    if state.rows == 0:
        return state
    if state.ann is not None:
        if state.ann_rows == state.rows:
            return state
        index = state.ann
        try:
            ann.extend(index, np.concatenate(list(_chunks(state, state.ann_rows, state.rows))))
            return _save_ann(directory, state, index, state.rows)
        except BaseException:
            # The in-memory index is now ahead of the manifest: stop using it, reload from disk.
            state.ann = None
            state.stamp = (0, 0, 0)
            raise
    step = max(1, state.rows // ann.TRAIN_SAMPLE)
    sample = state.gather(np.arange(0, state.rows, step, dtype=np.int64))
    index = ann.build(
        _chunks(state, 0, state.rows),
        sample,
        dimension=state.spec.dimension,
        metric=state.spec.metric,
        m=options.hnsw_m,
        ef_construction=options.hnsw_ef_construction,
    )
    return _save_ann(directory, state, index, state.rows)


def compact(
    directory: Path, state: CollectionState, options: VectorIndexOptions, *, keep_ann: bool
) -> CollectionState:
    """Rewrite the live rows as one segment; rebuild the ANN index if ``keep_ann``."""
    generation = state.manifest.generation + 1
    rows = np.flatnonzero(state.live)
    name = f"seg-{generation:08d}-c"
    columns = {
        key: [column.value(row) for row in rows.tolist()] for key, column in state.columns.items()
    }
    ids = [state.ids[row] for row in rows.tolist()]
    manifest = files.Manifest(generation=generation)
    if len(rows):
        files.write_segment_dir(
            directory, name, encode_segment(state.spec, ids, state.gather(rows), columns)
        )
        manifest = files.Manifest(
            generation=generation, segments=(files.SegmentRef(name=name, rows=len(rows)),)
        )
    segments = [load_segment(directory, name, state.spec)] if len(rows) else []
    new_state = CollectionState.empty(state.spec, manifest)
    for segment in segments:
        new_state = new_state.with_segment(segment)
    if keep_ann and new_state.rows:
        # Build before committing: readers keep the old, consistent collection meanwhile.
        new_state = build_ann(directory, replace(new_state, manifest=manifest), options)
        return new_state
    files.write_manifest(directory, manifest)
    new_state = replace(new_state, manifest=manifest, stamp=files.manifest_stamp(directory))
    files.remove_unreferenced(directory, manifest)
    return new_state


def needs_compaction(state: CollectionState) -> bool:
    deleted = state.rows - state.live_rows
    return deleted >= COMPACT_MIN_DELETED and deleted >= COMPACT_DELETED_SHARE * state.rows


def maintain(
    directory: Path, state: CollectionState, options: VectorIndexOptions
) -> CollectionState:
    """After a write: compact if many rows are dead; build or extend the ANN (``auto_index``)."""
    wants_ann = options.auto_index and state.live_rows > options.exact_threshold
    if needs_compaction(state):
        return compact(directory, state, options, keep_ann=wants_ann or state.ann is not None)
    if wants_ann and (state.ann is None or state.rows - state.ann_rows > options.index_tail_rows):
        return build_ann(directory, state, options)
    return state
