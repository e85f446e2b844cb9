"""Benchmark: de-identification recall, precision and speed on notes with planted identifiers.

Usage: python benchmarks/bench_deid.py [--notes 1000] [--seed 0] [--no-presidio] [--out FILE]

Generates --notes notes per template set with Faker (fixed seed): ``dev`` (the templates the
recognizers were tuned on) and ``heldout`` (written before its first measurement; the honest
figures). Each configuration is scored by ocais.ingest.deid.evaluation.score:
- ``rules``: the built-in recognizers, no structured fields;
- ``rules+known``: the same, given the patient's name as a known identifier;
- ``rules-no-dictionary``: without the Census 1990 first-name dictionary;
- ``rules+presidio``: plus presidio-analyzer's pattern recognizers (if installed).
A planted identifier counts as caught only if neither its value nor any distinctive part of it
survives in the output text. Also: 40 PHI-free clinical sentences, where any change is a false
positive, and notes per second (one process, one thread). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

SECRET = "benchmark-secret-not-for-production"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=1000, help="notes per template set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-presidio", action="store_true", help="skip the presidio run")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    from ocais.ingest.deid import DeidConfig, Deidentifier
    from ocais.ingest.deid.evaluation import score
    from ocais.ingest.deid.synthetic import generate_notes
    from ocais.ingest.deid.synthetic_templates import PHI_FREE_SENTENCES

    import_s = time.perf_counter() - started

    configs: dict[str, tuple[dict[str, Any], bool]] = {
        "rules": ({}, False),
        "rules+known": ({}, True),
        "rules-no-dictionary": ({"first_name_dictionary": False}, False),
    }
    if not args.no_presidio and _version("presidio-analyzer"):
        configs["rules+presidio"] = ({"use_presidio": True}, False)

    notes = {
        style: generate_notes(args.notes, seed=args.seed, style=style)
        for style in ("dev", "heldout")
    }
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "versions": {p: _version(p) for p in ("faker", "names", "presidio-analyzer")},
        "notes_per_set": args.notes,
        "seed": args.seed,
        "import_deid_s": round(import_s, 3),
        "configs": {},
    }
    for name, (settings, known) in configs.items():
        built = time.perf_counter()
        deid = Deidentifier(DeidConfig(secret=SECRET, **settings))
        entry: dict[str, Any] = {"build_s": round(time.perf_counter() - built, 3)}
        for style, batch in notes.items():
            t0 = time.perf_counter()
            results = [
                deid.deidentify(
                    n.text,
                    patient_key=n.patient_key,
                    known_identifiers={"NAME": [n.patient_name]} if known else None,
                )
                for n in batch
            ]
            elapsed = time.perf_counter() - t0
            scored = score(batch, results)
            scored["notes_per_s"] = round(len(batch) / elapsed, 1)
            scored["ms_per_note"] = round(1000 * elapsed / len(batch), 2)
            scored["mean_note_chars"] = round(sum(len(n.text) for n in batch) / len(batch))
            entry[style] = scored
        changed = [s for s in PHI_FREE_SENTENCES if deid.deidentify(s, patient_key="p").spans]
        entry["phi_free_sentences"] = {
            "total": len(PHI_FREE_SENTENCES),
            "changed": len(changed),
            "examples": changed[:5],
        }
        report["configs"][name] = entry

    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
