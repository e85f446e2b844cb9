"""Export the HPO release embedded in the ``hpo3`` package to one JSON file.

Run it ONLY with the Python of a separate virtual environment that has ``hpo3==1.5.1``
installed: ``hpo3`` installs itself under the import name ``pyhpo``, the same name as the
``pyhpo`` package the project depends on, so the two can never share an environment::

    python3 -m venv .venv-hpo3
    .venv-hpo3/bin/pip install hpo3==1.5.1
    .venv-hpo3/bin/python scripts/export_hpo3.py build/hpo3-export.json

The output holds what ``hpo3`` exposes: the terms (id, name, is-a parents, obsolete flag,
replacement) and the OMIM and ORPHA diseases with their sets of HPO terms. It has no synonyms,
definitions, cross-references, alternative ids, frequencies, ``NOT`` rows or DECIPHER diseases;
``ocais knowledge merge`` takes those from an official release. Everything is sorted, so the
same ``hpo3`` version always writes the same bytes.

Standalone on purpose: it imports nothing from ``ocais``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

EXPECTED_VERSION = "1.5.1"


def _term_key(term_id: str) -> int:
    return int(term_id.split(":", 1)[1])


def _hpo_id(number: int) -> str:
    return f"HP:{number:07d}"


def export(hpo3_version: str) -> dict[str, Any]:
    """Load hpo3's embedded ontology and return the export document."""
    from pyhpo import Ontology  # hpo3's import name

    Ontology()
    terms = []
    for term in sorted(Ontology, key=lambda t: _term_key(t.id)):
        terms.append(
            {
                "id": term.id,
                "name": term.name,
                "parents": sorted((p.id for p in term.parents), key=_term_key),
                "obsolete": bool(term.is_obsolete),
                "replaced_by": term.replaced_by or None,
            }
        )
    diseases = []
    for prefix, collection in (
        ("OMIM", Ontology.omim_diseases),
        ("ORPHA", Ontology.orpha_diseases),
    ):
        for disease in sorted(collection, key=lambda d: int(d.id)):
            diseases.append(
                {
                    "id": f"{prefix}:{disease.id}",
                    "name": disease.name,
                    "terms": [_hpo_id(n) for n in sorted(int(h) for h in disease.hpo)],
                }
            )
    return {
        "source": f"hpo3 {hpo3_version}",
        "hpo_version": Ontology.version(),
        "terms": terms,
        "diseases": diseases,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Export hpo3's embedded HPO release (terms, OMIM/ORPHA diseases) to JSON."
    )
    parser.add_argument("output", type=Path, help="JSON file to write")
    args = parser.parse_args(argv)

    from importlib.metadata import PackageNotFoundError, version

    try:
        hpo3_version = version("hpo3")
    except PackageNotFoundError:
        parser.error(
            "the hpo3 package is not installed in this Python "
            f"({sys.executable}); run this script with a venv that has hpo3=={EXPECTED_VERSION}"
        )
    if hpo3_version != EXPECTED_VERSION:
        sys.stderr.write(
            f"warning: hpo3 {hpo3_version} installed, this script was written for "
            f"{EXPECTED_VERSION}\n"
        )

    started = time.perf_counter()
    document = export(hpo3_version)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(args.output.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False, indent=1)
        handle.write("\n")
    tmp.replace(args.output)
    n_pairs = sum(len(d["terms"]) for d in document["diseases"])
    sys.stdout.write(
        f"hpo3 {hpo3_version}: HPO {document['hpo_version']}, {len(document['terms'])} terms, "
        f"{len(document['diseases'])} diseases, {n_pairs} disease-term pairs "
        f"-> {args.output} ({time.perf_counter() - started:.1f}s)\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
