"""Load benchmark of the web service: predictions per second, latency and server memory.

Usage: python benchmarks/bench_serve.py [PHENOPACKETS] [--requests N] [--concurrency C]
       [--workers W] [--max-seconds S] [--top-k K]

Starts ``ocais serve`` (uvicorn, W workers, 127.0.0.1, a free port, a temporary store; the
installation's knowledge and its compiled cache) in a subprocess, creates a clinician with an API
key, then sends bounded load from this process: C keep-alive HTTP/1.1 connections (asyncio, a
minimal client so that the load generator costs little CPU on the same machine) posting
``/api/v1/predict`` with the HPO terms, sex and age of the shared phenopackets — each case's real
term set. Three phases, each at most N requests and S seconds:

* ``warmup`` — not reported: fills the predictors' per-term caches as in a running service;
* ``distinct`` — every request a different case (no two inputs alike: the prediction cache
  never answers) — the honest figure;
* ``repeated`` — requests drawn from 200 cases (the prediction cache answers most).

Reports predictions/s, p50/p99 latency, the server's CPU time per request (a figure that other
load on a shared machine does not change) and its peak RSS (all worker processes), then stops
the server. Every request goes to 127.0.0.1 only. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

DEFAULT_SOURCE = Path(__file__).resolve().parents[1].parent / (
    "shared/data/phenopacket-store/dev.tar.gz"
)
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def load_bodies(source: Path, top_k: int) -> list[bytes]:
    """One predict request body per phenopacket with at least one observed term."""
    from ocais.ingest import ReaderContext
    from ocais.ingest.phenopacket import PhenopacketReader
    from ocais.schemas import Case

    bodies = []
    for case in PhenopacketReader(ReaderContext()).read(source):
        if not isinstance(case, Case) or not case.observed:
            continue
        body = {
            "case": {
                "phenotypes": [{"id": p.id, "excluded": p.excluded} for p in case.phenotypes],
                "sex": case.subject.sex.value,
                "age_years": case.subject.age_years,
            },
            "top_k": top_k,
        }
        bodies.append(json.dumps(body).encode())
    return bodies


def make_user(store_url: str) -> str:
    from ocais.serve.accounts import Accounts
    from ocais.store import Repository
    from ocais.store.service_repo import ServiceRepository

    with Repository.open(store_url) as repo:
        accounts = Accounts(ServiceRepository(repo.engine))
        accounts.add_user("bench", "clinician")
        return accounts.issue_key("bench")[1]


def server_command(port: int, workers: int) -> list[str]:
    """``ocais serve`` if this installation has it, else the same app through uvicorn."""
    ocais = shutil.which("ocais", path=str(Path(sys.executable).parent)) or "ocais"
    probe = subprocess.run([ocais, "serve", "--help"], capture_output=True, check=False)
    if probe.returncode == 0:
        return [ocais, "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "ocais.serve.app:app_from_env",
        "--factory",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
    ]


def wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1) as sock:
                sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not become ready")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (the server and its workers)."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


class RssSampler(threading.Thread):
    """Peak resident memory of the server process and its children (the workers)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.root = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def current(self) -> int:
        import psutil

        total = 0
        for proc in [self.root, *self.root.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        return total

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.current())
            self.stop.wait(0.2)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


async def run_phase(
    port: int, key: str, bodies: list[bytes], concurrency: int, max_seconds: float
) -> dict[str, Any]:
    """Send ``bodies`` over ``concurrency`` connections; stop at the end or after max_seconds."""
    queue = iter(bodies)
    latencies: list[float] = []
    errors: dict[int, int] = {}
    deadline = time.perf_counter() + max_seconds
    prefix = (
        f"POST /api/v1/predict HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
    ).encode()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            for body in queue:
                if time.perf_counter() > deadline:
                    break
                request = prefix + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
                started = time.perf_counter()
                writer.write(request)
                status, _ = await _read_response(reader)
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    errors[status] = errors.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)

    def quantile(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "predictions_per_s": round((len(latencies) - sum(errors.values())) / elapsed, 1),
        "p50_ms": quantile(0.50),
        "p99_ms": quantile(0.99),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--requests", type=int, default=3000, help="per phase (at most)")
    parser.add_argument("--warmup", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="per phase (at most)")
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from ocais.config import load_settings

    installed = load_settings()  # the knowledge this installation serves, and its cache
    bodies = load_bodies(args.source, args.top_k)
    random.Random(args.seed).shuffle(bodies)
    warm = bodies[: args.warmup]
    distinct = bodies[args.warmup : args.warmup + args.requests]
    hot = bodies[args.warmup : args.warmup + 200]
    repeated = [random.Random(args.seed + 1).choice(hot) for _ in range(args.requests)]

    work = Path(tempfile.mkdtemp(prefix="ocais-bench-serve-"))
    store_url = f"sqlite:///{work / 'ocais.db'}"
    env = {
        **os.environ,
        "OCAIS_DATA_DIR": str(work),
        "OCAIS_STORE_URL": store_url,
        "OCAIS_CACHE_DIR": str(installed.resolved_cache_dir),
        "OCAIS_SERVE_RATE_LIMIT_PER_MINUTE": "100000000",
        "OCAIS_SERVE_RATE_LIMIT_BURST": "100000",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    if installed.resolved_hpo_dir is not None:
        env["OCAIS_HPO_DIR"] = str(installed.resolved_hpo_dir)
    key = make_user(store_url)
    port = free_port()
    command = server_command(port, args.workers)
    log = (work / "server.log").open("wb")  # a file, not a pipe: a full pipe would block it
    process = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    results: dict[str, Any] = {}
    try:
        started = time.perf_counter()
        wait_ready(port, process)
        startup_s = round(time.perf_counter() - started, 2)
        sampler = RssSampler(process.pid)
        idle_rss = sampler.current()
        sampler.start()
        for name, phase in (("warmup", warm), ("distinct", distinct), ("repeated", repeated)):
            server_cpu, client_cpu = cpu_seconds(process.pid), time.process_time()
            result = asyncio.run(run_phase(port, key, phase, args.concurrency, args.max_seconds))
            n = max(1, result["requests"])
            # CPU per request does not depend on what else runs on the machine (shared CI)
            result["server_cpu_ms_per_request"] = round(
                (cpu_seconds(process.pid) - server_cpu) * 1000 / n, 2
            )
            result["client_cpu_ms_per_request"] = round(
                (time.process_time() - client_cpu) * 1000 / n, 2
            )
            results[name] = result
        sampler.stop.set()
        sampler.join()
    except BaseException:
        log.flush()
        sys.stderr.write((work / "server.log").read_text(errors="replace")[-4000:])
        raise
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
    from ocais.store import Repository
    from ocais.store.service_repo import ServiceRepository

    with Repository.open(store_url) as repo:
        stored = ServiceRepository(repo.engine).count_predictions()
    shutil.rmtree(work, ignore_errors=True)
    del results["warmup"]
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()} (server and load generator on the same machine)",
        "command": " ".join(command[:2]) + f" ... --workers {args.workers}",
        "cases_available": len(bodies),
        "concurrency": args.concurrency,
        "top_k": args.top_k,
        "server_startup_s": startup_s,
        "server_rss_mb": {"idle": round(idle_rss / 2**20), "peak": round(sampler.peak / 2**20)},
        "predictions_stored": stored,
        **results,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
