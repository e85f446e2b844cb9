"""Build the packaged MONDO disease-identity table from MONDO's exact-match SSSOM files.

Usage: python scripts/build_mondo_table.py [MONDO_DIR] [--out DIR] [--commit SHA]

Reads ``mondo_exactmatch_{omim,orphanet,icd10cm,sctid}.sssom.tsv`` (monarch-initiative/mondo,
CC BY 4.0) and writes, under ``src/ocais/knowledge/data/``:

* ``mondo_diseases.tsv.gz``: one row per MONDO disease with at least one such mapping, columns
  ``mondo_id``, ``label``, ``members`` (OMIM:/ORPHA: ids), ``icd10cm`` and ``snomedct`` codes,
  each list space-separated and sorted. Orphanet ids are written ``ORPHA:`` (as in the HPO
  annotations) and SNOMED CT ids ``SNOMEDCT:``.
* ``MONDO-LICENSE.txt``: the license text beside the source files.
* ``MONDO-ATTRIBUTION.md``: source, commit, license and what was derived.

Only ``skos:exactMatch`` rows are kept. Run from the project root; the package never reads the
source folder at run time.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "mondo"
DEFAULT_OUT = ROOT / "src" / "ocais" / "knowledge" / "data"
DEFAULT_COMMIT = "fad2512b"
SOURCES = {  # file stem -> (column, prefix as written in the source, prefix written here)
    "omim": ("members", "OMIM", "OMIM"),
    "orphanet": ("members", "Orphanet", "ORPHA"),
    "icd10cm": ("icd10cm", "ICD10CM", "ICD10CM"),
    "sctid": ("snomedct", "SCTID", "SNOMEDCT"),
}
COLUMNS = ("mondo_id", "label", "members", "icd10cm", "snomedct")


def read_sssom(path: Path) -> list[dict[str, str]]:
    """Rows of an SSSOM TSV (the ``#`` metadata block skipped), as dicts by header name."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line]
    body = [line for line in lines if not line.startswith("#")]
    header = body[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=False)) for line in body[1:]]


def build(source: Path) -> dict[str, dict[str, set[str] | str]]:
    table: dict[str, dict[str, set[str] | str]] = {}
    for stem, (column, prefix, written) in SOURCES.items():
        for row in read_sssom(source / f"mondo_exactmatch_{stem}.sssom.tsv"):
            if row.get("predicate_id") != "skos:exactMatch":
                continue
            target = row["object_id"]
            if not target.startswith(prefix + ":"):
                continue
            entry = table.setdefault(
                row["subject_id"],
                {"label": row.get("subject_label", ""), **{c: set() for c in COLUMNS[2:]}},
            )
            members = entry[column]
            if isinstance(members, set):
                members.add(f"{written}:{target.split(':', 1)[1]}")
    return table


def write(table: dict[str, dict[str, set[str] | str]], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "mondo_diseases.tsv.gz"
    lines = ["\t".join(COLUMNS)]
    for mondo_id in sorted(table):
        entry = table[mondo_id]
        label = str(entry["label"]).replace("\t", " ")
        lists = [" ".join(sorted(entry[c])) for c in COLUMNS[2:]]
        lines.append("\t".join([mondo_id, label, *lists]))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    # mtime=0: the same input gives the same bytes
    path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--commit", default=DEFAULT_COMMIT, help="MONDO commit of the source")
    args = parser.parse_args()
    table = build(args.source)
    path = write(table, args.out)
    shutil.copyfile(args.source / "LICENSE", args.out / "MONDO-LICENSE.txt")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    counts = {c: sum(len(e[c]) for e in table.values()) for c in COLUMNS[2:]}
    (args.out / "MONDO-ATTRIBUTION.md").write_text(
        "# MONDO disease identity table\n\n"
        "`mondo_diseases.tsv.gz` is derived from the Mondo Disease Ontology's exact-match "
        "mappings (SSSOM files `mondo_exactmatch_{omim,orphanet,icd10cm,sctid}.sssom.tsv`), "
        f"monarch-initiative/mondo commit {args.commit} (2026-08-21), "
        "https://github.com/monarch-initiative/mondo.\n\n"
        "License: CC BY 4.0 (text in `MONDO-LICENSE.txt`). Changes: only `skos:exactMatch` "
        "rows to OMIM, Orphanet, ICD-10-CM and SNOMED CT are kept; rows are grouped by MONDO id; "
        "Orphanet ids are written `ORPHA:` and SNOMED CT ids `SNOMEDCT:`; other columns "
        "dropped.\n\n"
        "Citation: Vasilevsky NA et al., Mondo: Unifying diseases for the world, by the world. "
        "medRxiv 2022.04.13.22273750.\n\n"
        f"Built by `scripts/build_mondo_table.py`: {len(table)} diseases, "
        f"{counts['members']} OMIM/ORPHA ids, {counts['icd10cm']} ICD-10-CM codes, "
        f"{counts['snomedct']} SNOMED CT codes; sha256 {digest}.\n",
        encoding="utf-8",
    )
    print(f"{path}: {len(table)} diseases, {path.stat().st_size} bytes")  # noqa: T201


if __name__ == "__main__":
    main()
