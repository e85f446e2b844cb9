"""Use cases of genomic data: simulate a benchmark set of phenopackets with VCFs beside them
(:mod:`ocais.genomic.simulate`). Shells (the CLI) call these."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ocais.genomic.simulate import SimulationSummary, simulate_set

__all__ = ["SimulationSummary", "simulate_genomic_set"]


def simulate_genomic_set(
    source: Path,
    out: Path,
    *,
    decoys: int = 100,
    background: int = 0,
    seed: int = 0,
    limit: int | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationSummary:
    """Write each phenopacket of ``source`` (folder, ``.json`` or archive) that has a variant
    as ``out/<cohort>/<id>.json`` without its genomic interpretations, its causal variants
    with ``decoys`` decoys and ``background`` random variants in ``<id>.vcf.gz`` beside it,
    and ``out/ocais-simulation.json`` (the returned summary); seeded by ``seed``."""
    return simulate_set(
        source,
        out,
        decoys=decoys,
        background=background,
        seed=seed,
        limit=limit,
        overwrite=overwrite,
        progress=progress,
    )
