"""Contract tests of the ``VectorIndex`` backends: embedded (numpy + faiss) and pgvector.

Every test taking ``make_index`` runs on both backends (PostgreSQL through pgserver, marked
``postgres``); results are checked against a brute-force numpy reference, and, when PostgreSQL
is there, the two backends against each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from ocais.errors import NotFoundError, VectorIndexError
from ocais.store.vectors import (
    CollectionSpec,
    VectorIndex,
    VectorIndexOptions,
)
from ocais.store.vectors.embedded import EmbeddedVectorIndex

MakeIndex = Callable[..., VectorIndex]
SITES = ("a", "b", "c", "d")
TYPES: dict[str, Any] = {"age": "int", "synthetic": "bool", "weight": "float"}


def spec_for(name: str = "cases", dimension: int = 16, metric: str = "cosine") -> CollectionSpec:
    return CollectionSpec(
        name=name,
        embedder_id="test-embedder@1",
        dimension=dimension,
        metric=metric,  # type: ignore[arg-type,unused-ignore]
        metadata_keys=("sex", "site", "age", "synthetic", "weight"),
        metadata_types=TYPES,
    )


def random_rows(
    n: int, dimension: int, seed: int = 0
) -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dimension)).astype(np.float32)
    ids = [f"case-{i:05d}" for i in range(n)]
    metadata: list[dict[str, Any]] = [
        {
            "sex": ("F", "M")[int(rng.integers(2))],
            "site": None if rng.random() < 0.1 else SITES[int(rng.integers(4))],
            "age": int(rng.integers(0, 90)),
            "synthetic": bool(rng.random() < 0.3),
            "weight": float(rng.integers(0, 8)) / 2,
        }
        for _ in range(n)
    ]
    return ids, vectors, metadata


def reference(
    metric: str,
    ids: list[str],
    vectors: np.ndarray,
    metadata: list[dict[str, Any]],
    query: np.ndarray,
    k: int,
    filters: dict[str, Any] | None = None,
    restrict_to: list[str] | None = None,
) -> list[tuple[str, float]]:
    """Brute force in float64, written independently of the backends."""
    x = vectors.astype(np.float64)
    q = np.asarray(query, dtype=np.float64)
    if metric == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        q = q / np.linalg.norm(q)
    scores = -np.sqrt(((x - q) ** 2).sum(axis=1)) if metric == "l2" else x @ q
    keep = []
    for i, record in enumerate(metadata):
        ok = restrict_to is None or ids[i] in restrict_to
        for key, wanted in (filters or {}).items():
            accepted = wanted if isinstance(wanted, list) else [wanted]
            ok = ok and record.get(key) in accepted
        if ok:
            keep.append(i)
    ranked = sorted(keep, key=lambda i: (-scores[i], ids[i]))[:k]
    return [(ids[i], float(scores[i])) for i in ranked]


@pytest.fixture(params=["embedded", pytest.param("pgvector", marks=pytest.mark.postgres)])
def make_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeIndex]:
    """Builds indexes of the parametrized backend (all on the same directory / database)."""
    created: list[VectorIndex] = []
    url: str | None = request.getfixturevalue("pg_url") if request.param == "pgvector" else None

    def make(**options: Any) -> VectorIndex:
        settings = VectorIndexOptions(**options)
        if url is None:
            index: VectorIndex = EmbeddedVectorIndex(tmp_path / "vectors", settings)
        else:
            from ocais.store.vectors.pgvector import PgVectorIndex

            index = PgVectorIndex(url, settings)
        created.append(index)
        return index

    yield make
    for index in created:
        index.close()


# -- collections ---------------------------------------------------------------------------------


def test_backends_implement_the_protocol(make_index: MakeIndex) -> None:
    assert isinstance(make_index(), VectorIndex)


def test_create_get_list_drop(make_index: MakeIndex) -> None:
    index = make_index()
    spec = spec_for()
    index.create_collection(spec)
    index.create_collection(spec)  # same spec again: fine
    index.create_collection(spec_for("other", metric="l2"))
    assert index.get_collection("cases") == spec
    assert index.list_collections() == ["cases", "other"]
    index.drop_collection("other")
    index.drop_collection("other")  # already gone: fine
    assert index.list_collections() == ["cases"]
    with pytest.raises(NotFoundError):
        index.get_collection("other")


@pytest.mark.parametrize(
    "change",
    [{"dimension": 8}, {"metric": "l2"}, {"embedder_id": "other@2"}, {"metadata_keys": ("sex",)}],
)
def test_spec_mismatch_is_an_error(make_index: MakeIndex, change: dict[str, Any]) -> None:
    index = make_index()
    spec = spec_for()
    index.create_collection(spec)
    fields = spec.model_dump() | change
    if "metadata_keys" in change:
        fields["metadata_types"] = {}
    with pytest.raises(VectorIndexError, match="exists with another spec"):
        index.create_collection(CollectionSpec(**fields))


def test_unknown_collection_and_invalid_names(make_index: MakeIndex) -> None:
    index = make_index()
    with pytest.raises(NotFoundError, match="create it first"):
        index.search("nothing", np.ones(16), 3)
    with pytest.raises(NotFoundError):
        index.upsert("nothing", ["a"], np.ones((1, 16)))
    with pytest.raises(NotFoundError):
        index.count("nothing")
    with pytest.raises(VectorIndexError, match="invalid collection name"):
        index.get_collection("../etc")


def test_spec_validation() -> None:
    with pytest.raises(ValidationError):
        CollectionSpec(name="x", embedder_id="e", dimension=4, metadata_keys=("id",))
    with pytest.raises(ValidationError):
        CollectionSpec(name="x", embedder_id="e", dimension=4, metadata_keys=("a", "a"))
    with pytest.raises(ValidationError, match="undeclared"):
        CollectionSpec(name="x", embedder_id="e", dimension=4, metadata_types={"a": "int"})
    with pytest.raises(ValidationError):
        CollectionSpec(name="Bad-Name", embedder_id="e", dimension=4)


# -- writes --------------------------------------------------------------------------------------


def test_empty_collection(make_index: MakeIndex) -> None:
    index = make_index()
    index.create_collection(spec_for())
    assert index.count("cases") == 0
    assert index.search("cases", np.ones(16), 5) == []
    assert index.search("cases", np.ones(16), 5, filters={"sex": "F"}, restrict_to=["x"]) == []
    assert index.plan("cases", 5).method == "exact"
    assert index.upsert("cases", [], np.zeros((0, 16))) == 0
    assert index.delete("cases", []) == 0


def test_upsert_replace_delete_count(make_index: MakeIndex) -> None:
    index = make_index()
    index.create_collection(spec_for(dimension=4))
    vectors = np.eye(4, dtype=np.float32)[:3]
    metadata: list[dict[str, Any]] = [{"sex": "F", "age": 1}, {"sex": "M", "age": 2}, {"sex": "F"}]
    assert index.upsert("cases", ["a", "b", "c"], vectors, metadata) == 3
    assert index.count("cases") == 3
    assert index.upsert("cases", ["a", "b", "c"], vectors, metadata) == 0  # unchanged
    assert index.upsert("cases", ["a"], 2 * vectors[:1], metadata[:1]) == 0  # cosine: same
    assert index.upsert("cases", ["a"], vectors[1:2], metadata[:1]) == 1  # new vector
    assert index.upsert("cases", ["b"], vectors[1:2], [{"sex": "F", "age": 2}]) == 1
    assert index.count("cases") == 3
    assert index.count("cases", {"sex": "F"}) == 3
    hits = index.search("cases", vectors[1], 3, exact=True)
    assert {hit.id for hit in hits[:2]} == {"a", "b"}
    assert hits[0].metadata == {
        "sex": "F",
        "site": None,
        "age": hits[0].metadata["age"],
        "synthetic": None,
        "weight": None,
    }
    assert index.delete("cases", ["a", "c", "nope", "a"]) == 2
    assert index.count("cases") == 1
    assert index.delete("cases", ["a"]) == 0
    assert [hit.id for hit in index.search("cases", vectors[0], 5)] == ["b"]


@pytest.mark.parametrize(
    ("vectors", "ids", "metadata", "message"),
    [
        (np.ones((2, 5)), ["a", "b"], None, "16-dimensional"),
        (np.ones((2, 16)), ["a"], None, "2 vectors for 1 ids"),
        (np.vstack([np.ones(16), np.full(16, np.nan)]), ["a", "b"], None, "NaN"),
        (np.vstack([np.ones(16), np.full(16, 1e39)]), ["a", "b"], None, "float32"),
        (np.vstack([np.ones(16), np.zeros(16)]), ["a", "b"], None, "zero"),
        (np.ones((2, 16)), ["a", "a"], None, "duplicate ids"),
        (np.ones((2, 16)), ["a", ""], None, "invalid id"),
        (np.ones((2, 16)), ["a", "b"], [{"sex": "F"}, {"colour": "red"}], "undeclared key"),
        (np.ones((2, 16)), ["a", "b"], [{"age": 3}, {"age": "3"}], "not a int"),
        (np.ones((2, 16)), ["a", "b"], [{"age": 3}, {"age": True}], "not a int"),
        (np.ones((2, 16)), ["a", "b"], [{}, {"weight": float("inf")}], "finite"),
    ],
)
def test_bad_batch_writes_nothing(
    make_index: MakeIndex,
    vectors: np.ndarray,
    ids: list[str],
    metadata: list[dict[str, Any]] | None,
    message: str,
) -> None:
    index = make_index()
    index.create_collection(spec_for())
    index.upsert("cases", ["kept"], np.ones((1, 16)))
    with pytest.raises(VectorIndexError, match=message):
        index.upsert("cases", ids, vectors, metadata)
    assert index.count("cases") == 1
    assert [hit.id for hit in index.search("cases", np.ones(16), 5)] == ["kept"]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"colour": "red"}, "no metadata key 'colour'"),
        ({"age": "42"}, "not a int"),
        ({"synthetic": 1}, "not a bool"),
        ({"age": [1, 2.5]}, "not a int"),
        ({"weight": float("nan")}, "finite"),
    ],
)
def test_bad_filters(make_index: MakeIndex, filters: dict[str, Any], message: str) -> None:
    index = make_index()
    index.create_collection(spec_for())
    with pytest.raises(VectorIndexError, match=message):
        index.search("cases", np.ones(16), 3, filters=filters)
    with pytest.raises(VectorIndexError, match=message):
        index.count("cases", filters)


def test_bad_queries(make_index: MakeIndex) -> None:
    index = make_index()
    index.create_collection(spec_for())
    with pytest.raises(VectorIndexError, match="16-dimensional"):
        index.search("cases", np.ones(8), 3)
    with pytest.raises(VectorIndexError, match="NaN"):
        index.search("cases", np.full(16, np.nan), 3)
    with pytest.raises(VectorIndexError, match="k must be"):
        index.search("cases", np.ones(16), 0)


# -- exact search --------------------------------------------------------------------------------

FILTER_CASES: list[tuple[dict[str, Any] | None, bool]] = [
    (None, False),
    ({"sex": "F"}, False),
    ({"site": ["a", "c"]}, False),
    ({"site": None}, False),
    ({"site": ["b", None]}, False),
    ({"synthetic": True}, False),
    ({"age": 42}, False),
    ({"age": list(range(30, 40)), "sex": "M"}, False),
    ({"weight": 1.5}, False),
    ({"site": []}, False),
    (None, True),
    ({"sex": "F", "synthetic": False}, True),
]


@pytest.mark.parametrize("metric", ["cosine", "ip", "l2"])
@pytest.mark.parametrize(("filters", "restricted"), FILTER_CASES)
def test_exact_search_matches_brute_force(
    make_index: MakeIndex, metric: str, filters: dict[str, Any] | None, restricted: bool
) -> None:
    index = make_index()
    index.create_collection(spec_for(metric=metric))
    ids, vectors, metadata = random_rows(400, 16)
    index.upsert("cases", ids, vectors, metadata)
    restrict_to = [*ids[::3], "not-stored"] if restricted else None
    for seed in range(3):
        query = np.random.default_rng(100 + seed).standard_normal(16)
        expected = reference(metric, ids, vectors, metadata, query, 10, filters, restrict_to)
        hits = index.search("cases", query, 10, filters=filters, restrict_to=restrict_to)
        assert [hit.id for hit in hits] == [id_ for id_, _ in expected]
        np.testing.assert_allclose([h.score for h in hits], [s for _, s in expected], atol=1e-5)
        for hit in hits:
            assert hit.metadata == metadata[ids.index(hit.id)] | {}
    assert index.count("cases", filters) == len(
        reference(metric, ids, vectors, metadata, vectors[0], 10_000, filters)
    )


@pytest.mark.postgres
@pytest.mark.parametrize("metric", ["cosine", "ip", "l2"])
def test_backends_return_the_same_ids_and_scores(metric: str, pg_url: str, tmp_path: Path) -> None:
    from ocais.store.vectors.pgvector import PgVectorIndex

    ids, vectors, metadata = random_rows(1000, 24, seed=7)
    backends: list[VectorIndex] = [EmbeddedVectorIndex(tmp_path), PgVectorIndex(pg_url)]
    for index in backends:
        index.create_collection(spec_for(dimension=24, metric=metric))
        index.upsert("cases", ids, vectors, metadata)
    rng = np.random.default_rng(3)
    for filters, restricted in FILTER_CASES:
        restrict_to = ids[::2] if restricted else None
        query = rng.standard_normal(24)
        embedded, pg = (
            index.search("cases", query, 15, filters=filters, restrict_to=restrict_to)
            for index in backends
        )
        assert [hit.id for hit in embedded] == [hit.id for hit in pg]
        np.testing.assert_allclose([h.score for h in embedded], [h.score for h in pg], atol=1e-5)
        assert [hit.metadata for hit in embedded] == [hit.metadata for hit in pg]
    for index in backends:
        index.close()


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        # q = (1, 0): cos a=1, b=1/√2, c=0, d=-1
        ("cosine", [("a", 1.0), ("b", 2**-0.5), ("c", 0.0), ("d", -1.0)]),
        # inner products with q: a=2, b=3, c=0, d=-1 (b, unnormalised, beats a)
        ("ip", [("b", 3.0), ("a", 2.0), ("c", 0.0), ("d", -1.0)]),
        # Euclidean distances to q: a=1, b=√13, c=√2, d=2
        ("l2", [("a", -1.0), ("c", -(2**0.5)), ("d", -2.0), ("b", -(13**0.5))]),
    ],
)
def test_metrics_by_hand(
    make_index: MakeIndex, metric: str, expected: list[tuple[str, float]]
) -> None:
    index = make_index()
    index.create_collection(
        CollectionSpec(name="tiny", embedder_id="e", dimension=2, metric=metric)  # type: ignore[arg-type,unused-ignore]
    )
    vectors = np.array([[2, 0], [3, 3], [0, 1], [-1, 0]], dtype=np.float32)
    index.upsert("tiny", ["a", "b", "c", "d"], vectors)
    hits = index.search("tiny", np.array([1.0, 0.0]), 4)
    assert [hit.id for hit in hits] == [id_ for id_, _ in expected]
    np.testing.assert_allclose([hit.score for hit in hits], [s for _, s in expected], atol=1e-6)
