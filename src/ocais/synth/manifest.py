"""The one manifest of a synthetic set, whoever made it (``ocais synth``, the loop).

``write_phenopackets`` adds what it knows from the files (format, counts, digest, creation); this
adds where the patients came from, how they were drawn and against which knowledge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ocais.knowledge import KnowledgeBase
from ocais.schemas import Case
from ocais.synth.generate import SynthOptions


def knowledge_info(kb: KnowledgeBase) -> dict[str, Any]:
    """The knowledge release a set was drawn against."""
    return {
        "hpo_version": kb.version,
        "annotations_version": kb.release.get("annotations_version"),
        "content_hash": kb.release.get("content_hash"),
    }


def synthetic_manifest(
    cases: Sequence[Case],
    kb: KnowledgeBase,
    options: SynthOptions,
    *,
    generator: str,
    source: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``generator`` (``from-cases`` / ``from-knowledge``), ``dataset_id``, ``source`` (what the
    patients were drawn from, with its digest), the generator's ``parameters`` and ``options``,
    ``knowledge``, and any ``extra`` sections (e.g. ``loop``)."""
    params = dict(cases[0].provenance.parameters) if cases else {}
    return {
        "generator": generator,
        "dataset_id": params.get("dataset_id"),
        "source": source,
        "parameters": params,
        "options": options.model_dump(mode="json"),
        "knowledge": knowledge_info(kb),
        **(extra or {}),
    }
