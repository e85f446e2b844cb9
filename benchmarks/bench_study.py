"""Time and answer of a comparative-effectiveness study on a generated population: write it as
FHIR NDJSON (tests/research/population.py: true HR 0.6, measured confounding), import it with
`ocais ingest DIR --format fhir`, run `ocais study run` for each method.

Usage: python benchmarks/bench_study.py [--n 10000] [--seed 0]

Prints one JSON object (import seconds, and per method: seconds, naive and adjusted HR with CI,
diagnostics); figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.research.population import study_yaml, write_population

OCAIS = str(Path(sys.executable).parent / "ocais")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-study-"))
    env = dict(os.environ, OCAIS_DATA_DIR=str(root / "data"))
    truth = write_population(root / "fhir", n=args.n, true_hr=0.6, seed=args.seed)
    start = time.perf_counter()
    subprocess.run(
        [OCAIS, "ingest", str(root / "fhir"), "--format", "fhir"],
        env=env,
        check=True,
        capture_output=True,
    )
    figures: dict[str, object] = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "truth": truth,
        "import_s": round(time.perf_counter() - start, 1),
    }
    for method in ("iptw", "ps-match", "ps-stratify"):
        definition = root / f"{method}.yaml"
        definition.write_text(study_yaml(method), encoding="utf-8")
        start = time.perf_counter()
        done = subprocess.run(
            [OCAIS, "--json", "study", "run", str(definition), "--out", str(root / method)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(done.stdout)
        diagnostics = result["diagnostics"]
        figures[method] = {
            "seconds": round(time.perf_counter() - start, 1),
            "naive": [round(v, 3) for v in [result["naive"]["hr"], *result["naive"]["ci"]]],
            "adjusted": None
            if result["estimate"] is None
            else [round(v, 3) for v in [result["estimate"]["hr"], *result["estimate"]["ci"]]],
            "passed": diagnostics["passed"],
            "max_smd": [
                round(diagnostics["max_smd_before"], 3),
                round(diagnostics["max_smd_after"], 3),
            ],
            "equipoise": round(diagnostics["equipoise"], 3),
            "ease": diagnostics["ease"] and round(diagnostics["ease"], 3),
        }
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
