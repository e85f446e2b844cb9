"""Why a disease is a candidate, and which phenotype to check next.

Evidence is computed only for the few returned candidates, with array operations over each
candidate's annotations and the case's terms (what all candidates share is computed once).

"What to check next" follows the expected information gain of asking about one phenotype
(e.g. Buzan & others' sequential diagnosis; Köhler et al. 2009 discuss it for HPO): with the
top candidates' posterior p (renormalized), and P(q | d) from each candidate's annotations, the
gain of q is H(p) − [P(q)·H(p | q) + P(¬q)·H(p | ¬q)].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ocais.predict.terms import CaseTerms
from ocais.schemas import NextPhenotype

if TYPE_CHECKING:
    from ocais.predict.phenotype import PhenotypeRanker

FREQUENT = 0.5  # a feature at least this frequent is "expected" when unreported
ABSENT_RATE = 0.02  # P(q | d) when d is not annotated with q (unannotated, noise)


def _row(matrix: Any, row: int) -> tuple[np.ndarray, np.ndarray]:
    start, end = matrix.indptr[row], matrix.indptr[row + 1]
    return matrix.indices[start:end], matrix.data[start:end]


@dataclass
class CaseContext:
    """What the evidence of every candidate of one case shares (computed once per case)."""

    observed: list[int]
    excluded: np.ndarray  # sorted term indices
    touched: np.ndarray  # bool per term: an ancestor or descendant of a reported term
    negated: dict[int, list[tuple[int, int]]]  # disease row → (observed term, its NOT ancestor)


def case_context(ranker: PhenotypeRanker, terms: CaseTerms) -> CaseContext:
    reported = np.concatenate([terms.observed, terms.excluded])
    touched = np.zeros(len(ranker.kb.term_ids), dtype=bool)
    desc_ptr, desc_idx = ranker.kb.descendant_csr
    for q in reported.tolist():
        touched[ranker.ancestors(q)] = True
        touched[desc_idx[desc_ptr[q] : desc_ptr[q + 1]]] = True
    negated_by_row: dict[int, list[tuple[int, int]]] = {}
    negated = ranker.matrices.negated
    for q in terms.observed.tolist():
        seen: set[int] = set()
        for a in ranker.ancestors(q).tolist():
            for row in negated.indices[negated.indptr[a] : negated.indptr[a + 1]].tolist():
                if row not in seen:  # the first NOT ancestor of q for that disease
                    seen.add(row)
                    negated_by_row.setdefault(row, []).append((q, a))
    return CaseContext(
        observed=terms.observed.tolist(),
        excluded=np.sort(terms.excluded),
        touched=touched,
        negated=negated_by_row,
    )


def candidate_evidence(ranker: PhenotypeRanker, context: CaseContext, row: int) -> dict[str, Any]:
    """Matched, unexplained, missing and conflicting phenotypes of one candidate disease."""
    kb = ranker.kb
    names = kb.term_names
    disease_terms, frequencies = _row(ranker.matrices.direct, row)
    closure_terms, closure_freq = _row(ranker._closure_rows, row)
    matched, unexplained = [], []
    for q in context.observed:
        entry = ranker.match_evidence(q, row)
        if entry is None:
            unexplained.append({"id": kb.term_ids[q], "label": names[q]})
        else:
            matched.append(dict(entry))  # a copy: the cached entry stays as computed
    expected = (frequencies >= FREQUENT) & ~context.touched[disease_terms]
    order = np.argsort(-frequencies[expected], kind="stable")[:8]
    missing = [
        {"id": kb.term_ids[t], "label": names[t], "frequency": round(float(f), 3)}
        for t, f in zip(
            disease_terms[expected][order].tolist(),
            frequencies[expected][order].tolist(),
            strict=True,
        )
    ]
    # excluded patient terms the disease has (at or below them) frequently
    pos = np.searchsorted(closure_terms, context.excluded).clip(max=max(closure_terms.size - 1, 0))
    has = (closure_terms.size > 0) & (closure_terms[pos] == context.excluded)
    frequent = has & (closure_freq[pos] >= FREQUENT)
    conflicts = [
        {
            "id": kb.term_ids[q],
            "label": names[q],
            "frequency": round(float(f), 3),
            "reason": "excluded in the patient, annotated to the disease",
        }
        for q, f in zip(
            context.excluded[frequent].tolist(), closure_freq[pos][frequent].tolist(), strict=True
        )
    ]
    conflicts.extend(
        {
            "id": kb.term_ids[q],
            "label": names[q],
            "frequency": 0.0,
            "reason": f"observed, but the disease is annotated NOT {kb.term_ids[a]}",
        }
        for q, a in context.negated.get(row, [])
    )
    return {
        "matched": matched,
        "unexplained": unexplained,
        "missing": missing,
        "conflicts": conflicts,
    }


def match_evidence(ranker: PhenotypeRanker, q: int, row: int) -> dict[str, Any] | None:
    """How disease ``row`` explains observed term ``q``: the annotation behind its likelihood
    ratio and their relation; ``None`` when it does not (the LR is at the noise floor).
    Depends on (q, row) only, so the ranker caches it."""
    kb = ranker.kb
    log_lr = float(ranker.observed_log_lr(q)[row])
    if log_lr <= ranker._log_floor + 1e-9:
        return None
    ic = ranker._ic
    lam = ranker.options.specificity_penalty
    closure_terms, closure_freq = _row(ranker._closure_rows, row)
    linked = ranker.ancestor_mask(q)[closure_terms]
    if not linked.any():
        return None
    # the ancestor that gave the likelihood ratio; on ties (equal IC along a chain) the deepest
    # one, i.e. the most specific link
    links, link_freq = closure_terms[linked], closure_freq[linked]
    weight = np.round(np.log(link_freq) + (1 + lam) * ic[links], 9)
    link = int(links[np.lexsort((ranker.depth[links], links == q, weight))[-1]])
    # the annotation under that ancestor: the most frequent one (the link itself first)
    disease_terms, frequencies = _row(ranker.matrices.direct, row)
    under = ranker.descendant_mask(link)[disease_terms]
    candidates, candidate_freq = disease_terms[under], frequencies[under]
    pick = np.lexsort((-candidates, candidates == link, candidates == q, candidate_freq))[-1]
    t, frequency = int(candidates[pick]), float(candidate_freq[pick])
    if link == q:
        relation = "exact" if t == q else "patient term is broader"
    else:
        relation = "patient term is more specific" if t == link else "related"
    return {
        "patient_term": kb.term_ids[q],
        "patient_label": kb.term_names[q],
        "disease_term": kb.term_ids[t],
        "disease_label": kb.term_names[t],
        "frequency": round(frequency, 3),
        "relation": relation,
        "log_lr": round(log_lr, 3),
    }


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def next_phenotypes(
    ranker: PhenotypeRanker,
    terms: CaseTerms,
    posterior: np.ndarray,
    *,
    n_candidates: int = 10,
    limit: int = 5,
) -> list[NextPhenotype]:
    """Phenotypes whose presence or absence best separates the top candidates."""
    pool = np.argpartition(-posterior, min(n_candidates, posterior.size) - 1)[:n_candidates]
    top = pool[np.argsort(-posterior[pool], kind="stable")]
    weights = posterior[top] / posterior[top].sum()
    if weights.size < 2 or not np.isfinite(weights).all():
        return []
    reported = set(np.concatenate([terms.observed, terms.excluded]).tolist())
    asked: set[int] = set()
    for q in reported:
        asked.update(ranker.ancestors(q).tolist())
    candidates: set[int] = set()
    for row in top:
        disease_terms, _ = _row(ranker.matrices.direct, int(row))
        candidates.update(t for t in disease_terms.tolist() if t not in asked)
    if not candidates:
        return []
    columns = np.asarray(sorted(candidates))
    closure = np.zeros((top.size, columns.size))  # P(q | d) for the top d
    for i, row in enumerate(top.tolist()):
        row_terms, row_freq = _row(ranker._closure_rows, row)
        pos = np.searchsorted(columns, row_terms).clip(max=columns.size - 1)
        hit = columns[pos] == row_terms
        closure[i, pos[hit]] = row_freq[hit]
    present = np.where(closure > 0, closure, ABSENT_RATE)
    prior_entropy = _entropy(weights)
    p_yes = weights @ present
    post_yes = weights[:, None] * present / np.maximum(p_yes, 1e-12)
    post_no = weights[:, None] * (1 - present) / np.maximum(1 - p_yes, 1e-12)

    def column_entropy(post: np.ndarray) -> np.ndarray:
        safe = np.where(post > 0, post, 1.0)
        result: np.ndarray = -(post * np.log2(safe)).sum(axis=0)
        return result

    gain = prior_entropy - (
        p_yes * column_entropy(post_yes) + (1 - p_yes) * column_entropy(post_no)
    )
    order = np.argsort(-gain, kind="stable")[:limit]
    ids = ranker.matrices.disease_ids
    return [
        NextPhenotype(
            id=ranker.kb.term_ids[int(columns[j])],
            label=ranker.kb.term_names[int(columns[j])],
            information_gain=round(max(float(gain[j]), 0.0), 4),
            candidates_with=[ids[int(top[i])] for i in np.flatnonzero(closure[:, j] > 0)],
        )
        for j in order
        if gain[j] > 1e-6
    ]
