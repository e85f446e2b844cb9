"""The embedded vector index after a writer was killed mid-write (SIGKILL leaves its files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ocais.store.vectors.base import CollectionSpec
from ocais.store.vectors.embedded import EmbeddedVectorIndex
from ocais.store.vectors.embedded_files import read_manifest

SPEC = CollectionSpec(name="c", embedder_id="e", dimension=4, metric="cosine")


def test_an_orphan_segment_of_a_killed_writer_does_not_block_later_writes(tmp_path: Path) -> None:
    index = EmbeddedVectorIndex(tmp_path)
    index.create_collection(SPEC)
    index.upsert("c", ["a"], np.array([[1.0, 0, 0, 0]], dtype=np.float32))
    collection = tmp_path / "c"
    generation = read_manifest(collection).generation
    # a writer renamed its segment in, then died before replacing the manifest
    orphan = collection / f"seg-{generation + 1:08d}"
    orphan.mkdir()
    (orphan / "ids.json").write_text('["ghost"]')
    assert index.upsert("c", ["b"], np.array([[0, 1.0, 0, 0]], dtype=np.float32)) == 1
    assert index.count("c") == 2
    hits = index.search("c", np.array([0, 1.0, 0, 0], dtype=np.float32), k=5)
    assert [h.id for h in hits] == ["b", "a"]
    index.close()
