"""Build the compact HPO translation tables shipped in ``ocais/ingest/text/data``.

Usage: python scripts/build_hpo_translations.py [SOURCE_DIR] [--out DIR]

Reads ``hp-LANG.babelon.tsv`` (obophenotype/hpo-translations; Babelon TSV, columns differ per file
and are read by header name) and writes ``hpo-LANG.tsv.gz``: one line per translated label,
``HPO id <TAB> label <TAB> O|C`` (OFFICIAL or CANDIDATE), sorted, gzip'ed deterministically
(``mtime=0``), so a rebuild from the same source gives the same bytes. Rows that are not
``rdfs:label`` or synonyms, not translated, or empty are left out. The library never reads the
source folder: only these files (see ``ATTRIBUTION`` beside them).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import sys
from pathlib import Path

LANGUAGES = ("de", "es", "fr", "it", "ja", "pt", "zh")
PREDICATES = frozenset(
    {"rdfs:label", "oboInOwl:hasExactSynonym", "oboInOwl:hasRelatedSynonym",
     "oboInOwl:hasNarrowSynonym", "oboInOwl:hasBroadSynonym"}
)  # fmt: skip
STATUS = {"OFFICIAL": "O", "CANDIDATE": "C"}
REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared/data/hpo-translations"
DEFAULT_OUT = REPO / "src/ocais/ingest/text/data"


def rows(path: Path) -> list[tuple[str, str, str]]:
    """(HPO id, translated text, O|C) of one Babelon file, duplicates removed, sorted."""
    found: set[tuple[str, str, str]] = set()
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            status = STATUS.get((row.get("translation_status") or "").strip())
            text = " ".join((row.get("translation_value") or "").split())
            term = (row.get("subject_id") or "").strip()
            if row.get("predicate_id") not in PREDICATES or status is None:
                continue
            if not term.startswith("HP:") or not text or text == "NA" or "\t" in text:
                continue
            found.add((term, text, status))
    return sorted(found)


def write(out: Path, lines: list[tuple[str, str, str]]) -> None:
    body = "".join(f"{t}\t{text}\t{s}\n" for t, text, s in lines).encode("utf-8")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(body)
    out.write_bytes(buffer.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for language in LANGUAGES:
        source = args.source / f"hp-{language}.babelon.tsv"
        if not source.is_file():
            print(f"skipped {language}: {source} is missing", file=sys.stderr)  # noqa: T201
            continue
        lines = rows(source)
        target = args.out / f"hpo-{language}.tsv.gz"
        write(target, lines)
        print(f"{language}: {len(lines)} labels -> {target} ({target.stat().st_size:,} bytes)")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
