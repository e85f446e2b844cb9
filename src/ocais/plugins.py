"""Entry-point registries, shared by every extension point (readers, embedders, predictors).

Built-in implementations are registered exactly like a third-party plugin's — an entry point in
the group — and chosen by name in settings or on the command line.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from ocais.errors import ConfigError


def registered(group: str) -> dict[str, Any]:
    """The factories (classes or callables) of an entry-point group, by name."""
    return {entry.name: entry.load() for entry in entry_points(group=group)}


def choose(kind: str, name: str, factories: Mapping[str, Any]) -> Any:
    """``factories[name]``, or a :class:`ConfigError` that lists the names there are."""
    if name not in factories:
        raise ConfigError(
            f"unknown {kind} {name!r}", hint="choose one of: " + ", ".join(sorted(factories))
        )
    return factories[name]


def parameters(factory: Any) -> Mapping[str, inspect.Parameter]:
    """The parameters a factory takes (none known for callables without a signature)."""
    try:
        return inspect.signature(factory).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return {}
