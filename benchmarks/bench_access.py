"""Cost of the access rules in search: the same queries as the local operator (every case) and as
a clinician who created a share of them (the query confined to their visible ids).

Usage: python benchmarks/bench_access.py [PHENOPACKETS] [--owned 50 500] [--queries 300] [--shared]

Imports the cases into a temporary store with `import_and_index`, assigns the first N cases to a
clinician, then times `search_cases` (k=10) for the observed terms of real cases. Prints one JSON
object; figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_SOURCE = Path(__file__).resolve().parents[1].parent / (
    "shared/data/phenopacket-store/dev.tar.gz"
)


class Clinician:
    def __init__(self, user_id: str) -> None:
        self.user_id, self.role = user_id, "clinician"


def timed(run: Any, queries: list[Any]) -> dict[str, float]:
    took = []
    for query in queries:
        start = time.perf_counter()
        run(query)
        took.append((time.perf_counter() - start) * 1000)
    took.sort()
    return {
        "median_ms": round(statistics.median(took), 3),
        "p95_ms": round(took[int(0.95 * (len(took) - 1))], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--owned", type=int, nargs="+", default=[50, 500])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--shared", action="store_true", help="import the cases as shared reference cases"
    )
    args = parser.parse_args()

    from ocais.config import Settings, load_settings
    from ocais.search.service import SearchQuery
    from ocais.store import CaseFilter
    from ocais.workflows import OPERATOR, build_services
    from ocais.workflows.cases import search_cases
    from ocais.workflows.indexing import import_and_index

    installed = load_settings()
    with tempfile.TemporaryDirectory() as work:
        settings: Settings = load_settings(
            data_dir=Path(work),
            hpo_dir=installed.resolved_hpo_dir,
            cache_dir=installed.resolved_cache_dir,
        )
        services = build_services(settings, notify=lambda message: None)
        started = time.perf_counter()
        outcome = import_and_index(services, args.source, skip_invalid=True, shared=args.shared)
        import_seconds = time.perf_counter() - started
        ids = services.repo.case_ids(CaseFilter())
        rng = random.Random(args.seed)
        cases = services.repo.get_cases(rng.sample(ids, min(args.queries, len(ids))))
        queries = [SearchQuery(hpo=c.observed[:8], k=10) for c in cases if c.observed]
        result: dict[str, Any] = {
            "machine": f"{platform.machine()}, {platform.python_version()}",
            "date": datetime.now(UTC).date().isoformat(),
            "cases": len(ids),
            "import_and_index_s": round(import_seconds, 2),
            "indexed": outcome.indexed,
            "queries": len(queries),
            "shared": args.shared,
        }
        search = lambda actor: lambda q: search_cases(services, actor, q)  # noqa: E731
        timed(search(OPERATOR), queries[:20])  # warm-up
        result["operator"] = timed(search(OPERATOR), queries)
        from ocais.serve.accounts import Accounts

        owners = services.owners
        accounts = Accounts(owners)
        for owned in args.owned:
            user = accounts.add_user(f"clinician-{owned}", "clinician").id
            now = datetime.now(UTC)
            with services.repo.transaction() as session:
                for case_id in ids[:owned]:
                    owners.add_case_owner(case_id, user, now=now, session=session)
            result[f"clinician_owning_{owned}"] = timed(search(Clinician(user)), queries)
        services.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
