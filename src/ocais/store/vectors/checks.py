"""Input checks shared by every backend, so that they reject (and accept) exactly the same things.

Everything a backend writes passes through here first: a batch with one bad vector, id or
metadata value raises :class:`~ocais.errors.VectorIndexError` before anything is written.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ocais.errors import VectorIndexError
from ocais.store.vectors.base import CollectionSpec, Filters, MetadataType, MetadataValue

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,47}$")

MAX_ID_LENGTH = 512
MAX_K = 10_000

Scalar = str | int | float | bool


@dataclass(frozen=True)
class Condition:
    """One equality filter: ``key`` is one of ``values``, or missing if ``include_null``."""

    key: str
    type: MetadataType
    values: tuple[Scalar, ...]
    include_null: bool


def _scalar(value: Any, type_: MetadataType, where: str) -> Scalar | None:
    """``value`` as a plain Python value of ``type_`` (``None`` stays ``None``), or an error."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    ok: bool
    if type_ == "str":
        ok = isinstance(value, str)
    elif type_ == "bool":
        ok = isinstance(value, bool)
    elif type_ == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
        ok = ok and -(2**63) <= value < 2**63
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and not math.isfinite(value):
            raise VectorIndexError(f"{where}: {value!r} is not a finite number")
        if ok:
            value = float(value)
    if not ok:
        raise VectorIndexError(
            f"{where}: {value!r} is not a {type_}",
            hint="pass values of the type declared in the collection's metadata_types",
        )
    return value  # type: ignore[no-any-return,unused-ignore]


def check_filters(spec: CollectionSpec, filters: Filters | None) -> list[Condition]:
    """Filters as conditions on declared keys; an undeclared key or a mistyped value raises."""
    if not filters:
        return []
    types = spec.key_types()
    conditions = []
    for key, wanted in filters.items():
        if key not in types:
            raise VectorIndexError(
                f"collection {spec.name!r} has no metadata key {key!r} to filter on",
                hint=f"declared keys: {sorted(types)}",
            )
        many = isinstance(wanted, Sequence | np.ndarray) and not isinstance(wanted, str)
        raw = list(wanted) if many else [wanted]  # type: ignore[arg-type]
        values = [_scalar(value, types[key], f"filter {key!r}") for value in raw]
        present = tuple(dict.fromkeys(value for value in values if value is not None))
        conditions.append(Condition(key, types[key], present, any(v is None for v in values)))
    return conditions


def check_ids(ids: Sequence[str], *, allow_duplicates: bool = False) -> list[str]:
    """Ids as a list of non-empty strings (unique unless ``allow_duplicates``)."""
    if isinstance(ids, str):
        raise VectorIndexError("ids must be a sequence of strings, not one string")
    out = list(ids)
    for value in out:
        if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
            raise VectorIndexError(
                f"invalid id {value!r}: ids are non-empty strings of at most "
                f"{MAX_ID_LENGTH} characters"
            )
    if not allow_duplicates and len(set(out)) != len(out):
        dupes = sorted(value for value, n in Counter(out).items() if n > 1)
        raise VectorIndexError(
            f"duplicate ids in one upsert: {dupes[:5]}", hint="send each id once per batch"
        )
    return out


def check_vectors(spec: CollectionSpec, vectors: Any, n_ids: int) -> np.ndarray:
    """A C-contiguous float32 ``(n, dimension)`` array, finite, normalised for cosine."""
    try:
        array = np.asarray(vectors, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise VectorIndexError(f"vectors are not numeric: {exc}") from exc
    if array.ndim != 2 or array.shape[1] != spec.dimension:
        raise VectorIndexError(
            f"vectors have shape {array.shape}; collection {spec.name!r} holds "
            f"{spec.dimension}-dimensional vectors (shape (n, {spec.dimension}))",
            hint=f"embed with {spec.embedder_id!r}, or create another collection",
        )
    if array.shape[0] != n_ids:
        raise VectorIndexError(f"{array.shape[0]} vectors for {n_ids} ids")
    with np.errstate(over="ignore"):
        single = array.astype(np.float32)
    bad = ~np.isfinite(single).all(axis=1)
    if bad.any():
        raise VectorIndexError(
            f"vector {int(np.flatnonzero(bad)[0])} has NaN or infinite values "
            f"(or values beyond float32); nothing was written"
        )
    if spec.metric == "cosine":
        return _normalised(single.astype(np.float64), "vector")
    return np.ascontiguousarray(single)


def _normalised(array: np.ndarray, what: str) -> np.ndarray:
    norms = np.linalg.norm(array, axis=1)
    if (norms == 0).any():
        raise VectorIndexError(
            f"{what} {int(np.flatnonzero(norms == 0)[0])} is zero: it has no cosine similarity"
        )
    return np.ascontiguousarray((array / norms[:, None]).astype(np.float32))


def check_query(spec: CollectionSpec, vector: Any) -> np.ndarray:
    """One query vector as float32 ``(dimension,)``, normalised for cosine."""
    try:
        array = np.asarray(vector, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise VectorIndexError(f"query vector is not numeric: {exc}") from exc
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.shape != (spec.dimension,):
        raise VectorIndexError(
            f"query vector has shape {array.shape}; collection {spec.name!r} holds "
            f"{spec.dimension}-dimensional vectors",
            hint=f"embed the query with {spec.embedder_id!r}",
        )
    single = array.astype(np.float32)
    if not np.isfinite(single).all():
        raise VectorIndexError("query vector has NaN or infinite values")
    if spec.metric == "cosine":
        return _normalised(single[None, :].astype(np.float64), "query vector")[0]
    return single


def check_metadata(
    spec: CollectionSpec, metadata: Sequence[Mapping[str, MetadataValue]] | None, n: int
) -> dict[str, list[Scalar | None]]:
    """Metadata records as one list per declared key (``None`` where a record has no value)."""
    types = spec.key_types()
    columns: dict[str, list[Scalar | None]] = {key: [None] * n for key in types}
    if metadata is None:
        return columns
    if len(metadata) != n:
        raise VectorIndexError(f"{len(metadata)} metadata records for {n} ids")
    for row, record in enumerate(metadata):
        for key, value in record.items():
            if key not in types:
                raise VectorIndexError(
                    f"metadata record {row} has undeclared key {key!r}",
                    hint=f"declared keys: {sorted(types)}; declare new keys in a new collection",
                )
            columns[key][row] = _scalar(value, types[key], f"metadata record {row}, key {key!r}")
    return columns


def check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= MAX_K:
        raise VectorIndexError(f"k must be an integer from 1 to {MAX_K}, not {k!r}")
    return int(k)


def check_restrict_to(restrict_to: Sequence[str] | None) -> list[str] | None:
    return None if restrict_to is None else check_ids(restrict_to, allow_duplicates=True)


def check_name(name: str) -> str:
    """A collection name (also a directory and table name: never a path or SQL)."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise VectorIndexError(
            f"invalid collection name {name!r}", hint=f"names match {NAME_PATTERN.pattern}"
        )
    return name


def spec_mismatch(existing: CollectionSpec, wanted: CollectionSpec) -> VectorIndexError:
    """The error for creating a collection that exists with another spec."""
    fields = [
        f"{field}: {getattr(existing, field)!r} ≠ {getattr(wanted, field)!r}"
        for field in CollectionSpec.model_fields
        if getattr(existing, field) != getattr(wanted, field)
    ]
    return VectorIndexError(
        f"collection {wanted.name!r} exists with another spec ({'; '.join(fields)})",
        hint="use another collection name, or drop the collection to rebuild it",
    )
