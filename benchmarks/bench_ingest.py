"""Benchmark: knowledge-base cold/warm load and phenopacket import throughput into SQLite.

Usage: python benchmarks/bench_ingest.py [PHENOPACKETS] [--workers N ...] [--repeat R]

PHENOPACKETS is any phenopacket file, directory or archive (default: the shared dev set).
Each measurement runs in a fresh Python process, so a "warm" load includes nothing but the cache.
Prints one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_SOURCE = Path(__file__).resolve().parents[1].parent / (
    "shared/data/phenopacket-store/dev.tar.gz"
)

KB_PROBE = """
import json, resource, sys, time
from pathlib import Path
started = time.perf_counter()
from ocais.knowledge import load_knowledge
imported = time.perf_counter()
kb = load_knowledge(None, Path(sys.argv[1]))
done = time.perf_counter()
print(json.dumps({"import_s": imported - started, "load_s": done - imported,
                  "terms": len(kb.term_ids), "diseases": len(kb.disease_ids),
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

IMPORT_PROBE = """
import json, resource, sys, time
from pathlib import Path
from ocais.ingest import ReaderContext
from ocais.knowledge import load_knowledge
from ocais.store.importer import import_path
from ocais.store.repository import Repository
source, cache, db, workers = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
kb = load_knowledge(None, cache)
repo = Repository.open(db)
context = ReaderContext(site="bench", terms=kb, workers=workers)
report = import_path(repo, source, context=context, source_format="phenopacket",
                     skip_invalid=True)
again = import_path(repo, source, context=context, source_format="phenopacket",
                    skip_invalid=True)
stats = repo.stats()
print(json.dumps({"cases": report.n_read, "inserted": report.n_inserted,
                  "rejected": report.n_rejected, "seconds": report.seconds,
                  "cases_per_s": report.cases_per_second,
                  "reimport_seconds": again.seconds, "reimport_unchanged": again.n_unchanged,
                  "stored_cases": stats.cases,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_probe(code: str, *args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.source.exists():
        parser.error(f"{args.source} does not exist")
    figures: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "source": str(args.source),
    }
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        figures["knowledge_cold"] = run_probe(KB_PROBE, str(cache))
        warm = [run_probe(KB_PROBE, str(cache)) for _ in range(args.repeat)]
        figures["knowledge_warm"] = min(warm, key=lambda r: r["load_s"])
        imports = {}
        for workers in args.workers:
            runs = []
            for i in range(args.repeat):
                db = f"sqlite:///{Path(tmp) / f'w{workers}-{i}.db'}"
                runs.append(run_probe(IMPORT_PROBE, str(args.source), str(cache), db, str(workers)))
            imports[f"workers={workers}"] = max(runs, key=lambda r: r["cases_per_s"])
        figures["import"] = imports
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
