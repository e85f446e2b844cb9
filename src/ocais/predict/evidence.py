"""Why a disease is a candidate, and which phenotype to check next.

Evidence is computed only for the few returned candidates, so small Python loops over one
disease's annotations are fine here (ranking itself is vectorized).

"What to check next" follows the expected information gain of asking about one phenotype
(e.g. Buzan & others' sequential diagnosis; Köhler et al. 2009 discuss it for HPO): with the
top candidates' posterior p (renormalized), and P(q | d) from each candidate's annotations, the
gain of q is H(p) − [P(q)·H(p | q) + P(¬q)·H(p | ¬q)].
"""

from __future__ import annotations

import math
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


def candidate_evidence(ranker: PhenotypeRanker, terms: CaseTerms, row: int) -> dict[str, Any]:
    """Matched, unexplained, missing and conflicting phenotypes of one candidate disease."""
    kb = ranker.kb
    names = kb.term_names
    disease_terms, frequencies = _row(ranker.matrices.direct, row)
    freq_of = dict(zip(disease_terms.tolist(), frequencies.tolist(), strict=True))
    disease_anc = {t: set(ranker.ancestors(t).tolist()) for t in freq_of}
    closure_row = dict(zip(*(x.tolist() for x in _row(ranker._closure_rows, row)), strict=True))
    lam, ic = ranker.options.specificity_penalty, ranker._ic
    matched, unexplained = [], []
    for q in terms.observed.tolist():
        log_lr = float(ranker.observed_log_lr(q)[row])
        links = [a for a in ranker.ancestors(q).tolist() if a in closure_row]
        if not links or log_lr <= ranker._log_floor + 1e-9:
            unexplained.append({"id": kb.term_ids[q], "label": names[q]})
            continue
        # the ancestor that gave the likelihood ratio, then the annotation under it
        # ties (equal IC along a chain): the deepest ancestor, i.e. the most specific link
        link = max(
            links,
            key=lambda a: (
                round(float(math.log(closure_row[a]) + (1 + lam) * ic[a]), 9),
                a == q,
                ranker.ancestors(a).size,
            ),
        )
        under = [t for t, t_anc in disease_anc.items() if link in t_anc]
        t = max(under, key=lambda x: (freq_of[x], x == q, x == link))
        if link == q:
            relation = "exact" if t == q else "patient term is broader"
        else:
            relation = "patient term is more specific" if t == link else "related"
        matched.append(
            {
                "patient_term": kb.term_ids[q],
                "patient_label": names[q],
                "disease_term": kb.term_ids[t],
                "disease_label": names[t],
                "frequency": round(freq_of[t], 3),
                "relation": relation,
                "log_lr": round(log_lr, 3),
            }
        )
    touched = set()
    for q in np.concatenate([terms.observed, terms.excluded]).tolist():
        touched.update(ranker.ancestors(q).tolist())
    reported = set(np.concatenate([terms.observed, terms.excluded]).tolist())
    missing = [
        {"id": kb.term_ids[t], "label": names[t], "frequency": round(f, 3)}
        for t, f in sorted(freq_of.items(), key=lambda item: -item[1])
        if f >= FREQUENT and t not in touched and not (disease_anc[t] & reported)
    ][:8]
    conflicts = [
        {
            "id": kb.term_ids[q],
            "label": names[q],
            "frequency": round(float(closure_row[q]), 3),
            "reason": "excluded in the patient, annotated to the disease",
        }
        for q in terms.excluded.tolist()
        if closure_row.get(q, 0.0) >= FREQUENT
    ]
    negated = ranker.matrices.negated
    for q in terms.observed.tolist():
        for a in ranker.ancestors(q).tolist():
            rows = negated.indices[negated.indptr[a] : negated.indptr[a + 1]]
            if row in rows:
                conflicts.append(
                    {
                        "id": kb.term_ids[q],
                        "label": names[q],
                        "frequency": 0.0,
                        "reason": f"observed, but the disease is annotated NOT {kb.term_ids[a]}",
                    }
                )
                break
    return {
        "matched": matched,
        "unexplained": unexplained,
        "missing": missing,
        "conflicts": conflicts,
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
    top = np.argsort(-posterior, kind="stable")[:n_candidates]
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
    closure = ranker._closure_rows[top][:, columns].toarray()  # P(q | d) for top d
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
