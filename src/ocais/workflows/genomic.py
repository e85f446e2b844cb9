"""Use cases of genomic data: simulate a benchmark set of phenopackets with VCFs beside them.

``simulate_genomic_set`` is :func:`ocais.genomic.simulate.simulate_set` (same arguments): each
phenopacket of the source that has a variant is written as ``out/<cohort>/<id>.json`` without
its genomic interpretations, with its causal variants, decoys and background variants in
``<id>.vcf.gz`` beside it, and ``out/ocais-simulation.json`` holds the returned summary. Shells
(the CLI) call it from here.
"""

from __future__ import annotations

from ocais.genomic.simulate import SimulationSummary
from ocais.genomic.simulate import simulate_set as simulate_genomic_set

__all__ = ["SimulationSummary", "simulate_genomic_set"]
