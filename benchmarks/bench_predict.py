"""Speed benchmark of the predictors: one case at a time and in batch, on one core.

Usage: python benchmarks/bench_predict.py [PHENOPACKETS] [--predictor NAME ...] [--hpo-dir DIR]

Single-case latency is the median over all cases of ranking every disease for one case
(`score_cases([case])`, the cost of `predict` without building the evidence) and of a full
`predict(case, top_k=10)` with evidence and next-phenotype questions. Batch throughput is
`score_cases` over all cases at once. Thread pools are pinned to one core (set before numpy
loads). Prints one JSON object; figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

DEFAULT_SOURCE = Path(__file__).resolve().parents[1].parent / (
    "shared/data/phenopacket-store/dev.tar.gz"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--predictor", nargs="+", default=["phenotype", "resnik"])
    parser.add_argument("--hpo-dir", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N cases")
    args = parser.parse_args()

    from ocais.config import load_settings
    from ocais.ingest import ReaderContext
    from ocais.ingest.phenopacket import PhenopacketReader
    from ocais.knowledge import load_knowledge
    from ocais.predict.base import create_predictor
    from ocais.schemas import Case

    settings = load_settings(**({"hpo_dir": args.hpo_dir} if args.hpo_dir else {}))
    kb = load_knowledge(settings.resolved_hpo_dir, settings.resolved_cache_dir)
    reader = PhenopacketReader(ReaderContext(terms=kb))
    cases = [c for c in reader.read(args.source) if isinstance(c, Case)]
    if args.limit:
        cases = cases[: args.limit]
    figures: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (1 used), "
        f"Python {platform.python_version()}",
        "hpo_version": kb.version,
        "cases": len(cases),
    }
    for name in args.predictor:
        started = time.perf_counter()
        predictor = create_predictor(name, kb)
        build_s = time.perf_counter() - started
        scorer = getattr(predictor, "score_cases", None)
        if scorer is not None:
            scorer(cases[:50])  # warm the per-term caches the way a running service has them
        single = []
        for case in cases:
            t0 = time.perf_counter()
            scorer([case]) if scorer is not None else predictor.predict(case, 10)
            single.append((time.perf_counter() - t0) * 1000)
        full = []
        for case in cases[:1000]:
            t0 = time.perf_counter()
            predictor.predict(case, 10)
            full.append((time.perf_counter() - t0) * 1000)
        batch_s = float("nan")
        if scorer is not None:
            t0 = time.perf_counter()
            scorer(cases)
            batch_s = time.perf_counter() - t0
        single.sort()
        figures[name] = {
            "build_s": round(build_s, 3),
            "rank_all_median_ms": round(statistics.median(single), 3),
            "rank_all_p99_ms": round(single[int(0.99 * (len(single) - 1))], 3),
            "predict_with_evidence_median_ms": round(statistics.median(full), 3),
            "batch_cases_per_s": round(len(cases) / batch_s, 1),
            "n_diseases": len(getattr(predictor, "disease_ids", [])),
        }
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
