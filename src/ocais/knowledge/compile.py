"""Compile an HPO release into flat numpy arrays, and cache them on disk keyed by the files' hash.

The compiled form is what makes a warm start fast: a few ``.npy`` arrays (memory-mapped on load)
and one JSON file of strings. No pickle anywhere.

Information content (Resnik, IJCAI 1995) is computed from the annotations: for each term t,
``IC(t) = -log(n(t) / N)`` where ``n(t)`` counts the diseases annotated (without ``NOT``) with t
or any of its descendants, and ``N`` the annotated diseases. Terms no disease carries get the IC
of a term carried by one disease.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ocais.errors import KnowledgeError
from ocais.knowledge.hpoa import AnnotationRows, parse_hpoa
from ocais.knowledge.ontology_files import OntologyData, parse_ontology

COMPILER_VERSION = "1"
SEX_CODES = {"": 0, "female": 1, "male": 2}
ASPECT_CODES = {"P": 0, "I": 1, "C": 2, "M": 3, "H": 4}
ARRAY_NAMES = (
    "parent_ptr",
    "parent_idx",
    "anc_ptr",
    "anc_idx",
    "ic",
    "ann_disease",
    "ann_term",
    "ann_frequency",
    "ann_excluded",
    "ann_onset",
    "ann_sex",
    "ann_aspect",
)

IntArray = npt.NDArray[np.int32]


@dataclass(frozen=True)
class ReleaseFiles:
    """The two files of one HPO release, and the hash that keys its compiled cache."""

    ontology: Path
    annotations: Path

    def content_hash(self) -> str:
        digest = hashlib.sha256(COMPILER_VERSION.encode())
        for path in (self.ontology, self.annotations):
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        return digest.hexdigest()


@dataclass
class Compiled:
    """Everything a ``KnowledgeBase`` is built from."""

    arrays: dict[str, np.ndarray]
    strings: dict[str, Any]
    meta: dict[str, Any]


def _csr(rows: list[list[int]]) -> tuple[IntArray, IntArray]:
    ptr = np.zeros(len(rows) + 1, dtype=np.int32)
    ptr[1:] = np.cumsum([len(r) for r in rows])
    flat = [i for r in rows for i in r]
    return ptr, np.asarray(flat, dtype=np.int32)


def _closure(parents: list[list[int]]) -> list[list[int]]:
    """Ancestor sets (each term included) by memoized depth-first search."""
    memo: list[list[int] | None] = [None] * len(parents)

    def visit(node: int) -> list[int]:
        stack = [node]
        while stack:
            top = stack[-1]
            pending = [p for p in parents[top] if memo[p] is None]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            if memo[top] is None:
                found = {top}
                for p in parents[top]:
                    found.update(memo[p] or ())
                memo[top] = sorted(found)
        result = memo[node]
        return result if result is not None else [node]

    return [visit(i) for i in range(len(parents))]


def compile_release(files: ReleaseFiles, content_hash: str) -> Compiled:
    """Parse and compile one release. Slow (seconds); the result is cached."""
    started = time.perf_counter()
    onto: OntologyData = parse_ontology(files.ontology)
    rows: AnnotationRows = parse_hpoa(files.annotations)
    live = sorted(t for t, rec in onto.terms.items() if not rec.obsolete)
    index = {t: i for i, t in enumerate(live)}
    alt: dict[str, str] = {}
    obsolete: dict[str, str | None] = {}
    xrefs: dict[str, list[str]] = {}
    for term_id, rec in onto.terms.items():
        if rec.obsolete:
            obsolete[term_id] = rec.replaced_by
            continue
        for alt_id in rec.alt_ids:
            alt[alt_id] = term_id
        for xref in rec.xrefs:
            xrefs.setdefault(xref, []).append(term_id)
    parents = [[index[p] for p in onto.terms[t].parents if p in index] for t in live]
    ancestors = _closure(parents)

    def current(term_id: str) -> int:
        if term_id in index:
            return index[term_id]
        target = alt.get(term_id) or obsolete.get(term_id)
        return index.get(target, -1) if target else -1

    disease_ids = sorted(rows.disease_names)
    disease_index = {d: i for i, d in enumerate(disease_ids)}
    ann_term = np.fromiter((current(t) for t in rows.terms), dtype=np.int32, count=len(rows.terms))
    ann_onset = np.fromiter(
        (current(t) if t else -1 for t in rows.onset), dtype=np.int32, count=len(rows.onset)
    )
    known = ann_term >= 0
    arrays: dict[str, np.ndarray] = {
        "ann_disease": np.fromiter(
            (disease_index[d] for d in rows.disease_ids), dtype=np.int32, count=len(ann_term)
        )[known],
        "ann_term": ann_term[known],
        "ann_frequency": np.asarray(rows.frequency, dtype=np.float32)[known],
        "ann_excluded": np.asarray(rows.excluded, dtype=bool)[known],
        "ann_onset": ann_onset[known],
        "ann_sex": np.asarray([SEX_CODES.get(s, 0) for s in rows.sex], dtype=np.int8)[known],
        "ann_aspect": np.asarray([ASPECT_CODES.get(a, 4) for a in rows.aspect], dtype=np.int8)[
            known
        ],
    }
    arrays["parent_ptr"], arrays["parent_idx"] = _csr(parents)
    arrays["anc_ptr"], arrays["anc_idx"] = _csr(ancestors)
    arrays["ic"] = _information_content(arrays, len(live), len(disease_ids))
    strings = {
        "term_ids": live,
        "names": [onto.terms[t].name for t in live],
        "definitions": [onto.terms[t].definition for t in live],
        "synonyms": [onto.terms[t].synonyms for t in live],
        "alt_ids": alt,
        "obsolete": obsolete,
        "xrefs": xrefs,
        "disease_ids": disease_ids,
        "disease_names": [rows.disease_names[d] for d in disease_ids],
    }
    meta = {
        "compiler_version": COMPILER_VERSION,
        "content_hash": content_hash,
        "hpo_version": onto.version,
        "annotations_version": rows.version,
        "ontology_file": str(files.ontology),
        "annotations_file": str(files.annotations),
        "annotation_rows_read": len(rows.terms),
        "annotation_rows_unknown_term": int((~known).sum()),
        "compile_seconds": round(time.perf_counter() - started, 3),
    }
    return Compiled(arrays=arrays, strings=strings, meta=meta)


def _information_content(arrays: dict[str, np.ndarray], n_terms: int, n_diseases: int) -> Any:
    positive = (~arrays["ann_excluded"]) & (arrays["ann_aspect"] == ASPECT_CODES["P"])
    diseases = arrays["ann_disease"][positive]
    terms = arrays["ann_term"][positive]
    anc_ptr, anc_idx = arrays["anc_ptr"], arrays["anc_idx"]
    lengths = anc_ptr[terms + 1] - anc_ptr[terms]
    starts = np.repeat(anc_ptr[terms], lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    expanded_terms = anc_idx[starts + offsets]
    expanded_diseases = np.repeat(diseases, lengths)
    pairs = np.unique(expanded_diseases.astype(np.int64) * n_terms + expanded_terms)
    counts = np.bincount(pairs % n_terms, minlength=n_terms).astype(np.float64)
    annotated = max(int(np.unique(diseases).size), 1)
    counts = np.clip(counts, 1.0, None)
    return -np.log(counts / annotated)


def cache_path(cache_dir: Path, content_hash: str) -> Path:
    return cache_dir / f"hpo-{content_hash[:20]}"


def save_compiled(compiled: Compiled, target: Path) -> None:
    """Write atomically: a temporary sibling directory renamed into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        for name, array in compiled.arrays.items():
            np.save(tmp / f"{name}.npy", array, allow_pickle=False)
        (tmp / "strings.json").write_text(json.dumps(compiled.strings), encoding="utf-8")
        (tmp / "meta.json").write_text(json.dumps(compiled.meta, indent=2), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def load_compiled(source: Path) -> Compiled:
    try:
        meta = json.loads((source / "meta.json").read_text(encoding="utf-8"))
        if meta.get("compiler_version") != COMPILER_VERSION:
            raise KnowledgeError(f"{source}: cache from another compiler version")
        arrays = {
            name: np.load(source / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            for name in ARRAY_NAMES
        }
        strings = json.loads((source / "strings.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError) as exc:
        raise KnowledgeError(f"{source}: unreadable knowledge cache ({exc})") from exc
    return Compiled(arrays=arrays, strings=strings, meta=meta)
