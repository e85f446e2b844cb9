"""Embedder registry: built-in embedders are registered exactly like plugins, through the
``ocais.embedders`` entry-point group, and chosen by name in settings (``OCAIS_SEARCH_EMBEDDER``).
"""

from __future__ import annotations

import inspect
from importlib.metadata import entry_points
from typing import Any

from ocais.errors import ConfigError
from ocais.knowledge import KnowledgeBase
from ocais.search.base import Embedder

ENTRY_POINT_GROUP = "ocais.embedders"


def available_embedders() -> dict[str, Any]:
    """Embedder classes (or factories) by name, from every installed distribution."""
    return {e.name: e.load() for e in entry_points(group=ENTRY_POINT_GROUP)}


def create_embedder(name: str, knowledge: KnowledgeBase, **options: Any) -> Embedder:
    """Build a registered embedder. A factory whose first parameter is ``knowledge`` gets the
    knowledge base; unknown names and options raise :class:`~ocais.errors.ConfigError`."""
    factories = available_embedders()
    if name not in factories:
        raise ConfigError(
            f"unknown embedder {name!r}",
            hint="choose one of: " + ", ".join(sorted(factories)),
        )
    factory = factories[name]
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        parameters = {}  # type: ignore[assignment]
    try:
        if "knowledge" in parameters:
            embedder: Embedder = factory(knowledge, **options)
        else:
            embedder = factory(**options)
    except TypeError as exc:
        raise ConfigError(f"invalid options for embedder {name!r}: {exc}") from exc
    return embedder
