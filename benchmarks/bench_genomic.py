"""Time per case of the ``genomic`` predictor with a 100-variant and a 50,000-variant VCF.

Usage: python benchmarks/bench_genomic.py [--cases 50] [--background 50000] [--seed 0]
       [--source ../shared/data/phenopacket-store/dev.tar.gz]

Builds two sets of the first ``--cases`` shared phenopackets with ``ocais genomic simulate``
(each case's causal variants + 100 decoys; the second set adds ``--background`` exome-like
variants) and times, per case, in one process after warm-up: the phenotype ranker; the VCF
read alone (pysam, a cold read: the predictor's file cache is emptied before each case); and
``GenomicRanker.predict`` end to end (read + genotype scoring + ranking + evidence), cold.
Prints one JSON object (p50/p95 ms and the VCF sizes); figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared/data/phenopacket-store/dev.tar.gz"


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered), 2), "p95_ms": round(p95, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--background", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from ocais.config import load_settings
    from ocais.evaluate.benchmark import read_cases
    from ocais.genomic.simulate import simulate_set
    from ocais.genomic.vcf import read_vcf
    from ocais.ingest.base import local_file
    from ocais.knowledge import load_knowledge
    from ocais.predict.genomic import GenomicRanker
    from ocais.predict.phenotype import PhenotypeRanker

    settings = load_settings()
    kb = load_knowledge(settings.resolved_hpo_dir, settings.resolved_cache_dir)
    phenotype, genomic = PhenotypeRanker(kb), GenomicRanker(kb)
    root = Path(tempfile.mkdtemp(prefix="bench-genomic-"))
    figures: dict[str, Any] = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "cases": args.cases,
    }
    for label, background in (("vcf_100", 0), (f"vcf_{args.background}", args.background)):
        out = root / label
        summary = simulate_set(
            args.source, out, decoys=100, background=background, seed=args.seed, limit=args.cases
        )
        cases, _ = read_cases(out, kb)
        files = [c.genomics.files[0] for c in cases if c.genomics and c.genomics.files]
        sizes = [p.stat().st_size for f in files if (p := local_file(f.uri)) is not None]
        records = (
            summary.variants_written["causal"]
            + summary.variants_written["decoy"]
            + summary.variants_written["background"]
        ) / max(len(cases), 1)
        genomic.predict(cases[0])  # warm-up: gene table, genotype model, term caches
        phenotype.predict(cases[0])
        timings: dict[str, list[float]] = {"phenotype": [], "read_vcf": [], "genomic": []}
        for case in cases:
            file = case.genomics.files[0] if case.genomics else None
            start = time.perf_counter()
            phenotype.predict(case)
            timings["phenotype"].append(1000 * (time.perf_counter() - start))
            if file is not None and (path := local_file(file.uri)) is not None:
                start = time.perf_counter()
                read_vcf(path, sample=file.sample)
                timings["read_vcf"].append(1000 * (time.perf_counter() - start))
            genomic._vcfs.clear()  # cold: the file is read again
            start = time.perf_counter()
            genomic.predict(case)
            timings["genomic"].append(1000 * (time.perf_counter() - start))
        figures[label] = {
            "records_per_vcf": round(records),
            "vcf_kb_median": round(statistics.median(sizes) / 1024, 1) if sizes else None,
            **{name: _percentiles(values) for name, values in timings.items() if values},
        }
        print(json.dumps({label: figures[label]}), file=sys.stderr, flush=True)
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
