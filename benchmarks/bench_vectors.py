"""Benchmark of the vector indexes: build time, memory, top-10 latency and recall@10 vs exact.

Usage: python benchmarks/bench_vectors.py [--n 1000000] [--dim 256] [--backend both]
                                          [--queries 200] [--workdir DIR]

Data: N case-like unit vectors from a Gaussian mixture (2,000 clusters of Zipf-like sizes, each a
centre plus a shared 32-dimensional low-rank part plus isotropic noise), with metadata sex,
age_group (10), site (12), synthetic (30%) and a diagnosis code (~5,000 values, 60% tied to the
vector's cluster). Queries are fresh draws from the same mixture. Query kinds:

- ``none``: no filter; ``broad``: sex (≈50%); ``medium``: three age groups, not synthetic
  (≈20%); ``combined``: sex + two age groups + one site (≈1%); ``selective``: the diagnosis most
  common in the query's cluster (≈0.01–2%).

Ground truth is brute force in numpy over the generated data. Each backend is loaded and indexed
in this process; its queries run in a fresh process that opens the index from disk / the
server, so its RSS is what serving costs. PostgreSQL runs in pgserver (in ``--workdir``).
Prints one JSON object; figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

KINDS = ("none", "broad", "medium", "combined", "selective")
AGE_GROUPS = [f"{10 * i:02d}-{10 * i + 9:02d}" for i in range(9)] + ["90+"]
SITES = [f"site{i:02d}" for i in range(12)]
N_CODES = 5000
N_CLUSTERS = 2000
BATCH = 50_000
MAINTENANCE_WORK_MEM = "8GB"


def rss_mb(field: str = "VmRSS") -> float:
    """Current (``VmRSS``) or peak (``VmHWM``) resident memory of this process, in MB.

    (``ru_maxrss`` would carry the parent's peak over ``exec``.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def generate(n: int, dim: int, n_queries: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((N_CLUSTERS, dim)).astype(np.float32)
    basis = (rng.standard_normal((32, dim)) / np.sqrt(32)).astype(np.float32)
    weights = 1.0 / np.arange(1, N_CLUSTERS + 1) ** 0.7
    weights /= weights.sum()
    code_weights = 1.0 / np.arange(1, N_CODES + 1) ** 0.8
    code_weights /= code_weights.sum()
    main_code = rng.choice(N_CODES, size=N_CLUSTERS, p=code_weights)

    def draw(count: int) -> tuple[np.ndarray, np.ndarray]:
        clusters = rng.choice(N_CLUSTERS, size=count, p=weights)
        out = np.empty((count, dim), dtype=np.float32)
        for start in range(0, count, 100_000):
            stop = min(count, start + 100_000)
            low = rng.standard_normal((stop - start, 32)).astype(np.float32) @ basis
            noise = rng.standard_normal((stop - start, dim)).astype(np.float32)
            x = centres[clusters[start:stop]] + 0.8 * low + 0.15 * noise
            out[start:stop] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out, clusters

    vectors, clusters = draw(n)
    queries, query_clusters = draw(n_queries)
    tied = rng.random(n) < 0.6
    diagnosis = np.where(tied, main_code[clusters], rng.choice(N_CODES, size=n, p=code_weights))
    site_weights = 1.0 / np.arange(1, len(SITES) + 1)
    return {
        "vectors": vectors,
        "queries": queries,
        "sex": rng.integers(0, 2, size=n),
        "age": rng.integers(0, len(AGE_GROUPS), size=n),
        "site": rng.choice(len(SITES), size=n, p=site_weights / site_weights.sum()),
        "synthetic": rng.random(n) < 0.3,
        "diagnosis": diagnosis,
        "query_filters": [query_filters(rng, main_code[c]) for c in query_clusters],
    }


def query_filters(rng: np.random.Generator, code: int) -> dict[str, dict[str, Any] | None]:
    ages = rng.choice(len(AGE_GROUPS), size=3, replace=False).tolist()
    return {
        "none": None,
        "broad": {"sex": "FM"[int(rng.integers(2))]},
        "medium": {"age_group": [AGE_GROUPS[a] for a in ages], "synthetic": False},
        "combined": {
            "sex": "FM"[int(rng.integers(2))],
            "age_group": [AGE_GROUPS[a] for a in ages[:2]],
            "site": SITES[int(rng.integers(len(SITES)))],
        },
        "selective": {"diagnosis": f"D{code:04d}"},
    }


def metadata(data: dict[str, Any], start: int, stop: int) -> list[dict[str, Any]]:
    return [
        {
            "sex": "FM"[int(data["sex"][i])],
            "age_group": AGE_GROUPS[int(data["age"][i])],
            "site": SITES[int(data["site"][i])],
            "synthetic": bool(data["synthetic"][i]),
            "diagnosis": f"D{int(data['diagnosis'][i]):04d}",
        }
        for i in range(start, stop)
    ]


def mask_for(data: dict[str, Any], filters: dict[str, Any] | None, lo: int, hi: int) -> Any:
    if not filters:
        return None
    mask = np.ones(hi - lo, dtype=bool)
    for key, wanted in filters.items():
        if key == "sex":
            mask &= data["sex"][lo:hi] == "FM".index(wanted)
        elif key == "age_group":
            mask &= np.isin(data["age"][lo:hi], [AGE_GROUPS.index(a) for a in wanted])
        elif key == "site":
            mask &= data["site"][lo:hi] == SITES.index(wanted)
        elif key == "synthetic":
            mask &= data["synthetic"][lo:hi] == wanted
        else:
            mask &= data["diagnosis"][lo:hi] == int(wanted[1:])
    return mask


def ground_truth(data: dict[str, Any], k: int) -> dict[str, list[list[int]]]:
    """Exact top-k row numbers per kind and query (brute force, chunked)."""
    queries, vectors = data["queries"], data["vectors"]
    best = {kind: [np.zeros(0, np.int64) for _ in queries] for kind in KINDS}
    best_scores = {kind: [np.zeros(0, np.float32) for _ in queries] for kind in KINDS}
    for lo in range(0, len(vectors), 200_000):
        hi = min(len(vectors), lo + 200_000)
        scores = queries @ vectors[lo:hi].T
        for i, filters in enumerate(data["query_filters"]):
            for kind in KINDS:
                row_scores = scores[i]
                mask = mask_for(data, filters[kind], lo, hi)
                rows = np.arange(lo, hi) if mask is None else np.flatnonzero(mask) + lo
                if mask is not None:
                    row_scores = row_scores[mask]
                rows = np.concatenate([best[kind][i], rows])
                row_scores = np.concatenate([best_scores[kind][i], row_scores])
                top = np.argpartition(-row_scores, k - 1)[:k] if len(rows) > k else slice(None)
                best[kind][i], best_scores[kind][i] = rows[top], row_scores[top]
    return {kind: [rows.tolist() for rows in best[kind]] for kind in KINDS}  # sets: order-free


def open_index(backend: str, location: str, options: dict[str, Any]) -> Any:
    from ocais.store.vectors import VectorIndexOptions

    settings = VectorIndexOptions(**options)
    if backend == "embedded":
        from ocais.store.vectors.embedded import EmbeddedVectorIndex

        return EmbeddedVectorIndex(Path(location), settings)
    from ocais.store.vectors.pgvector import PgVectorIndex

    return PgVectorIndex(
        location, settings, maintenance_work_mem=MAINTENANCE_WORK_MEM, build_workers=1
    )


def load(backend: str, location: str, options: dict[str, Any], data: dict[str, Any]) -> dict:
    from ocais.store.vectors import CollectionSpec

    index = open_index(backend, location, options | {"auto_index": False})
    spec = CollectionSpec(
        name="cases",
        embedder_id="bench-gaussian-mixture",
        dimension=data["vectors"].shape[1],
        metric="cosine",
        metadata_keys=("sex", "age_group", "site", "synthetic", "diagnosis"),
        metadata_types={"synthetic": "bool"},
    )
    index.create_collection(spec)
    n = len(data["vectors"])
    started = time.perf_counter()
    for lo in range(0, n, BATCH):
        hi = min(n, lo + BATCH)
        ids = [f"case-{i:07d}" for i in range(lo, hi)]
        index.upsert("cases", ids, data["vectors"][lo:hi], metadata(data, lo, hi))
    loaded = time.perf_counter()
    index.build_index("cases")
    built = time.perf_counter()
    figures = {"upsert_s": loaded - started, "index_build_s": built - loaded}
    if backend == "postgres":
        figures |= postgres_sizes(index)
    index.close()
    return figures


def postgres_sizes(index: Any) -> dict[str, Any]:
    with index._cursor() as cursor:  # benchmark only: peek at the server
        cursor.execute(
            "SELECT pg_total_relation_size('vec_cases'), pg_relation_size('vec_cases_hnsw'),"
            " current_setting('shared_buffers'), extversion"
            " FROM pg_extension WHERE extname = 'vector'"
        )
        total, hnsw, shared, version = cursor.fetchone()
    return {
        "table_and_indexes_mb": total / 2**20,
        "hnsw_index_mb": hnsw / 2**20,
        "shared_buffers": shared,
        "maintenance_work_mem": MAINTENANCE_WORK_MEM,
        "pgvector": version,
    }


def query_phase(args: argparse.Namespace) -> None:
    """Run in a fresh process: open the index, time the queries, report recall and RSS."""
    spec = json.loads(Path(args.query_phase).read_text())
    queries = np.load(spec["queries"])
    rss_before = rss_mb()
    started = time.perf_counter()
    index = open_index(spec["backend"], spec["location"], spec["options"])
    index.count("cases")
    index.search("cases", queries[0], 10)  # loads the collection (embedded: maps files, ANN)
    opened = time.perf_counter() - started
    out: dict[str, Any] = {"open_s": opened}
    for kind in KINDS:
        filters = [f[kind] for f in spec["filters"]]
        for i in range(min(20, len(queries))):  # warm-up
            index.search("cases", queries[i], 10, filters=filters[i])
        latencies, recalls, methods = [], [], []
        for i, query in enumerate(queries):
            methods.append(index.plan("cases", 10, filters=filters[i]).method)
            tick = time.perf_counter()
            hits = index.search("cases", query, 10, filters=filters[i])
            latencies.append(1000 * (time.perf_counter() - tick))
            truth = {f"case-{row:07d}" for row in spec["truth"][kind][i]}
            recalls.append(len(truth & {hit.id for hit in hits}) / max(1, len(truth)))
        exact_ms = []
        for i in range(min(spec["exact_queries"], len(queries))):
            tick = time.perf_counter()
            index.search("cases", queries[i], 10, filters=filters[i], exact=True)
            exact_ms.append(1000 * (time.perf_counter() - tick))
        out[kind] = {
            "p50_ms": float(np.percentile(latencies, 50)),
            "p99_ms": float(np.percentile(latencies, 99)),
            "recall_at_10": float(np.mean(recalls)),
            "ann_share": methods.count("ann") / len(methods),
            "exact_p50_ms": float(np.percentile(exact_ms, 50)) if exact_ms else None,
        }
    out["rss_mb"] = rss_mb()
    out["rss_index_mb"] = rss_mb() - rss_before
    out["peak_rss_mb"] = rss_mb("VmHWM")
    index.close()
    print(json.dumps(out))


def start_postgres(workdir: Path, shared_buffers: str) -> Any:
    import pgserver

    pgdata = workdir / "pgdata"
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    server.psql(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}';")
    server.psql("ALTER SYSTEM SET max_parallel_maintenance_workers = 1;")
    server.cleanup()  # stop; the next start reads the new settings
    return pgserver.get_server(pgdata, cleanup_mode="stop")


def run_backend(backend: str, args: argparse.Namespace, data: dict, truth: dict) -> dict:
    workdir = Path(args.workdir)
    options: dict[str, Any] = {
        "exact_threshold": args.exact_threshold,
        "ef_search": args.ef,
        "hnsw_m": args.m,
        "hnsw_ef_construction": args.ef_construction,
    }
    if backend == "embedded":
        location = str(workdir / "vectors")
        shutil.rmtree(location, ignore_errors=True)
        server = None
    else:
        server = start_postgres(workdir, args.pg_shared_buffers)
        location = server.get_uri()
    result: dict[str, Any] = {"options": options}
    try:
        result |= load(backend, location, options, data)
        if backend == "embedded":
            files = Path(location).rglob("*")
            result["disk_mb"] = sum(p.stat().st_size for p in files if p.is_file()) / 2**20
        result["loader_max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        spec_path = workdir / f"query-{backend}.json"
        spec_path.write_text(
            json.dumps(
                {
                    "backend": backend,
                    "location": location,
                    "options": options,
                    "queries": str(workdir / "queries.npy"),
                    "filters": data["query_filters"],
                    "truth": truth,
                    "exact_queries": args.exact_queries,
                }
            )
        )
        proc = subprocess.run(
            [sys.executable, __file__, "--query-phase", str(spec_path)],
            capture_output=True,
            text=True,
            check=True,
        )
        result["queries"] = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        if server is not None:
            server.cleanup()
    return result


def main() -> None:
    from ocais.store.vectors import VectorIndexOptions

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", choices=["embedded", "postgres", "both"], default="both")
    defaults = VectorIndexOptions()
    parser.add_argument("--exact-threshold", type=int, default=defaults.exact_threshold)
    parser.add_argument("--ef", type=int, default=defaults.ef_search, help="unfiltered ef_search")
    parser.add_argument("--m", type=int, default=defaults.hnsw_m, help="HNSW m")
    parser.add_argument("--ef-construction", type=int, default=defaults.hnsw_ef_construction)
    parser.add_argument("--exact-queries", type=int, default=10, help="queries timed exactly")
    parser.add_argument("--pg-shared-buffers", default="4GB")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--query-phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.query_phase:
        query_phase(args)
        return
    keep = args.workdir is not None
    args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ocais-bench-vectors-"))
    args.workdir.mkdir(parents=True, exist_ok=True)
    os.chmod(args.workdir, 0o777)  # pgserver runs PostgreSQL as another user when root
    started = time.perf_counter()
    data = generate(args.n, args.dim, args.queries, args.seed)
    np.save(args.workdir / "queries.npy", data["queries"])
    generated = time.perf_counter()
    truth = ground_truth(data, 10)
    report: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "params": {k: str(v) for k, v in vars(args).items() if k != "query_phase"},
        "generate_s": generated - started,
        "ground_truth_s": time.perf_counter() - generated,
        "mean_matching_rows": {
            kind: float(
                np.mean(
                    [
                        len(data["vectors"])
                        if f[kind] is None
                        else int(mask_for(data, f[kind], 0, args.n).sum())
                        for f in data["query_filters"][:50]
                    ]
                )
            )
            for kind in KINDS
        },
    }
    backends = ["embedded", "postgres"] if args.backend == "both" else [args.backend]
    try:
        for backend in backends:
            report[backend] = run_backend(backend, args, data, truth)
    finally:
        if not keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
