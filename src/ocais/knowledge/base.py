"""The knowledge base: HPO terms and disease annotations, compiled to arrays.

Build one with :func:`ocais.knowledge.load_knowledge`; never as a global. All lookups take ids,
alternative ids, obsolete ids (mapped to their replacement), names or synonyms, and raise
:class:`~ocais.errors.UnknownTermError` / :class:`~ocais.errors.UnknownDiseaseError` with a hint.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from ocais.errors import UnknownDiseaseError, UnknownTermError
from ocais.knowledge.compile import ASPECT_CODES, SEX_CODES, Compiled, load_compiled
from ocais.knowledge.mondo import MondoTable
from ocais.schemas import Disease, DiseasePhenotype, Sex

PHENOTYPIC_ABNORMALITY = "HP:0000118"
_HPO_ID = re.compile(r"^HP:\d{7}$")
_SEX_BY_CODE = {code: Sex(name) for name, code in SEX_CODES.items() if name}


class Term(BaseModel):
    id: str
    name: str
    definition: str = ""
    synonyms: list[str] = Field(default_factory=list)
    parents: list[str] = Field(default_factory=list)
    information_content: float
    n_diseases: int = Field(description="Diseases annotated with this term (directly)")
    replaced: str | None = Field(default=None, description="The id asked for, if it was replaced")


class KnowledgeInfo(BaseModel):
    hpo_version: str
    annotations_version: str
    n_terms: int
    n_obsolete_terms: int
    n_alt_ids: int
    n_diseases: dict[str, int]
    n_annotations: int
    n_phenotype_annotations: int
    n_with_frequency: int
    n_not_annotations: int
    content_hash: str
    sources: dict[str, str]
    cache_dir: str | None = None
    load_seconds: float | None = None


class KnowledgeBase:
    """Read-only view of one compiled HPO release. Implements ingest's ``TermResolver``."""

    def __init__(
        self, compiled: Compiled, *, cache_dir: str | None = None, mondo: MondoTable | None = None
    ) -> None:
        """``mondo`` replaces the packaged MONDO disease table (read lazily when not given)."""
        self._mondo_given = mondo
        self._arrays = compiled.arrays
        self._strings = compiled.strings
        self.meta = compiled.meta
        self.cache_dir = cache_dir
        self.load_seconds: float | None = None
        self.term_ids: list[str] = compiled.strings["term_ids"]
        self.disease_ids: list[str] = compiled.strings["disease_ids"]
        self.disease_names: list[str] = compiled.strings["disease_names"]
        self.term_names: list[str] = compiled.strings["names"]
        self.term_index = {t: i for i, t in enumerate(self.term_ids)}
        self.disease_index = {d: i for i, d in enumerate(self.disease_ids)}

    def __reduce__(self) -> tuple[Any, ...]:
        # Worker processes reopen the memory-mapped cache instead of copying the arrays.
        if self.cache_dir is not None:
            return (_from_cache, (self.cache_dir, self._mondo_given))
        compiled = Compiled(
            arrays={k: np.asarray(v) for k, v in self._arrays.items()},
            strings=self._strings,
            meta=self.meta,
        )
        return (_from_compiled, (compiled, self._mondo_given))

    # --- versions ---------------------------------------------------------------------------
    @property
    def version(self) -> str:
        """HPO release date (e.g. ``2025-01-16``); recorded on everything derived from it."""
        return str(self.meta["hpo_version"])

    @property
    def release(self) -> dict[str, str]:
        return {
            "hpo_version": self.version,
            "annotations_version": str(self.meta["annotations_version"]),
            "content_hash": str(self.meta["content_hash"]),
        }

    # --- arrays for vectorized consumers ------------------------------------------------------
    def array(self, name: str) -> np.ndarray:
        """A compiled array by name (see ``compile.ARRAY_NAMES``); read-only."""
        return self._arrays[name]

    @property
    def information_content(self) -> np.ndarray:
        return self._arrays["ic"]

    # --- terms ------------------------------------------------------------------------------
    def resolve_id(self, term_id: str) -> str | None:
        """Current id for an id, alternative id or obsolete id with a replacement; else None."""
        if term_id in self.term_index:
            return term_id
        alt = self._strings["alt_ids"].get(term_id)
        if alt is not None:
            return str(alt)
        replaced = self._strings["obsolete"].get(term_id)
        return str(replaced) if replaced in self.term_index else None

    @cached_property
    def _label_index(self) -> dict[str, int]:
        labels: dict[str, int] = {}
        for i, synonyms in enumerate(self._strings["synonyms"]):
            for synonym in synonyms:
                labels.setdefault(synonym.casefold(), i)
        for i, name in enumerate(self._strings["names"]):
            labels[name.casefold()] = i  # names win over synonyms
        return labels

    def term(self, query: str) -> Term:
        """Look a term up by id (current, alternative or obsolete), exact name or synonym."""
        text = query.strip()
        if _HPO_ID.match(text.upper()):
            current = self.resolve_id(text.upper())
            if current is None:
                hint = (
                    "obsolete without replacement"
                    if text.upper() in self._strings["obsolete"]
                    else f"not in HPO {self.version}"
                )
                raise UnknownTermError(f"unknown HPO term {text}", hint=hint)
            return self._term(self.term_index[current], replaced=None if current == text else text)
        index = self._label_index.get(text.casefold())
        if index is None:
            raise UnknownTermError(
                f"no HPO term named {text!r}", hint="try `ocais knowledge term` with part of a name"
            )
        return self._term(index)

    def search_terms(self, query: str, limit: int = 10) -> list[Term]:
        """Terms whose name or synonym contains every word of ``query``; exact matches first."""
        words = query.casefold().split()
        if not words:
            return []
        scored: dict[int, tuple[int, int]] = {}
        for label, index in self._label_index.items():
            if all(w in label for w in words):
                rank = 0 if label == " ".join(words) else 1 if label.startswith(words[0]) else 2
                best = scored.get(index)
                key = (rank, len(label))
                if best is None or key < best:
                    scored[index] = key
        ordered = sorted(scored, key=lambda i: (*scored[i], self.term_ids[i]))
        return [self._term(i) for i in ordered[:limit]]

    def _term(self, index: int, replaced: str | None = None) -> Term:
        ptr, idx = self._arrays["parent_ptr"], self._arrays["parent_idx"]
        parents = [self.term_ids[p] for p in idx[ptr[index] : ptr[index + 1]]]
        return Term(
            id=self.term_ids[index],
            name=self._strings["names"][index],
            definition=self._strings["definitions"][index],
            synonyms=self._strings["synonyms"][index],
            parents=parents,
            information_content=float(self._arrays["ic"][index]),
            n_diseases=int(self._direct_disease_counts[index]),
            replaced=replaced,
        )

    def name(self, term_id: str) -> str:
        return str(self._strings["names"][self.term_index[term_id]])

    def ancestors(self, term_id: str) -> list[str]:
        """All ancestors of a term, itself included."""
        index = self.term_index.get(term_id)
        if index is None:
            raise UnknownTermError(f"unknown HPO term {term_id}", hint="resolve_id() it first")
        ptr, idx = self._arrays["anc_ptr"], self._arrays["anc_idx"]
        return [self.term_ids[i] for i in idx[ptr[index] : ptr[index + 1]]]

    @cached_property
    def descendant_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """Transpose of the ancestor CSR: (ptr, idx) of every term's descendants (self incl.)."""
        anc_ptr = np.asarray(self._arrays["anc_ptr"], dtype=np.int64)
        anc_idx = np.asarray(self._arrays["anc_idx"], dtype=np.int64)
        n = anc_ptr.size - 1
        child = np.repeat(np.arange(n), np.diff(anc_ptr))
        order = np.argsort(anc_idx, kind="stable")
        ptr = np.zeros(n + 1, dtype=np.int64)
        ptr[1:] = np.cumsum(np.bincount(anc_idx, minlength=n))
        return ptr, child[order].astype(np.int64)

    def subtree_mask(self, roots: Sequence[str]) -> np.ndarray:
        """Bool per term: is it one of ``roots`` or below one? (Unknown roots are ignored.)"""
        root_indices = [self.term_index[r] for r in roots if r in self.term_index]
        ptr = np.asarray(self._arrays["anc_ptr"])
        idx = np.asarray(self._arrays["anc_idx"])
        hits = np.isin(idx, root_indices).astype(np.int64)
        cumulative = np.concatenate([[0], np.cumsum(hits)])
        return np.asarray((cumulative[ptr[1:]] - cumulative[ptr[:-1]]) > 0)

    @cached_property
    def phenotypic_mask(self) -> np.ndarray:
        """Bool per term: under Phenotypic abnormality (HP:0000118), itself included."""
        return self.subtree_mask([PHENOTYPIC_ABNORMALITY])

    def descendants(self, term_id: str) -> list[str]:
        """All descendants of a term, itself included."""
        index = self.term_index.get(term_id)
        if index is None:
            raise UnknownTermError(f"unknown HPO term {term_id}", hint="resolve_id() it first")
        ptr, idx = self.descendant_csr
        return [self.term_ids[i] for i in idx[ptr[index] : ptr[index + 1]]]

    def hpo_for_xref(self, system: str, code: str) -> list[str]:
        """HPO terms that carry a cross-reference, e.g. ``("SNOMEDCT_US", "84229001")``."""
        return list(self._strings["xrefs"].get(f"{system}:{code}", []))

    @cached_property
    def _direct_disease_counts(self) -> np.ndarray:
        phen = self._phenotype_rows & ~np.asarray(self._arrays["ann_excluded"])
        pairs = np.unique(
            np.asarray(self._arrays["ann_term"], dtype=np.int64)[phen] * len(self.disease_ids)
            + np.asarray(self._arrays["ann_disease"])[phen]
        )
        return np.bincount(pairs // len(self.disease_ids), minlength=len(self.term_ids))

    @cached_property
    def _phenotype_rows(self) -> np.ndarray:
        return np.asarray(self._arrays["ann_aspect"]) == ASPECT_CODES["P"]

    # --- diseases ---------------------------------------------------------------------------
    def disease(self, disease_id: str) -> Disease:
        """A disease with its phenotype annotations (``NOT`` ones with ``excluded=True``)."""
        index = self.disease_index.get(disease_id.strip().upper())
        if index is None:
            raise UnknownDiseaseError(
                f"unknown disease {disease_id}",
                hint=f"not annotated in HPO annotations {self.meta['annotations_version']}",
            )
        rows = np.flatnonzero(
            (np.asarray(self._arrays["ann_disease"]) == index) & self._phenotype_rows
        )
        phenotypes = []
        for row in rows:
            term = int(self._arrays["ann_term"][row])
            freq = float(self._arrays["ann_frequency"][row])
            onset = int(self._arrays["ann_onset"][row])
            phenotypes.append(
                DiseasePhenotype(
                    id=self.term_ids[term],
                    label=self._strings["names"][term],
                    frequency=None if math.isnan(freq) else freq,
                    excluded=bool(self._arrays["ann_excluded"][row]),
                    onset=self.term_ids[onset] if onset >= 0 else None,
                    sex=_SEX_BY_CODE.get(int(self._arrays["ann_sex"][row])),
                )
            )
        return Disease(
            id=self.disease_ids[index],
            name=self._strings["disease_names"][index],
            phenotypes=phenotypes,
            knowledge_version=self.version,
        )

    def disease_name(self, disease_id: str) -> str:
        index = self.disease_index.get(disease_id)
        if index is None:
            raise UnknownDiseaseError(f"unknown disease {disease_id}")
        return str(self._strings["disease_names"][index])

    def has_disease(self, disease_id: str) -> bool:
        return disease_id in self.disease_index

    # --- disease identity (MONDO) -------------------------------------------------------------
    @cached_property
    def mondo(self) -> MondoTable:
        """The MONDO disease table (the packaged one unless another was given); read once."""
        return self._mondo_given if self._mondo_given is not None else MondoTable.load()

    def disease_group(self, disease_id: str) -> str:
        """The disease an entry belongs to: its MONDO id, or the id itself when MONDO has no
        exact match for it (then it is a group of one). A MONDO id is its own group."""
        return self.mondo.mondo_of(disease_id) or disease_id

    @cached_property
    def _group_members(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for disease_id in self.disease_ids:  # sorted, so members come out sorted
            groups.setdefault(self.disease_group(disease_id), []).append(disease_id)
        return groups

    def group_members(self, disease_id: str) -> list[str]:
        """The annotated entries (OMIM, ORPHA, ...) of the disease group of ``disease_id`` (a
        MONDO id or any member), sorted. Raises ``UnknownDiseaseError`` when none is annotated."""
        members = self._group_members.get(self.disease_group(disease_id))
        if members is None:
            raise UnknownDiseaseError(
                f"no annotated disease in the group of {disease_id}",
                hint=f"not annotated in HPO annotations {self.meta['annotations_version']}",
            )
        return list(members)

    def mondo_for_code(self, system: str, code: str) -> str | None:
        """The MONDO disease of a condition code, e.g. ``("ICD10CM", "Q87.4")`` or
        ``("SNOMEDCT", "19346006")`` (Marfan syndrome); ``None`` when MONDO has no exact match."""
        return self.mondo.mondo_for_code(system, code)

    def group_name(self, group_id: str) -> str:
        """The MONDO label of a group, else the knowledge base's name of the entry."""
        if group_id in self.mondo:
            return self.mondo.label(group_id)
        return self.disease_name(group_id)

    def info(self) -> KnowledgeInfo:
        namespaces: dict[str, int] = {}
        for disease_id in self.disease_ids:
            prefix = disease_id.split(":", 1)[0]
            namespaces[prefix] = namespaces.get(prefix, 0) + 1
        frequency = np.asarray(self._arrays["ann_frequency"])
        excluded = np.asarray(self._arrays["ann_excluded"])
        meta: dict[str, Any] = self.meta
        return KnowledgeInfo(
            hpo_version=self.version,
            annotations_version=str(meta["annotations_version"]),
            n_terms=len(self.term_ids),
            n_obsolete_terms=len(self._strings["obsolete"]),
            n_alt_ids=len(self._strings["alt_ids"]),
            n_diseases=namespaces,
            n_annotations=int(frequency.size),
            n_phenotype_annotations=int(self._phenotype_rows.sum()),
            n_with_frequency=int((~np.isnan(frequency)).sum()),
            n_not_annotations=int(excluded.sum()),
            content_hash=str(meta["content_hash"]),
            sources={"ontology": meta["ontology_file"], "annotations": meta["annotations_file"]},
            cache_dir=self.cache_dir,
            load_seconds=self.load_seconds,
        )


def _from_cache(cache_dir: str, mondo: MondoTable | None = None) -> KnowledgeBase:
    return KnowledgeBase(load_compiled(Path(cache_dir)), cache_dir=cache_dir, mondo=mondo)


def _from_compiled(compiled: Compiled, mondo: MondoTable | None) -> KnowledgeBase:
    return KnowledgeBase(compiled, mondo=mondo)
