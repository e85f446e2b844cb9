"""In-memory view of an embedded collection: segments, metadata columns, masks, exact scoring.

Metadata are columns over all rows (str values dictionary-encoded), so a filter is a few
vectorised comparisons giving a boolean mask; exact search is a float32 matrix–vector product
over the rows the mask keeps, and the final top-k are re-scored in float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ocais.store.vectors import embedded_files as files
from ocais.store.vectors.base import CollectionSpec, MetadataType, VectorHit
from ocais.store.vectors.checks import Condition, Scalar

DTYPES: dict[MetadataType, Any] = {
    "str": np.int32,
    "int": np.int64,
    "float": np.float64,
    "bool": np.int8,
}
#: Full matrix–vector product instead of a gather when this share of a segment is wanted.
DENSE_SHARE = 0.25
#: Up to this many accepted values are compared one by one (1M rows: 0.05 ms each; np.isin
#: takes ~6 ms, a lookup table ~0.5 ms).
SMALL_IN_LIST = 16
#: Top-k are re-scored in float64 with this many extra candidates (float32 near-ties).
RESCORE_EXTRA = 8


@dataclass
class Segment:
    """One immutable chunk of rows; ``vectors`` is memory-mapped."""

    name: str
    vectors: np.ndarray
    ids: list[str]
    columns: dict[str, tuple[np.ndarray, np.ndarray, list[str]]]
    sqnorms: np.ndarray | None

    @property
    def rows(self) -> int:
        return len(self.ids)


def encode_segment(
    spec: CollectionSpec,
    ids: Sequence[str],
    vectors: np.ndarray,
    columns: dict[str, list[Scalar | None]],
) -> dict[str, np.ndarray | list[Any]]:
    """The files of a new segment holding these rows."""
    out: dict[str, np.ndarray | list[Any]] = {"vectors.npy": vectors, "ids.json": list(ids)}
    if spec.metric == "l2":
        out["sqnorms.npy"] = np.einsum("ij,ij->i", vectors, vectors).astype(np.float32)
    for key, type_ in spec.key_types().items():
        values = columns[key]
        null = np.array([value is None for value in values], dtype=bool)
        if type_ == "str":
            vocab = sorted({str(value) for value in values if value is not None})
            codes = {value: code for code, value in enumerate(vocab)}
            encoded = np.array([-1 if v is None else codes[str(v)] for v in values], dtype=np.int32)
            out[f"vocab-{key}.json"] = vocab
        else:
            fill = 0 if type_ != "float" else 0.0
            encoded = np.array(
                [fill if v is None else v for v in values], dtype=DTYPES[type_]
            ).reshape(len(values))
        out[f"col-{key}.npy"] = encoded
        out[f"null-{key}.npy"] = null
    return out


def load_segment(directory: Path, name: str, spec: CollectionSpec) -> Segment:
    path = directory / name
    columns: dict[str, tuple[np.ndarray, np.ndarray, list[str]]] = {}
    for key, type_ in spec.key_types().items():
        vocab = files.read_json(path / f"vocab-{key}.json") if type_ == "str" else []
        columns[key] = (
            files.read_npy(path / f"col-{key}.npy"),
            files.read_npy(path / f"null-{key}.npy"),
            vocab,
        )
    sqnorms = files.read_npy(path / "sqnorms.npy") if spec.metric == "l2" else None
    return Segment(
        name=name,
        vectors=files.read_npy(path / "vectors.npy", mmap=True),
        ids=files.read_json(path / "ids.json"),
        columns=columns,
        sqnorms=sqnorms,
    )


@dataclass
class Column:
    """One metadata key over all rows."""

    type: MetadataType
    values: np.ndarray
    null: np.ndarray
    vocab: list[str] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)

    def extended(self, values: np.ndarray, null: np.ndarray, vocab: list[str]) -> Column:
        """A new column with a segment's rows appended (str codes mapped to global ones)."""
        new_vocab, new_codes = self.vocab, self.codes
        if self.type == "str":
            new_vocab, new_codes = list(self.vocab), dict(self.codes)
            for value in vocab:
                if value not in new_codes:
                    new_codes[value] = len(new_vocab)
                    new_vocab.append(value)
            remap = np.array([new_codes[value] for value in vocab] + [-1], dtype=np.int32)
            values = remap[np.where(values < 0, len(vocab), values)]
        return Column(
            type=self.type,
            values=np.concatenate([self.values, values.astype(self.values.dtype)]),
            null=np.concatenate([self.null, null]),
            vocab=new_vocab,
            codes=new_codes,
        )

    def match(self, condition: Condition) -> np.ndarray:
        """Rows whose value is one of the condition's (or missing, if it accepts that)."""
        if self.type == "str":  # codes; -1 = missing
            codes = [self.codes[v] for v in condition.values if v in self.codes]
            codes += [-1] if condition.include_null else []
            if len(codes) > SMALL_IN_LIST:  # one gather through a lookup table (-1: last slot)
                table = np.zeros(len(self.vocab) + 1, dtype=bool)
                table[codes] = True
                return table.take(self.values)
            mask = np.zeros(len(self.values), dtype=bool)
            for code in codes:
                mask |= self.values == code
            return mask
        wanted = [int(v) for v in condition.values] if self.type == "bool" else condition.values
        if not wanted:
            mask = np.zeros(len(self.values), dtype=bool)
        elif len(wanted) <= SMALL_IN_LIST:
            mask = self.values == wanted[0]
            for value in wanted[1:]:
                mask |= self.values == value
        else:
            mask = np.isin(self.values, np.array(wanted, dtype=self.values.dtype))
        mask &= ~self.null
        return mask | self.null if condition.include_null else mask

    def encode(self, values: list[Scalar | None]) -> tuple[np.ndarray, np.ndarray]:
        """``values`` in this column's encoding (unknown strings get code -2: never equal)."""
        null = np.array([value is None for value in values], dtype=bool)
        if self.type == "str":
            encoded: list[Any] = [-1 if v is None else self.codes.get(str(v), -2) for v in values]
        else:
            encoded = [0 if v is None else v for v in values]
        return np.array(encoded, dtype=self.values.dtype).reshape(len(values)), null

    def value(self, row: int) -> Scalar | None:
        if self.null[row]:
            return None
        raw = self.values[row].item()
        if self.type == "str":
            return self.vocab[raw]
        return bool(raw) if self.type == "bool" else raw  # type: ignore[no-any-return,unused-ignore]


@dataclass
class CollectionState:
    """Everything a search needs, for one manifest generation. Replaced, never edited, by writes
    (except ``ids`` and ``row_of``, which only the index's lock-holding code touches)."""

    spec: CollectionSpec
    manifest: files.Manifest
    stamp: tuple[int, int, int]
    segments: list[Segment]
    ids: list[str]
    row_of: dict[str, int]
    live: np.ndarray
    columns: dict[str, Column]
    ann: Any = None

    @classmethod
    def empty(cls, spec: CollectionSpec, manifest: files.Manifest) -> CollectionState:
        columns = {
            key: Column(type_, np.zeros(0, DTYPES[type_]), np.zeros(0, bool))
            for key, type_ in spec.key_types().items()
        }
        return cls(spec, manifest, (0, 0, 0), [], [], {}, np.zeros(0, bool), columns)

    @property
    def rows(self) -> int:
        return len(self.live)

    @property
    def live_rows(self) -> int:
        return int(np.count_nonzero(self.live))

    @property
    def ann_rows(self) -> int:
        return self.manifest.ann.rows if self.manifest.ann is not None and self.ann else 0

    def with_segment(self, segment: Segment) -> CollectionState:
        """A state with ``segment``'s rows appended (the caller updates the manifest)."""
        start = self.rows
        self.ids.extend(segment.ids)
        for offset, id_ in enumerate(segment.ids):
            self.row_of[id_] = start + offset
        columns = {
            key: column.extended(*segment.columns[key]) for key, column in self.columns.items()
        }
        live = np.concatenate([self.live, np.ones(segment.rows, dtype=bool)])
        return CollectionState(
            self.spec,
            self.manifest,
            self.stamp,
            [*self.segments, segment],
            self.ids,
            self.row_of,
            live,
            columns,
            self.ann,
        )

    def without_rows(self, rows: np.ndarray) -> CollectionState:
        live = self.live.copy()
        live[rows] = False
        for row in rows.tolist():
            if self.row_of.get(self.ids[row]) == row:
                del self.row_of[self.ids[row]]
        return CollectionState(
            self.spec,
            self.manifest,
            self.stamp,
            self.segments,
            self.ids,
            self.row_of,
            live,
            self.columns,
            self.ann,
        )

    # -- filters -------------------------------------------------------------------------------

    def rows_of(self, ids: Sequence[str]) -> np.ndarray:
        """Live row positions of the ``ids`` that exist, sorted."""
        found = [self.row_of[id_] for id_ in ids if id_ in self.row_of]
        return np.unique(np.array(found, dtype=np.int64))

    def mask(
        self, conditions: Sequence[Condition], restrict_to: Sequence[str] | None
    ) -> np.ndarray | None:
        """Live rows passing every condition and among ``restrict_to``; ``None`` = no filter."""
        if not conditions and restrict_to is None:
            return None
        mask = self.live.copy()
        for condition in conditions:
            mask &= self.columns[condition.key].match(condition)
        if restrict_to is not None:
            allowed = np.zeros(self.rows, dtype=bool)
            allowed[self.rows_of(restrict_to)] = True
            mask &= allowed
        return mask

    # -- scoring -------------------------------------------------------------------------------

    def _bounds(self) -> np.ndarray:
        return np.cumsum([0] + [segment.rows for segment in self.segments])

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """float32 vectors of ``rows`` (sorted or not)."""
        out = np.empty((len(rows), self.spec.dimension), dtype=np.float32)
        bounds = self._bounds()
        which = np.searchsorted(bounds, rows, side="right") - 1
        for index in np.unique(which).tolist():
            here = which == index
            out[here] = self.segments[index].vectors[rows[here] - bounds[index]]
        return out

    def _rank_scores(self, segment: Segment, local: np.ndarray | None, q: np.ndarray) -> np.ndarray:
        """float32 scores that rank like the metric (l2: 2·x·q − |x|², no square root)."""
        vectors = segment.vectors if local is None else segment.vectors[local]
        scores: np.ndarray = vectors @ q
        if segment.sqnorms is not None:
            norms = segment.sqnorms if local is None else segment.sqnorms[local]
            scores = 2.0 * scores - norms
        return scores

    def exact_scores(self, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
        """The metric's similarity of ``rows`` to ``q``, in float64."""
        vectors = self.gather(rows).astype(np.float64)
        q64 = q.astype(np.float64)
        if self.spec.metric == "l2":
            return -np.sqrt(((vectors - q64) ** 2).sum(axis=1))
        scores: np.ndarray = vectors @ q64
        return scores

    def exact_top(self, q: np.ndarray, k: int, mask: np.ndarray | None) -> list[VectorHit]:
        """The ``k`` best live rows (among ``mask``), by exact scoring."""
        return self.hits(self.top_rows(q, k + RESCORE_EXTRA, mask), q, k)

    def top_rows(self, q: np.ndarray, keep: int, mask: np.ndarray | None) -> np.ndarray:
        """Positions of the ``keep`` best live rows (among ``mask``) by float32 score."""
        pieces_rows: list[np.ndarray] = []
        pieces_scores: list[np.ndarray] = []
        allowed = self.live if mask is None else mask
        for start, segment in zip(self._bounds()[:-1].tolist(), self.segments, strict=True):
            here = allowed[start : start + segment.rows]
            local = np.flatnonzero(here)
            if len(local) == 0:
                continue
            if len(local) >= DENSE_SHARE * segment.rows:
                scores = self._rank_scores(segment, None, q)[local]
            else:
                scores = self._rank_scores(segment, local, q)
            if len(scores) > keep:
                best = np.argpartition(-scores, keep - 1)[:keep]
                local, scores = local[best], scores[best]
            pieces_rows.append(local + start)
            pieces_scores.append(scores)
        if not pieces_rows:
            return np.zeros(0, dtype=np.int64)
        rows = np.concatenate(pieces_rows)
        scores = np.concatenate(pieces_scores)
        if len(rows) > keep:
            rows = rows[np.argpartition(-scores, keep - 1)[:keep]]
        return rows

    def hits(self, rows: np.ndarray, q: np.ndarray, k: int) -> list[VectorHit]:
        """The best ``k`` of ``rows`` by float64 score, ties broken by id."""
        if len(rows) == 0:
            return []
        scores = self.exact_scores(rows, q)
        order = sorted(range(len(rows)), key=lambda i: (-scores[i], self.ids[int(rows[i])]))
        return [
            VectorHit(
                id=self.ids[int(rows[i])],
                score=float(scores[i]),
                metadata={key: col.value(int(rows[i])) for key, col in self.columns.items()},
            )
            for i in order[:k]
        ]
