"""Latency of the CDS Hooks service as an EHR sees it: `patient-view` calls with prefetch (the
example chart of /cds-viewer: five findings in SNOMED CT and HPO) against `ocais serve` on
loopback, one at a time.

Usage: python benchmarks/bench_cds.py [--calls 200] [--warmup 10]

Starts `ocais serve` on a temporary data folder with the default knowledge release, waits for it,
sends the calls (each with a new hookInstance), and prints one JSON object with p50/p95/max
latency in ms and the top card's summary; figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

from ocais.workflows.cds import SERVICE_ID, example_request

OCAIS = str(Path(sys.executable).parent / "ocais")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = Path(tempfile.mkdtemp(prefix="bench-cds-"))
    env = dict(os.environ, OCAIS_DATA_DIR=str(data))
    server = subprocess.Popen(
        [OCAIS, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/cds-services/{SERVICE_ID}"
    try:
        with httpx.Client(timeout=60) as client:
            for _ in range(240):
                try:
                    client.get(f"http://127.0.0.1:{port}/api/v1/health")
                    break
                except httpx.HTTPError:
                    time.sleep(0.5)
            took, summary = [], ""
            for i in range(args.warmup + args.calls):
                body = example_request() | {"hookInstance": str(uuid.uuid4())}
                start = time.perf_counter()
                answer = client.post(url, json=body)
                elapsed = (time.perf_counter() - start) * 1000
                answer.raise_for_status()
                summary = answer.json()["cards"][0]["summary"]
                if i >= args.warmup:
                    took.append(elapsed)
    finally:
        server.terminate()
        server.wait(15)
    took.sort()
    print(
        json.dumps(
            {
                "date": datetime.now(UTC).date().isoformat(),
                "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                "calls": len(took),
                "p50_ms": round(statistics.median(took), 1),
                "p95_ms": round(took[int(0.95 * (len(took) - 1))], 1),
                "max_ms": round(took[-1], 1),
                "summary": summary,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
