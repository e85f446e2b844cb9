"""Speed benchmark of synthetic-patient generation (case-driven and knowledge-driven).

Usage: python benchmarks/bench_synth.py [PHENOPACKETS] [--multiplier M] [--repeat R]
       [--knowledge-diseases N] [--hpo-dir DIR]

Case-driven: counts the profiles of every diagnosis in PHENOPACKETS (default: the shared
phenopacket-store cases) and draws ``M`` synthetic patients per source case, with the noise model
and the copy guard against the source cases; the rate counts everything from the already-read
cases to the list of ``Case`` objects (profiles included). Knowledge-driven: 100 patients for
each of ``N`` annotated diseases. Writing: the case-driven set written as Phenopacket v2 files.
Best of ``R`` runs, one core. Prints one JSON object; figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

DEFAULT_SOURCE = Path(__file__).resolve().parents[1].parent / (
    "shared/data/phenopacket-store/dev.tar.gz"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--multiplier", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--knowledge-diseases", type=int, default=200)
    parser.add_argument("--hpo-dir", type=Path, default=None)
    args = parser.parse_args()

    from ocais.config import load_settings
    from ocais.evaluate.benchmark import read_cases
    from ocais.knowledge import load_knowledge
    from ocais.synth.generate import SynthOptions, annotated_diseases, from_cases, from_knowledge
    from ocais.synth.phenopackets import write_phenopackets

    settings = load_settings(**({"hpo_dir": args.hpo_dir} if args.hpo_dir else {}))
    kb = load_knowledge(settings.resolved_hpo_dir, settings.resolved_cache_dir)
    cases, _ = read_cases(args.source, kb)
    options = SynthOptions(multiplier=args.multiplier)
    from_cases(cases[:50], kb, options)  # warm caches (term masks, parents)

    def best(run):  # type: ignore[no-untyped-def]
        times, result = [], None
        for _ in range(args.repeat):
            started = time.perf_counter()
            result = run()
            times.append(time.perf_counter() - started)
        return min(times), result

    seconds, synthetic = best(lambda: from_cases(cases, kb, options))
    diseases = annotated_diseases(kb)[: args.knowledge_diseases]
    k_seconds, k_cases = best(lambda: from_knowledge(diseases, kb, SynthOptions(per_disease=100)))
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        write_phenopackets(synthetic, Path(tmp) / "out", {"generator": "from-cases"})
        w_seconds = time.perf_counter() - started
    figures = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (1 used), "
        f"Python {platform.python_version()}",
        "hpo_version": kb.version,
        "source_cases": len(cases),
        "from_cases": {
            "cases": len(synthetic),
            "seconds": round(seconds, 3),
            "cases_per_s": round(len(synthetic) / seconds),
        },
        "from_knowledge": {
            "diseases": len(diseases),
            "cases": len(k_cases),
            "seconds": round(k_seconds, 3),
            "cases_per_s": round(len(k_cases) / k_seconds),
        },
        "write_phenopackets": {
            "cases": len(synthetic),
            "seconds": round(w_seconds, 3),
            "cases_per_s": round(len(synthetic) / w_seconds),
        },
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
