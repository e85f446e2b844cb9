"""Embedders are chosen by name through the ``ocais.embedders`` entry points."""

from __future__ import annotations

import pytest

from ocais.errors import ConfigError
from ocais.knowledge import KnowledgeBase
from ocais.search.embedders import PhenotypeEmbedder
from ocais.search.registry import available_embedders, create_embedder


def test_built_in_embedders_are_registered_like_plugins() -> None:
    assert {"phenotype", "minilm", "openai"} <= set(available_embedders())


def test_create_embedder_by_name_with_options(tiny_kb: KnowledgeBase) -> None:
    embedder = create_embedder("phenotype", tiny_kb, dimension=32)
    assert isinstance(embedder, PhenotypeEmbedder) and embedder.dimension == 32
    with pytest.raises(ConfigError, match="unknown embedder 'nope'") as caught:
        create_embedder("nope", tiny_kb)
    assert "phenotype" in (caught.value.hint or "")
    with pytest.raises(ConfigError, match="invalid options for embedder 'phenotype'"):
        create_embedder("phenotype", tiny_kb, colour="blue")
