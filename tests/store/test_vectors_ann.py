"""The ANN path of both backends (recall vs exact, planner, fallback) and the embedded files
(persistence, crash leftovers, segments, compaction, writer lock), and the factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ocais.errors import StoreError
from ocais.store.vectors import VectorIndexOptions, open_vector_index, vector_dir
from ocais.store.vectors import embedded_files as files
from ocais.store.vectors.embedded import EmbeddedVectorIndex
from ocais.store.vectors.planner import plan_search
from tests.store.test_vectors import MakeIndex, make_index, random_rows, spec_for

__all__ = ["make_index"]  # the fixture, shared with the contract tests

ANN_OPTIONS: dict[str, Any] = {
    "exact_threshold": 2000,
    "hnsw_m": 16,
    "hnsw_ef_construction": 64,
    "ef_search": 80,
    "auto_index": False,
}


def recall(got: list[str], expected: list[str]) -> float:
    return len(set(got) & set(expected)) / max(1, len(expected))


RECALL_FILTERS: list[dict[str, Any] | None] = [
    None,  # all rows: ANN
    {"sex": "F"},  # ~50%: ANN
    {"site": ["a", "b", "c"], "synthetic": False},  # ~47%: ANN
    {"age": list(range(10))},  # ~11%: ANN with a raised ef_search
    {"site": "d", "age": list(range(20))},  # ~5%, ~1,000 rows: exact
]


def test_ann_recall_against_exact(make_index: MakeIndex) -> None:
    """20,000 × 32 random vectors above a lowered exact threshold: recall@10 ≥ 0.95."""
    index = make_index(**ANN_OPTIONS)
    index.create_collection(spec_for(dimension=32))
    ids, vectors, metadata = random_rows(20_000, 32, seed=1)
    for start in range(0, len(ids), 5000):
        stop = start + 5000
        index.upsert("cases", ids[start:stop], vectors[start:stop], metadata[start:stop])
    assert index.plan("cases", 10).method == "exact"  # no index yet (auto_index off)
    index.build_index("cases")
    methods = []
    for filters in RECALL_FILTERS:
        plan = index.plan("cases", 10, filters=filters)
        methods.append(plan.method)
        if plan.method == "ann":
            assert plan.ef_search >= ANN_OPTIONS["ef_search"] / plan.selectivity - 1
        rng = np.random.default_rng(11)
        recalls = []
        for _ in range(30):
            query = rng.standard_normal(32)
            exact = index.search("cases", query, 10, filters=filters, exact=True)
            approx = index.search("cases", query, 10, filters=filters)
            assert len(approx) == len(exact) == 10
            recalls.append(recall([h.id for h in approx], [h.id for h in exact]))
            by_id = {hit.id: hit.score for hit in exact}
            for hit in approx:  # ANN hits carry exact scores
                if hit.id in by_id:
                    assert hit.score == pytest.approx(by_id[hit.id], abs=1e-5)
        assert float(np.mean(recalls)) >= 0.95, (filters, recalls)
    assert methods == ["ann", "ann", "ann", "ann", "exact"]


def test_correlated_filter_falls_back_to_exact(make_index: MakeIndex) -> None:
    """Rows passing the filter are all far from the query: post-filtered ANN finds none."""
    index = make_index(**ANN_OPTIONS)
    index.create_collection(spec_for(dimension=8))
    rng = np.random.default_rng(5)
    near = rng.standard_normal((3000, 8)) * 0.1 + 5.0
    far = rng.standard_normal((3000, 8)) * 0.1 - 5.0
    vectors = np.vstack([near, far]).astype(np.float32)
    ids = [f"r{i}" for i in range(6000)]
    metadata = [{"sex": "F" if i < 3000 else "M"} for i in range(6000)]
    index.upsert("cases", ids, vectors, metadata)
    index.build_index("cases")
    query = np.full(8, 5.0)
    assert index.plan("cases", 10, filters={"sex": "M"}).method == "ann"
    approx = index.search("cases", query, 10, filters={"sex": "M"})
    exact = index.search("cases", query, 10, filters={"sex": "M"}, exact=True)
    assert [hit.id for hit in approx] == [hit.id for hit in exact]
    assert all(hit.metadata["sex"] == "M" for hit in approx)


def test_planner_rules() -> None:
    options = VectorIndexOptions(exact_threshold=100, ef_search=40, max_ef_search=500)

    def plan(matching: int, *, has_index: bool = True, exact: bool = False) -> Any:
        return plan_search(
            total_rows=10_000,
            matching_rows=matching,
            k=10,
            options=options,
            has_index=has_index,
            exact=exact,
        )

    assert plan(50).method == "exact"
    assert plan(9000, has_index=False).reason == "the collection has no ANN index yet"
    assert plan(10_000, exact=True).method == "exact"
    assert (plan(10_000).method, plan(10_000).ef_search) == ("ann", 40)
    assert (plan(5000).method, plan(5000).ef_search) == ("ann", 80)  # 40 / 50%
    assert (plan(500).method, plan(500).ef_search) == ("ann", 500)  # 800, capped
    assert plan(300).method == "exact"  # 20 / 3% = 667 candidates > 500
    assert "max_ef_search" in plan(300).reason


# -- embedded files ------------------------------------------------------------------------------


def test_embedded_reopens_from_disk(tmp_path: Path) -> None:
    options = VectorIndexOptions(**(ANN_OPTIONS | {"auto_index": True, "index_tail_rows": 500}))
    index = EmbeddedVectorIndex(tmp_path, options)
    index.create_collection(spec_for(dimension=32))
    ids, vectors, metadata = random_rows(6000, 32, seed=2)
    for start in range(0, 6000, 700):  # many segments; the index is built then extended
        stop = start + 700
        index.upsert("cases", ids[start:stop], vectors[start:stop], metadata[start:stop])
    index.delete("cases", ids[:50])
    query = np.random.default_rng(0).standard_normal(32)
    before = index.search("cases", query, 10, filters={"sex": "F"})
    manifest = files.read_manifest(tmp_path / "cases")
    assert manifest.ann is not None and manifest.ann.rows >= 5000
    assert len(manifest.segments) <= 5  # merged as it grew
    reopened = EmbeddedVectorIndex(tmp_path, options)
    assert reopened.search("cases", query, 10, filters={"sex": "F"}) == before
    assert reopened.count("cases") == 5950
    assert reopened.plan("cases", 10).method == "ann"


def test_embedded_rows_added_after_the_index_are_found(tmp_path: Path) -> None:
    """Rows written after the HNSW build (the tail) are searched exactly and merged; replaced
    rows are skipped inside the graph traversal."""
    index = EmbeddedVectorIndex(tmp_path, VectorIndexOptions(**ANN_OPTIONS))
    index.create_collection(spec_for(dimension=32))
    ids, vectors, metadata = random_rows(4000, 32, seed=3)
    index.upsert("cases", ids[:3000], vectors[:3000], metadata[:3000])
    index.build_index("cases")
    index.upsert("cases", ids[3000:], vectors[3000:], metadata[3000:])
    moved = vectors[3500] + 0.01  # "case-00010" now sits next to a tail row
    index.upsert("cases", [ids[10]], moved[None, :], [metadata[10]])
    assert index.plan("cases", 10).method == "ann"
    hits = index.search("cases", vectors[3500], 3)
    assert [hit.id for hit in hits[:2]] == [ids[3500], ids[10]]
    assert ids[10] not in [hit.id for hit in index.search("cases", vectors[10], 10)]
    rng = np.random.default_rng(8)
    recalls = []
    for _ in range(20):
        query = rng.standard_normal(32)
        exact = index.search("cases", query, 10, exact=True)
        approx = index.search("cases", query, 10)
        recalls.append(recall([h.id for h in approx], [h.id for h in exact]))
    assert float(np.mean(recalls)) >= 0.95


def test_embedded_ignores_and_removes_crash_leftovers(tmp_path: Path) -> None:
    index = EmbeddedVectorIndex(tmp_path)
    index.create_collection(spec_for())
    ids, vectors, metadata = random_rows(100, 16)
    index.upsert("cases", ids, vectors, metadata)
    directory = tmp_path / "cases"
    # a crash after writing a segment but before the manifest: never referenced
    (directory / "seg-99999999").mkdir()
    (directory / "seg-99999999" / "vectors.npy").write_bytes(b"partial")
    (directory / ".tmp-1234-manifest.json").write_text("{")
    fresh = EmbeddedVectorIndex(tmp_path)
    assert fresh.count("cases") == 100
    fresh.upsert("cases", ["new"], np.ones((1, 16)))
    assert not (directory / "seg-99999999").exists()
    assert not (directory / ".tmp-1234-manifest.json").exists()
    assert fresh.count("cases") == 101


def test_embedded_sees_writes_of_another_instance(tmp_path: Path) -> None:
    reader, writer = EmbeddedVectorIndex(tmp_path), EmbeddedVectorIndex(tmp_path)
    writer.create_collection(spec_for())
    assert reader.count("cases") == 0
    writer.upsert("cases", ["a", "b"], np.ones((2, 16)))
    assert reader.count("cases") == 2
    writer.delete("cases", ["a"])
    assert [hit.id for hit in reader.search("cases", np.ones(16), 5)] == ["b"]


def test_embedded_compaction_keeps_results(tmp_path: Path) -> None:
    index = EmbeddedVectorIndex(tmp_path, VectorIndexOptions(exact_threshold=500))
    index.create_collection(spec_for())
    ids, vectors, metadata = random_rows(3000, 16, seed=4)
    index.upsert("cases", ids, vectors, metadata)
    index.delete("cases", ids[:1500])  # half deleted: compacted automatically
    manifest = files.read_manifest(tmp_path / "cases")
    assert manifest.deleted is None and manifest.rows == 1500
    assert manifest.ann is not None  # rebuilt: 1,500 live rows > exact_threshold
    query = np.random.default_rng(1).standard_normal(16)
    exact = index.search("cases", query, 10, exact=True)
    assert {hit.id for hit in exact} <= set(ids[1500:])
    index.compact("cases")
    assert index.search("cases", query, 10, exact=True) == exact


def test_embedded_writer_lock_times_out(tmp_path: Path) -> None:
    index = EmbeddedVectorIndex(tmp_path, VectorIndexOptions(lock_timeout_s=0.2))
    index.create_collection(spec_for())
    with files.writer_lock(tmp_path / "cases", 1.0), pytest.raises(StoreError, match="writing"):
        index.upsert("cases", ["a"], np.ones((1, 16)))
    assert index.upsert("cases", ["a"], np.ones((1, 16))) == 1


def test_embedded_files_hold_no_pickles(tmp_path: Path) -> None:
    index = EmbeddedVectorIndex(tmp_path)
    index.create_collection(spec_for())
    ids, vectors, metadata = random_rows(50, 16)
    index.upsert("cases", ids, vectors, metadata)
    for path in (tmp_path / "cases").rglob("*.npy"):
        np.load(path, allow_pickle=False)
    segment = next((tmp_path / "cases").glob("seg-*"))
    assert np.load(segment / "vectors.npy", mmap_mode="r").dtype == np.float32


# -- factory -------------------------------------------------------------------------------------


def test_factory_embedded_beside_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'store' / 'ocais.db').as_posix()}"
    assert vector_dir(url, tmp_path / "data") == tmp_path / "store" / "vectors"
    assert vector_dir("sqlite://", tmp_path / "data") == tmp_path / "data" / "vectors"
    index = open_vector_index(url, tmp_path / "data")
    assert isinstance(index, EmbeddedVectorIndex)
    assert index.root == tmp_path / "store" / "vectors"


@pytest.mark.postgres
def test_factory_pgvector_for_postgres(pg_url: str, tmp_path: Path) -> None:
    from ocais.store.vectors.pgvector import PgVectorIndex

    index = open_vector_index(pg_url, tmp_path)
    assert isinstance(index, PgVectorIndex)
    index.create_collection(spec_for())
    assert index.list_collections() == ["cases"]
    index.close()
