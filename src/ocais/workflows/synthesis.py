"""Synthesize-to-folder: synthetic patients from real cases or from the knowledge base, written
as Phenopacket v2 files with the one manifest (:func:`ocais.synth.manifest.synthetic_manifest`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocais.errors import ConfigError, UnknownDiseaseError
from ocais.schemas import Case
from ocais.synth.generate import SynthOptions, annotated_diseases, from_cases, from_knowledge
from ocais.synth.manifest import synthetic_manifest
from ocais.synth.phenopackets import check_out_dir, write_phenopackets
from ocais.workflows.services import Services

#: (task, done, total) progress callback
Progress = Callable[[str, int, int | None], None]


@dataclass
class Synthesis:
    """What a synthesis wrote: the cases, the manifest (and its path), and how it went."""

    cases: list[Case]
    manifest_path: Path
    manifest: dict[str, Any]
    seconds: float
    n_source_cases: int = 0
    n_skipped: int = 0
    disease_ids: list[str] = field(default_factory=list)

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.manifest.get("parameters") or {})


def read_labelled(
    services: Services, path: Path, what: str, progress: Progress | None = None
) -> tuple[list[Case], int]:
    """Cases with a confirmed diagnosis under ``path`` and the number of records skipped.

    Raises ``ConfigError`` when the path is missing or holds no usable case."""
    from ocais.evaluate.benchmark import read_cases

    if not path.exists():
        raise ConfigError(f"{what} {path} does not exist", hint="pass a phenopacket folder or file")
    cases, skipped = read_cases(
        path, services.knowledge, workers=services.settings.workers, progress=progress
    )
    if not cases:
        raise ConfigError(
            f"{what} {path} holds no phenopacket with a confirmed diagnosis "
            f"({len(skipped)} records skipped)",
            hint="point to phenopackets whose interpretation is SOLVED",
        )
    return cases, len(skipped)


def synthesize_from_cases(
    services: Services,
    source: Path,
    out: Path,
    options: SynthOptions,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Synthesis:
    """Patients drawn from per-disease profiles counted from the real cases under ``source``."""
    check_out_dir(out, overwrite=overwrite)
    kb = services.knowledge
    real, n_skipped = read_labelled(services, source, "source", progress)
    started = time.perf_counter()
    cases = from_cases(real, kb, options, source=str(source), progress=progress)
    seconds = time.perf_counter() - started
    if not cases:
        raise ConfigError(
            "no synthetic patient was generated (every draw was too close to a source case "
            "or every disease was left out)",
            hint="lower --min-cases or use a source with more cases per disease",
        )
    params = cases[0].provenance.parameters
    manifest = synthetic_manifest(
        cases,
        kb,
        options,
        generator="from-cases",
        source={
            "path": str(source),
            "cases_sha256": params.get("source_sha256"),
            "n_cases": len(real),
            "n_skipped": n_skipped,
        },
    )
    path = write_phenopackets(cases, out, manifest, overwrite=overwrite)
    return Synthesis(cases, path, manifest, seconds, len(real), n_skipped)


def synthesize_from_knowledge(
    services: Services,
    diseases: list[str] | None,
    out: Path,
    options: SynthOptions,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Synthesis:
    """Patients of annotated diseases (``None``: every one) from the HPO annotations alone."""
    check_out_dir(out, overwrite=overwrite)
    kb = services.knowledge
    ids = annotated_diseases(kb) if diseases is None else list(dict.fromkeys(diseases))
    unknown = [d for d in ids if not kb.has_disease(d)]
    if unknown:
        raise UnknownDiseaseError(
            f"unknown disease id{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)}: not annotated in HPO {kb.version}",
            hint="use OMIM:…, ORPHA:… or DECIPHER:… ids of annotated diseases "
            "(`ocais knowledge disease ID` shows one)",
        )
    started = time.perf_counter()
    cases = from_knowledge(ids, kb, options, progress=progress)
    seconds = time.perf_counter() - started
    params = dict(cases[0].provenance.parameters) if cases else {}
    manifest = synthetic_manifest(
        cases,
        kb,
        options,
        generator="from-knowledge",
        source={
            "annotations": kb.release.get("annotations_version", kb.version),
            "content_hash": params.get("source_sha256"),
            "diseases": "all" if diseases is None else ids,
        },
    )
    path = write_phenopackets(cases, out, manifest, overwrite=overwrite)
    return Synthesis(cases, path, manifest, seconds, disease_ids=ids)
