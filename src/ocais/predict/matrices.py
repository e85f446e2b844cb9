"""Disease × term matrices shared by the vectorized predictors.

Built once per (knowledge base, namespaces, default frequency) from the compiled annotation
arrays; nothing here loops over diseases in Python.

* ``direct`` (CSR, diseases × terms): frequency of each positive phenotype annotation.
* ``closure`` (CSC, diseases × terms): for every ancestor ``a`` of an annotated term, the highest
  frequency of the disease's annotations at or below ``a`` — "how likely is a patient with this
  disease to show *some* feature under ``a``". Column gathers give one term's value for every
  disease at once.
* ``negated`` (CSC): the disease's ``NOT`` annotations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ocais.errors import ConfigError
from ocais.knowledge import KnowledgeBase
from ocais.knowledge.compile import ASPECT_CODES

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_NAMESPACES = ("OMIM", "ORPHA")


def expand_to_ancestors(
    kb: KnowledgeBase, terms: npt.NDArray[np.int32]
) -> tuple[IntArray, IntArray]:
    """For each input position i, its term's ancestors (self included).

    Returns (positions, ancestor term indices), both flat and aligned.
    """
    anc_ptr = np.asarray(kb.array("anc_ptr"))
    anc_idx = np.asarray(kb.array("anc_idx"))
    lengths = anc_ptr[terms + 1] - anc_ptr[terms]
    positions = np.repeat(np.arange(terms.size), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    ancestors = anc_idx[np.repeat(anc_ptr[terms], lengths) + offsets]
    return positions.astype(np.int64), ancestors.astype(np.int64)


def _max_by_key(
    rows: IntArray, cols: IntArray, values: FloatArray, shape: tuple[int, int]
) -> sp.csc_array:
    """Sparse matrix keeping the maximum value for duplicate (row, col) entries."""
    keys = rows * shape[1] + cols
    order = np.lexsort((-values, keys))
    keys, values = keys[order], values[order]
    first = np.ones(keys.size, dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    keys, values = keys[first], values[first]
    return sp.csc_array((values, (keys // shape[1], keys % shape[1])), shape=shape)


@dataclass
class DiseaseMatrices:
    """The compiled disease × term matrices for one set of namespaces."""

    disease_ids: list[str]
    disease_names: list[str]
    kb_rows: IntArray  # row in the knowledge base's disease list, per disease here
    direct: sp.csr_array
    closure: sp.csc_array
    negated: sp.csc_array
    information_content: FloatArray
    default_frequency: float

    @property
    def n_diseases(self) -> int:
        return len(self.disease_ids)

    def index_of(self) -> dict[str, int]:
        return {d: i for i, d in enumerate(self.disease_ids)}

    @cached_property
    def id_rank(self) -> IntArray:
        """Position of each disease in id order: the deterministic tie-break of rankings."""
        rank = np.empty(self.n_diseases, dtype=np.int64)
        rank[np.argsort(np.asarray(self.disease_ids), kind="stable")] = np.arange(self.n_diseases)
        return rank

    def top(self, scores: FloatArray, k: int) -> IntArray:
        """Rows of the ``k`` best finite scores: score descending, then disease id ascending."""
        return top_rows(scores, k, self.id_rank)


def build_matrices(
    kb: KnowledgeBase,
    namespaces: Sequence[str] = DEFAULT_NAMESPACES,
    default_frequency: float = 0.5,
) -> DiseaseMatrices:
    """Compile the matrices for the diseases of ``namespaces`` (e.g. ``("OMIM", "ORPHA")``)."""
    return compile_matrices(kb, knowledge_annotations(kb, namespaces, default_frequency))


@dataclass
class Annotations:
    """Disease–phenotype annotations before compilation: one entry per (disease, term).

    ``disease``/``term``/``frequency`` are the positive annotations (row in ``disease_ids``,
    knowledge-base term index, frequency in (0, 1]); ``not_disease``/``not_term`` the NOT ones.
    ``kb_rows`` gives each disease's row in the knowledge base's disease list, or -1 for a
    disease the knowledge base does not know (learned from cases).
    """

    disease_ids: list[str]
    disease_names: list[str]
    kb_rows: IntArray
    disease: IntArray
    term: IntArray
    frequency: FloatArray
    not_disease: IntArray
    not_term: IntArray
    default_frequency: float


def knowledge_annotations(
    kb: KnowledgeBase,
    namespaces: Sequence[str] = DEFAULT_NAMESPACES,
    default_frequency: float = 0.5,
) -> Annotations:
    """The knowledge base's phenotype annotations of the diseases of ``namespaces``."""
    if not 0 < default_frequency <= 1:
        raise ConfigError("default_frequency must be in (0, 1]")
    wanted = {n.upper() for n in namespaces}
    kb_rows = np.asarray(
        [i for i, d in enumerate(kb.disease_ids) if d.split(":", 1)[0] in wanted], dtype=np.int64
    )
    if kb_rows.size == 0:
        raise ConfigError(
            f"no annotated diseases in namespaces {sorted(wanted)}",
            hint="use OMIM, ORPHA and/or DECIPHER",
        )
    local = np.full(len(kb.disease_ids), -1, dtype=np.int64)
    local[kb_rows] = np.arange(kb_rows.size)
    disease = local[np.asarray(kb.array("ann_disease"), dtype=np.int64)]
    term = np.asarray(kb.array("ann_term"), dtype=np.int64)
    freq = np.asarray(kb.array("ann_frequency"), dtype=np.float64)
    freq = np.where(np.isnan(freq), default_frequency, freq)
    excluded = np.asarray(kb.array("ann_excluded"), dtype=bool)
    phenotype = np.asarray(kb.array("ann_aspect")) == ASPECT_CODES["P"]
    keep = (disease >= 0) & phenotype
    positive = keep & ~excluded & (freq > 0)
    negative = keep & (excluded | (freq == 0))  # "Excluded (0%)" frequency means NOT as well
    return Annotations(
        disease_ids=[kb.disease_ids[i] for i in kb_rows],
        disease_names=[kb.disease_names[i] for i in kb_rows],
        kb_rows=kb_rows,
        disease=disease[positive],
        term=term[positive],
        frequency=freq[positive],
        not_disease=disease[negative],
        not_term=term[negative],
        default_frequency=default_frequency,
    )


def compile_matrices(kb: KnowledgeBase, annotations: Annotations) -> DiseaseMatrices:
    """Compile annotations into the direct, closure and NOT matrices (terms from ``kb``)."""
    a = annotations
    shape = (len(a.disease_ids), len(kb.term_ids))
    direct = _max_by_key(a.disease, a.term, a.frequency, shape).tocsr()
    positions, ancestors = expand_to_ancestors(kb, a.term.astype(np.int32))
    closure = _max_by_key(a.disease[positions], ancestors, a.frequency[positions], shape)
    negated = sp.csc_array((np.ones(a.not_disease.size), (a.not_disease, a.not_term)), shape=shape)
    negated.sum_duplicates()
    return DiseaseMatrices(
        disease_ids=list(a.disease_ids),
        disease_names=list(a.disease_names),
        kb_rows=a.kb_rows,
        direct=direct,
        closure=closure,
        negated=negated,
        information_content=np.asarray(kb.information_content, dtype=np.float64),
        default_frequency=a.default_frequency,
    )


def top_rows(scores: FloatArray, k: int, tie_rank: IntArray) -> IntArray:
    """Positions of the ``k`` best finite ``scores``: score descending, then ``tie_rank``
    ascending (a deterministic tie-break, e.g. the id order)."""
    finite = np.flatnonzero(np.isfinite(scores))
    if k <= 0 or finite.size == 0:
        return np.empty(0, dtype=np.int64)
    if finite.size > k:
        # keep everything tied with the k-th best so the tie-break sees all of them
        threshold = -np.partition(-scores[finite], k - 1)[k - 1]
        finite = finite[scores[finite] >= threshold]
    order = np.lexsort((tie_rank[finite], -scores[finite]))
    return finite[order[:k]].astype(np.int64)
