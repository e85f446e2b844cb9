"""Copy a seeded random sample of phenopackets from an archive into a folder (for benchmarks of
slow predictors, e.g. `rag` with an LLM, on a fixed subset).

Usage: python scripts/sample_phenopackets.py ARCHIVE.tar.gz OUT_DIR [--n 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import tarfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(args.archive) as tar:
        members = sorted(
            (m for m in tar.getmembers() if m.isfile() and m.name.endswith(".json")),
            key=lambda m: m.name,
        )
        chosen = random.Random(args.seed).sample(members, min(args.n, len(members)))
        for i, member in enumerate(chosen):
            handle = tar.extractfile(member)
            if handle is not None:
                (args.out / f"{i:04d}-{Path(member.name).name}").write_bytes(handle.read())
    print(f"{len(chosen)} phenopackets in {args.out}")  # noqa: T201


if __name__ == "__main__":
    main()
