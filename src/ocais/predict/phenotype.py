"""The default predictor: a phenotype likelihood-ratio ranker over every annotated disease.

Method (derived here; in the family of LIRICAL's phenotype likelihood ratios — Robinson et al.,
Am J Hum Genet 107:403, 2020 — and of Bayesian ontology matching — Bauer et al., Bioinformatics
28:2502, 2012). A case's score for disease d is a sum of log likelihood ratios:

**Observed term q.** If d is annotated with a term t at or below an ancestor a of q, with
frequency f, the chance that a patient with d shows q is about f · P(q | a), where P(q | a) =
bg(q)/bg(a) is the share of a-diseases that have q, and bg(x) = e^−IC(x) (information content
from the annotations). Against the background bg(q) this gives LR = f · e^IC(a). When a is not q
itself, the disease explains q only loosely (a sibling or a coarser feature), and the patient's
extra specificity is penalised by λ: LR = f · e^{IC(a) − λ·(IC(q) − IC(a))}. The best a is taken,
and LR is floored at α (an unrelated finding: noise, a second condition). A term the disease is
annotated NOT to have costs ``not_penalty``.

**Excluded term q** (a pertinent negative). Clinicians record the absence of features they had
reason to look for — features of the diseases they suspected — so an excluded term is both weak
evidence that d is *relevant* (weight ``excluded_relevance`` × the observed-term log LR) and,
through d's frequency p of q, evidence against d: ``excluded_weight`` · log(1 − p). A naive
log(1 − p) alone lowers accuracy on published cases (measured; see docs/decisions/0003).

**Measured, off by default** (docs/decisions/0003): ``match_ic_weight`` γ (term log LR × (IC(q) /
mean IC)^γ), ``system_cap`` (one organ system's summed log LR; a term under k systems counts 1/k
in each), ``excluded_ratio`` r (negatives' parts × min(1, r · #observed / #excluded)).

**Unreported features.** Each frequent annotation of d that no patient term touches (neither
ancestor nor descendant of it) costs log(1 − β·f): weak, because case reports omit much.

**Onset and sex** (``demographics.py``): a log penalty when the patient's onset or age is outside
the disease's annotated onset range, or the disease is limited to the other sex.

Everything is vectorized over diseases: per-term vectors come from column gathers of the
precompiled closure matrix and are cached (LRU), so a case costs a few vector additions.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from ocais import __version__
from ocais.errors import KnowledgeError
from ocais.knowledge import KnowledgeBase
from ocais.knowledge.genes import GeneTable, load_gene_table
from ocais.predict.demographics import Demographics
from ocais.predict.evidence import (
    RowFacts,
    candidates_evidence,
    case_context,
    next_phenotypes,
    row_facts,
)
from ocais.predict.groups import DiseaseGroups, gene_panel, group_candidates, top_groups
from ocais.predict.matrices import DEFAULT_NAMESPACES, DiseaseMatrices, build_matrices
from ocais.predict.terms import CaseTerms, case_terms
from ocais.schemas import Candidate, Case, Prediction, Provenance

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class PhenotypeRankerOptions(BaseModel):
    """Options of the phenotype ranker (unknown keys are rejected)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    namespaces: tuple[str, ...] = Field(DEFAULT_NAMESPACES, description="Disease catalogues")
    default_frequency: float = Field(0.5, gt=0, le=1, description="f when none is annotated")
    specificity_penalty: float = Field(6.0, ge=0, description="λ: loose-match penalty")
    noise_floor: float = Field(0.01, gt=0, le=1, description="α: LR of an unrelated finding")
    not_penalty: float = Field(3.0, ge=0, description="Log cost of an observed NOT feature")
    excluded_weight: float = Field(0.15, ge=0, description="Weight of log(1 − p) for negatives")
    excluded_relevance: float = Field(0.5, ge=0, description="Relevance weight of negatives")
    unreported_penalty: float = Field(0.1, ge=0, lt=1, description="β for unreported features")
    match_ic_weight: float = Field(0.0, ge=0, description="γ: weight (IC(q)/mean IC)^γ per term")
    system_cap: float | None = Field(None, gt=0, description="Cap of one organ system's log LR")
    excluded_ratio: float | None = Field(None, gt=0, description="Negatives × min(1, r·#obs/#exc)")
    onset_penalty: float = Field(1.0, ge=0, description="Log cost of an onset clash")
    sex_penalty: float = Field(2.0, ge=0, description="Log cost of a sex-limited disease")
    temperature: float = Field(
        4.5, gt=0, description="Softmax temperature (fitted for calibration, see docs)"
    )
    cache_terms: int = Field(
        4096, ge=0, description="Per-term vectors kept in memory (float32, ~50 KB each)"
    )


@dataclass(frozen=True, eq=False)
class RankerState:
    """What a :class:`PhenotypeRanker` compiled once and :mod:`ocais.predict.evidence` reads.

    Exposed as :attr:`PhenotypeRanker.state`; the evidence functions take it instead of the
    ranker. Shared with the ranker, not copied: treat every array as read-only.
    """

    kb: KnowledgeBase
    matrices: DiseaseMatrices  # the matrices the ranker scores with (learned ones included)
    closure_rows: sp.csr_array  # ``matrices.closure`` by disease, term indices sorted per row
    information_content: FloatArray  # per term, from the annotations (``matrices``)
    ancestor_ptr: IntArray  # the ancestors of term t (itself included) are
    ancestor_idx: IntArray  # ``ancestor_idx[ancestor_ptr[t] : ancestor_ptr[t + 1]]``
    depth: IntArray  # number of ancestors per term: deeper terms have more
    log_floor: float  # log α: the log LR of an unrelated finding
    specificity_penalty: float  # λ of the loose-match penalty


class PhenotypeRanker:
    """Ranks every annotated disease by the likelihood-ratio model in the module docstring."""

    name: ClassVar[str] = "phenotype"

    def __init__(
        self, knowledge: KnowledgeBase, *, matrices: DiseaseMatrices | None = None, **options: Any
    ) -> None:
        """``matrices`` replaces the knowledge base's own annotations (e.g. profiles learned from
        cases, see ``ocais.learn``); by default they are compiled from ``knowledge``."""
        try:
            self.options = PhenotypeRankerOptions(**options)
        except ValueError as exc:  # pydantic.ValidationError
            raise TypeError(str(exc)) from exc
        opts = self.options
        self.kb = knowledge
        self.matrices: DiseaseMatrices = matrices or build_matrices(
            knowledge, opts.namespaces, opts.default_frequency
        )
        m = self.matrices
        anc_ptr = np.asarray(knowledge.array("anc_ptr"), dtype=np.int64)
        closure_rows = m.closure.tocsr()
        closure_rows.sort_indices()  # evidence relies on sorted term indices per row
        self._state = RankerState(
            kb=knowledge,
            matrices=m,
            closure_rows=closure_rows,
            information_content=m.information_content,
            ancestor_ptr=anc_ptr,
            ancestor_idx=np.asarray(knowledge.array("anc_idx"), dtype=np.int64),
            depth=np.diff(anc_ptr),
            log_floor=math.log(opts.noise_floor),
            specificity_penalty=opts.specificity_penalty,
        )
        unreported = m.direct.copy()
        unreported.data = np.log1p(-opts.unreported_penalty * np.minimum(unreported.data, 1.0))
        # log(1 − β·f) of every annotation: all of them, minus the columns the case touches
        self._unreported = unreported.tocsc()
        self._unreported.sort_indices()
        self._unreported_total = np.asarray(unreported.sum(axis=1), dtype=np.float64).ravel()
        self._desc_ptr, self._desc_idx = knowledge.descendant_csr
        self.depth = self._state.depth  # number of ancestors: deeper terms have more
        self._demographics = Demographics.build(knowledge, m.kb_rows)
        self._observed_cache: OrderedDict[int, npt.NDArray[np.float32]] = OrderedDict()
        self._row_facts: OrderedDict[int, RowFacts] = OrderedDict()
        self._ancestor_masks: dict[int, npt.NDArray[np.bool_]] = {}
        self._descendant_masks: dict[int, npt.NDArray[np.bool_]] = {}

    @cached_property
    def gene_table(self) -> GeneTable | None:
        """The release's gene–disease links ("genes worth testing"); ``None`` without them."""
        try:
            return load_gene_table(self.kb)
        except KnowledgeError:
            return None

    @property
    def state(self) -> RankerState:
        """The compiled arrays and options that the evidence functions read (built once)."""
        return self._state

    # --- capability: DiseaseScorer -----------------------------------------------------------
    @property
    def disease_ids(self) -> Sequence[str]:
        return self.matrices.disease_ids

    @cached_property
    def disease_groups(self) -> DiseaseGroups:
        """The ranked entries grouped by MONDO disease (built on first use)."""
        return DiseaseGroups.build(self.kb, self.matrices.disease_ids, self.options.temperature)

    def score_cases(self, cases: Sequence[Case]) -> np.ndarray:
        scores = np.empty((len(cases), self.matrices.n_diseases))
        for i, case in enumerate(cases):
            scores[i] = self.score(case, case_terms(self.kb, case))
        return scores

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Posterior over diseases (uniform prior): softmax of score / temperature, per row."""
        z = np.atleast_2d(scores) / self.options.temperature
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        result: np.ndarray = p / p.sum(axis=1, keepdims=True)
        return result

    # --- scoring ------------------------------------------------------------------------------
    def score(self, case: Case, terms: CaseTerms) -> FloatArray:
        """Log-score of every disease for one case; -inf everywhere for an empty case."""
        opts = self.options
        if terms.observed.size == 0:
            return np.full(self.matrices.n_diseases, -np.inf)
        # the cached per-term vectors are float32: summed as such (4x cheaper than widening
        # each one; the rounding, ~1e-6 on scores of order 10, is the same for every disease)
        matched = self._observed_sum(terms.observed)
        scale = 1.0
        if opts.excluded_ratio is not None and terms.excluded.size:
            scale = min(1.0, opts.excluded_ratio * terms.observed.size / terms.excluded.size)
        if opts.excluded_relevance:
            relevance = np.float32(opts.excluded_relevance * scale)
            for term in terms.excluded:
                matched += relevance * self.observed_log_lr(int(term))
        total = matched.astype(np.float64)
        if opts.excluded_weight:
            for term in terms.excluded:
                total += opts.excluded_weight * scale * self.excluded_log_lr(int(term))
        if opts.unreported_penalty:
            total += self._unreported_log(np.concatenate([terms.observed, terms.excluded]))
        if opts.onset_penalty or opts.sex_penalty:
            total += self._demographics.penalty(case, opts.onset_penalty, opts.sex_penalty)
        return total

    def _observed_sum(self, observed: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """Σ of the observed terms' log LRs, IC-weighted and capped per system if asked."""
        opts, ic = self.options, self._state.information_content
        matched = np.zeros(self.matrices.n_diseases, dtype=np.float32)
        if not opts.match_ic_weight and opts.system_cap is None:  # the defaults: a plain sum
            for term in observed.tolist():
                np.add(matched, self.observed_log_lr(term), out=matched)
            return matched
        weights = np.ones(observed.size)
        if opts.match_ic_weight and (mean := float(ic[observed].mean())) > 0:
            weights = (ic[observed] / mean) ** opts.match_ic_weight
        systems: dict[int, npt.NDArray[np.float32]] = {}
        for term, weight in zip(observed.tolist(), weights.tolist(), strict=True):
            vector = self.observed_log_lr(term)
            owners = [] if opts.system_cap is None else self.ancestors(term).tolist()
            owners = [a for a in owners if self._system_terms[a]]
            if not owners:
                matched += vector if weight == 1 else np.float32(weight) * vector
            for system in owners:
                share = np.float32(weight / len(owners)) * vector
                systems[system] = systems[system] + share if system in systems else share
        for part in systems.values():
            matched += np.minimum(part, np.float32(opts.system_cap))
        return matched

    @cached_property
    def _system_terms(self) -> npt.NDArray[np.bool_]:
        """Bool per term: is it an organ system (its only phenotypic ancestor is HP:0000118)?"""
        inside, ptr = self.kb.phenotypic_mask, self._state.ancestor_ptr
        cumulative = np.r_[0, np.cumsum(inside[self._state.ancestor_idx])]
        return np.asarray(inside & (cumulative[ptr[1:]] - cumulative[ptr[:-1]] == 2))

    def ancestors(self, term: int) -> npt.NDArray[np.int64]:
        ptr = self._state.ancestor_ptr
        return self._state.ancestor_idx[ptr[term] : ptr[term + 1]]

    def observed_log_lr(self, term: int) -> npt.NDArray[np.float32]:
        """log LR of observing ``term`` for every disease (cached, float32)."""
        cached = self._observed_cache.get(term)
        if cached is not None:
            self._observed_cache.move_to_end(term)
            return cached
        opts = self.options
        lam, ic = opts.specificity_penalty, self._state.information_content
        floor = self._state.log_floor
        closure = self.matrices.closure
        best = np.full(self.matrices.n_diseases, floor)
        for a in self.ancestors(term):
            # log of f·e^{IC(a) − λ(IC(q) − IC(a))}; skip ancestors that cannot beat the floor
            offset = (1 + lam) * ic[a] - lam * ic[term]
            if offset <= floor:
                continue
            start, end = closure.indptr[a], closure.indptr[a + 1]
            rows = closure.indices[start:end]
            values = np.log(closure.data[start:end]) + offset
            best[rows] = np.maximum(best[rows], values)
        negated = self.matrices.negated
        for a in self.ancestors(term):
            rows = negated.indices[negated.indptr[a] : negated.indptr[a + 1]]
            best[rows] -= opts.not_penalty
        result = best.astype(np.float32)
        result.flags.writeable = False
        if opts.cache_terms:
            self._observed_cache[term] = result
            if len(self._observed_cache) > opts.cache_terms:
                self._observed_cache.popitem(last=False)
        return result

    def ancestor_mask(self, term: int) -> npt.NDArray[np.bool_]:
        """Boolean per term: is it an ancestor of ``term`` (itself included)? Cached."""
        return self._term_mask(self._ancestor_masks, term, self.ancestors(term))

    def descendant_mask(self, term: int) -> npt.NDArray[np.bool_]:
        """Boolean per term: is it a descendant of ``term`` (itself included)? Cached."""
        below = self._desc_idx[self._desc_ptr[term] : self._desc_ptr[term + 1]]
        return self._term_mask(self._descendant_masks, term, below)

    def _term_mask(
        self, cache: dict[int, npt.NDArray[np.bool_]], term: int, members: np.ndarray
    ) -> npt.NDArray[np.bool_]:
        mask = cache.get(term)
        if mask is None:
            mask = np.zeros(len(self.kb.term_ids), dtype=bool)
            mask[members] = True
            if len(cache) >= 2048:  # bounded: ~19 KB per mask
                cache.pop(next(iter(cache)))
            cache[term] = mask
        return mask

    def row_facts(self, row: int) -> RowFacts:
        """What evidence needs of disease ``row`` whatever the case (cached per row)."""
        facts = self._row_facts.get(row)
        if facts is not None:
            self._row_facts.move_to_end(row)
            return facts
        facts = self._row_facts[row] = row_facts(self._state, row)
        if len(self._row_facts) > max(self.options.cache_terms, 1):
            self._row_facts.popitem(last=False)
        return facts

    def excluded_log_lr(self, term: int) -> FloatArray:
        """log(1 − p) with p the disease's frequency of ``term`` or a descendant of it."""
        closure = self.matrices.closure
        start, end = closure.indptr[term], closure.indptr[term + 1]
        result = np.zeros(self.matrices.n_diseases)
        result[closure.indices[start:end]] = np.log1p(-np.minimum(closure.data[start:end], 0.99))
        return result

    def _unreported_log(self, terms: npt.NDArray[np.int64]) -> FloatArray:
        touched = np.zeros(len(self.kb.term_ids), dtype=bool)
        for term in terms:
            touched[self.ancestors(int(term))] = True
            touched[self._desc_idx[self._desc_ptr[term] : self._desc_ptr[term + 1]]] = True
        # the total over all annotations minus those under touched terms: only the touched
        # columns' entries are read (a few hundred), not the whole matrix
        matrix = self._unreported
        columns = np.flatnonzero(touched & (np.diff(matrix.indptr) > 0))
        starts, ends = matrix.indptr[columns], matrix.indptr[columns + 1]
        lengths = ends - starts
        if lengths.sum() == 0:
            return self._unreported_total.copy()
        positions = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(
            lengths.sum()
        )
        rows = matrix.indices[positions]
        removed = np.bincount(rows, weights=matrix.data[positions], minlength=matrix.shape[0])
        result: FloatArray = self._unreported_total - removed
        return result

    # --- Predictor ----------------------------------------------------------------------------
    def predict(self, case: Case, top_k: int = 10) -> Prediction:
        terms = case_terms(self.kb, case)
        return self._prediction(case, terms, self.score(case, terms), top_k)

    def predict_batch(self, cases: Sequence[Case], top_k: int = 10) -> list[Prediction]:
        return [self.predict(case, top_k) for case in cases]

    def _prediction(
        self, case: Case, terms: CaseTerms, scores: FloatArray, top_k: int
    ) -> Prediction:
        warnings = list(terms.warnings)
        candidates: list[Candidate] = []
        questions = []
        if terms.observed.size == 0:
            warnings.append("no observed HPO term that this release knows: nothing to rank")
        else:
            groups = self.disease_groups
            posterior = self.probabilities(scores)[0]
            hits = top_groups(groups, scores, top_k, posterior=posterior)
            order = [int(hit.rows[0]) for hit in hits]
            state = self._state
            context = case_context(state, terms)
            evidence = candidates_evidence(
                state, context, order, self.row_facts, self.observed_log_lr
            )
            names = self.matrices.disease_names
            for rank, hit in enumerate(hits, start=1):
                candidates.append(
                    Candidate(
                        **group_candidates(groups, hit, scores, names),
                        rank=rank,
                        score=round(hit.score, 6),
                        probability=hit.probability,
                        evidence=evidence[rank - 1],
                    )
                )
            questions = next_phenotypes(state, terms, posterior)
        return Prediction(
            case_id=case.id,
            predictor=self.name,
            candidates=candidates,
            next_phenotypes=questions,
            genes_to_test=gene_panel(self.gene_table, candidates),
            warnings=warnings,
            provenance=self.provenance(),
        )

    def provenance(self) -> Provenance:
        return Provenance(
            source="ocais.predict.phenotype",
            source_format="prediction",
            created_by=f"ocais {__version__}",
            knowledge_version=self.kb.version,
            parameters={
                **self.options.model_dump(mode="json"),
                "hpo_content_hash": self.kb.release["content_hash"],
            },
        )
