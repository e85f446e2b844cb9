"""Embedder registry: built-in embedders are registered exactly like plugins, through the
``ocais.embedders`` entry-point group, and chosen by name in settings (``OCAIS_SEARCH_EMBEDDER``).
"""

from __future__ import annotations

from typing import Any

from ocais.errors import ConfigError
from ocais.knowledge import KnowledgeBase
from ocais.plugins import choose, parameters, registered
from ocais.search.base import Embedder

ENTRY_POINT_GROUP = "ocais.embedders"


def available_embedders() -> dict[str, Any]:
    """Embedder classes (or factories) by name, from every installed distribution."""
    return registered(ENTRY_POINT_GROUP)


def create_embedder(name: str, knowledge: KnowledgeBase, **options: Any) -> Embedder:
    """Build a registered embedder. A factory with a ``knowledge`` parameter gets the knowledge
    base; unknown names and options raise :class:`~ocais.errors.ConfigError`."""
    factory = choose("embedder", name, available_embedders())
    try:
        if "knowledge" in parameters(factory):
            embedder: Embedder = factory(knowledge, **options)
        else:
            embedder = factory(**options)
    except TypeError as exc:
        raise ConfigError(f"invalid options for embedder {name!r}: {exc}") from exc
    return embedder
