"""Why a disease is a candidate, and which phenotype to check next.

Evidence is computed only for the few returned candidates, with array operations over each
candidate's annotations and the case's terms: what all candidates share is computed once per
case (:class:`CaseContext`), what one disease contributes whatever the case once per disease
(:class:`RowFacts`, cached by the ranker), and each candidate's matches for all the case's terms
at once. The functions read the ranker through :class:`~ocais.predict.phenotype.RankerState` (its
``state``) and, for its cached per-disease and per-term lookups, the two methods passed in.

"What to check next" follows the expected information gain of asking about one phenotype
(e.g. Buzan & others' sequential diagnosis; Köhler et al. 2009 discuss it for HPO): with the
top candidates' posterior p (renormalized), and P(q | d) from each candidate's annotations, the
gain of q is H(p) − [P(q)·H(p | q) + P(¬q)·H(p | ¬q)].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ocais.predict.terms import CaseTerms
from ocais.schemas import NextPhenotype

if TYPE_CHECKING:
    from ocais.predict.phenotype import RankerState

FREQUENT = 0.5  # a feature at least this frequent is "expected" when unreported
ABSENT_RATE = 0.02  # P(q | d) when d is not annotated with q (unannotated, noise)
MISSING_SHOWN = 8  # unreported frequent features listed per candidate

_EMPTY = np.zeros(0, dtype=np.int64)


def _row(matrix: Any, row: int) -> tuple[np.ndarray, np.ndarray]:
    start, end = matrix.indptr[row], matrix.indptr[row + 1]
    return matrix.indices[start:end], matrix.data[start:end]


def _spans(ptr: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positions ``ptr[i]:ptr[i+1]`` for every i of ``items``, concatenated, and each one's
    position in ``items`` (one vectorized gather instead of a loop of slices)."""
    starts, ends = ptr[items], ptr[items + 1]
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return _EMPTY, _EMPTY
    owner = np.repeat(np.arange(items.size), lengths)
    offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return starts[owner] + offsets, owner


def _gather(ptr: np.ndarray, idx: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``idx[ptr[i]:ptr[i+1]]`` for every i of ``items``, concatenated, and each one's position
    in ``items``."""
    positions, owner = _spans(ptr, items)
    return idx[positions], owner


def _last_of_groups(sorted_groups: np.ndarray) -> np.ndarray:
    """Positions of the last element of each run of equal values."""
    last = np.empty(sorted_groups.size, dtype=bool)
    if sorted_groups.size:
        np.not_equal(sorted_groups[1:], sorted_groups[:-1], out=last[:-1])
        last[-1] = True
    return np.flatnonzero(last)


def _positions(sorted_terms: np.ndarray, terms: np.ndarray) -> np.ndarray:
    """Where ``terms`` are, or would be, in ``sorted_terms`` (not empty), kept within bounds:
    compare ``sorted_terms[result] == terms`` for membership."""
    found = np.searchsorted(sorted_terms, terms)
    return np.minimum(found, sorted_terms.size - 1, out=found)


@dataclass(frozen=True)
class RowFacts:
    """What the evidence of one disease needs, whatever the case (the ranker caches it)."""

    closure_terms: np.ndarray  # sorted: the annotations and their ancestors
    closure_freq: np.ndarray
    link_weight: np.ndarray  # per closure term: log f + (1 + λ)·IC, rounded (ties → deeper)
    disease_terms: np.ndarray  # sorted direct annotations
    frequencies: np.ndarray
    under_terms: np.ndarray  # sorted: every term at or above an annotation
    under_best: np.ndarray  # per under term: its most frequent annotation (itself, then lowest id)
    under_freq: np.ndarray
    frequent_terms: np.ndarray  # annotations with f ≥ FREQUENT, most frequent first (stable)
    frequent_freq: np.ndarray


def row_facts(state: RankerState, row: int) -> RowFacts:
    closure_terms, closure_freq = _row(state.closure_rows, row)
    disease_terms, frequencies = _row(state.matrices.direct, row)
    lam = state.specificity_penalty
    link_weight = np.round(
        np.log(closure_freq) + (1 + lam) * state.information_content[closure_terms], 9
    )
    above, owner = _gather(state.ancestor_ptr, state.ancestor_idx, disease_terms)
    below, below_freq = disease_terms[owner], frequencies[owner]
    # per term above: the most frequent annotation under it; then the term itself; then lowest id
    order = np.lexsort((-below, below == above, below_freq, above))
    last = order[_last_of_groups(above[order])]
    frequent = np.flatnonzero(frequencies >= FREQUENT)
    by_frequency = frequent[np.argsort(-frequencies[frequent], kind="stable")]
    return RowFacts(
        closure_terms=closure_terms,
        closure_freq=closure_freq,
        link_weight=link_weight,
        disease_terms=disease_terms,
        frequencies=frequencies,
        under_terms=above[last],
        under_best=below[last],
        under_freq=below_freq[last],
        frequent_terms=disease_terms[by_frequency],
        frequent_freq=frequencies[by_frequency],
    )


@dataclass
class CaseContext:
    """What the evidence of every candidate of one case shares (computed once per case)."""

    observed: list[int]
    excluded: np.ndarray  # sorted term indices
    touched: np.ndarray  # bool per term: an ancestor or descendant of a reported term
    terms: TermAncestors  # the observed terms and their ancestors, for matching
    # (disease row, observed term, its ancestor the disease is annotated NOT to have), in the
    # order of the terms and of their ancestors
    negated_rows: np.ndarray
    negated_terms: np.ndarray
    negated_ancestors: np.ndarray

    def negated(self, row: int) -> list[tuple[int, int]]:
        """(observed term, its first ancestor the disease is annotated NOT to have)."""
        if not self.negated_rows.size:
            return []
        found: dict[int, int] = {}
        for i in np.flatnonzero(self.negated_rows == row).tolist():
            found.setdefault(int(self.negated_terms[i]), int(self.negated_ancestors[i]))
        return list(found.items())


@dataclass(frozen=True)
class TermAncestors:
    """Terms and their ancestors as flat arrays: what matches them to a disease in one go."""

    terms: np.ndarray
    ancestors: np.ndarray  # every ancestor (itself included) of every term
    owner: np.ndarray  # the position in ``terms`` of each ancestor's term
    is_term: np.ndarray  # ancestor == its term
    depth: np.ndarray  # number of ancestors of each ancestor


def term_ancestors(state: RankerState, terms: np.ndarray) -> TermAncestors:
    terms = np.asarray(terms, dtype=np.int64)
    ancestors, owner = _gather(state.ancestor_ptr, state.ancestor_idx, terms)
    return TermAncestors(
        terms=terms,
        ancestors=ancestors,
        owner=owner,
        is_term=ancestors == terms[owner],
        depth=state.depth[ancestors],
    )


def case_context(state: RankerState, terms: CaseTerms) -> CaseContext:
    reported = np.concatenate([terms.observed, terms.excluded])
    touched = np.zeros(len(state.kb.term_ids), dtype=bool)
    desc_ptr, desc_idx = state.kb.descendant_csr
    touched[_gather(state.ancestor_ptr, state.ancestor_idx, reported)[0]] = True
    touched[_gather(desc_ptr, desc_idx, reported)[0]] = True
    observed = term_ancestors(state, terms.observed)
    negated = state.matrices.negated
    rows, pair = _gather(negated.indptr, negated.indices, observed.ancestors)
    return CaseContext(
        observed=terms.observed.tolist(),
        excluded=np.sort(terms.excluded),
        touched=touched,
        terms=observed,
        negated_rows=rows,
        negated_terms=observed.terms[observed.owner[pair]],
        negated_ancestors=observed.ancestors[pair],
    )


RowFactsLookup = Callable[[int], RowFacts]  # a disease row's facts (the ranker caches them)
LogLRLookup = Callable[[int], np.ndarray]  # log LR of observing a term, per disease (cached)


def candidates_evidence(
    state: RankerState,
    context: CaseContext,
    rows: Sequence[int],
    facts_of: RowFactsLookup,
    observed_log_lr: LogLRLookup,
) -> list[dict[str, Any]]:
    """Matched, unexplained, missing and conflicting phenotypes of each candidate in ``rows``.

    Computed together: array operations over all their annotations at once (keys
    ``candidate · n_terms + term`` keep them apart). ``facts_of`` and ``observed_log_lr`` are the
    ranker's cached lookups, ``PhenotypeRanker.row_facts`` and ``.observed_log_lr``."""
    kb = state.kb
    ids, names = kb.term_ids, kb.term_names
    n = len(ids)
    facts = [facts_of(int(row)) for row in rows]
    k = np.arange(len(facts))
    observed = context.observed
    matches = _matches(state, context, np.asarray(rows, dtype=np.int64), facts, observed_log_lr)
    evidence: list[dict[str, Any]] = []
    for i in range(len(facts)):
        matched, unexplained = [], []
        for j, q in enumerate(observed):
            entry = matches.get((i, j))
            if entry is None:
                unexplained.append({"id": ids[q], "label": names[q]})
            else:
                matched.append(entry)
        evidence.append(
            {"matched": matched, "unexplained": unexplained, "missing": [], "conflicts": []}
        )
    # missing: each candidate's frequent annotations that no patient term touches, the most
    # frequent first (at most MISSING_SHOWN listed; ``missing_total`` counts them all)
    frequent = np.concatenate([f.frequent_terms for f in facts])
    frequent_freq = np.concatenate([f.frequent_freq for f in facts])
    owner = np.repeat(k, [f.frequent_terms.size for f in facts])
    kept = np.flatnonzero(~context.touched[frequent])
    # how many each candidate misses in all, so a capped list never reads as complete
    totals = np.bincount(owner[kept], minlength=len(facts)).tolist()
    for i, total in enumerate(totals):
        evidence[i]["missing_total"] = int(total)
    rank = np.arange(kept.size) - np.searchsorted(owner[kept], owner[kept])
    kept = kept[rank < MISSING_SHOWN]
    for i, t, f in zip(
        owner[kept].tolist(), frequent[kept].tolist(), frequent_freq[kept].tolist(), strict=True
    ):
        evidence[i]["missing"].append({"id": ids[t], "label": names[t], "frequency": round(f, 3)})
    # conflicts: excluded patient terms the disease has (at or below them) frequently ...
    if context.excluded.size:
        closure_keys = np.concatenate([f.closure_terms + i * n for i, f in enumerate(facts)])
        closure_freq = np.concatenate([f.closure_freq for f in facts])
        if closure_keys.size:
            wanted = (k[:, None] * n + context.excluded[None, :]).ravel()
            pos = _positions(closure_keys, wanted)
            hit = np.flatnonzero((closure_keys[pos] == wanted) & (closure_freq[pos] >= FREQUENT))
            for key, f in zip(wanted[hit].tolist(), closure_freq[pos[hit]].tolist(), strict=True):
                i, q = divmod(key, n)
                evidence[i]["conflicts"].append(
                    {
                        "id": ids[q],
                        "label": names[q],
                        "frequency": round(f, 3),
                        "reason": "excluded in the patient, annotated to the disease",
                    }
                )
    # ... and observed terms below a feature the disease is annotated NOT to have
    for i, row in enumerate(rows):
        evidence[i]["conflicts"].extend(
            {
                "id": ids[q],
                "label": names[q],
                "frequency": 0.0,
                "reason": f"observed, but the disease is annotated NOT {ids[a]}",
            }
            for q, a in context.negated(int(row))
        )
    return evidence


def _matches(
    state: RankerState,
    context: CaseContext,
    rows: np.ndarray,
    facts: list[RowFacts],
    observed_log_lr: LogLRLookup,
) -> dict[tuple[int, int], dict[str, Any]]:
    """How each candidate i explains each observed term j, for every pair that has a match."""
    kb = state.kb
    n = len(kb.term_ids)
    terms = context.terms
    n_terms = terms.terms.size
    if n_terms == 0 or not facts:
        return {}
    log_lr = np.stack([observed_log_lr(q)[rows] for q in context.observed])  # (j, i)
    need = log_lr > state.log_floor + 1e-9
    log_lrs = log_lr.tolist()
    if not need.any():
        return {}
    k = np.arange(len(facts))
    closure_keys = np.concatenate([f.closure_terms + i * n for i, f in enumerate(facts)])
    if closure_keys.size == 0:
        return {}
    link_weight = np.concatenate([f.link_weight for f in facts])
    # every (candidate, ancestor of an observed term) that the candidate has in its closure
    wanted = (k[:, None] * n + terms.ancestors[None, :]).ravel()
    pos = _positions(closure_keys, wanted)
    hit = np.flatnonzero((closure_keys[pos] == wanted) & need.T[:, terms.owner].ravel())
    column = hit % terms.ancestors.size
    group = (hit // terms.ancestors.size) * n_terms + terms.owner[column]
    # per (candidate, term), the ancestor that gave the likelihood ratio: the highest weight; on
    # ties the term itself, then the deepest one (the most specific link), then the highest id
    links = terms.ancestors[column]
    order = np.lexsort(
        (links, terms.depth[column], terms.is_term[column], link_weight[pos[hit]], group)
    )
    best = order[_last_of_groups(group[order])]
    group, links = group[best], links[best]
    candidate = group // n_terms
    # the annotation under that ancestor: the most frequent one (the term, then the link first)
    under_keys = np.concatenate([f.under_terms + i * n for i, f in enumerate(facts)])
    link_keys = candidate * n + links
    under = _positions(under_keys, link_keys)
    if (under_keys[under] != link_keys).any():
        raise AssertionError("a disease term with no annotation under it")
    picks = np.concatenate([f.under_best for f in facts])[under].tolist()
    pick_freq = np.concatenate([f.under_freq for f in facts])[under].tolist()
    term_keys = candidate * n + terms.terms[group % n_terms]
    direct_keys = np.concatenate([f.disease_terms + i * n for i, f in enumerate(facts)])
    own = _positions(direct_keys, term_keys)
    own_hit = (direct_keys[own] == term_keys).tolist()
    own_freq = np.concatenate([f.frequencies for f in facts])[own].tolist()
    found: dict[tuple[int, int], dict[str, Any]] = {}
    observed = context.observed
    for x, (g, link) in enumerate(zip(group.tolist(), links.tolist(), strict=True)):
        i, j = divmod(g, n_terms)
        q = observed[j]
        t, frequency = picks[x], pick_freq[x]
        if own_hit[x] and own_freq[x] == frequency:  # q itself, annotated as often
            t = q
        if link == q:
            relation = "exact" if t == q else "patient term is broader"
        else:
            relation = "patient term is more specific" if t == link else "related"
        found[(i, j)] = {
            "patient_term": kb.term_ids[q],
            "patient_label": kb.term_names[q],
            "disease_term": kb.term_ids[t],
            "disease_label": kb.term_names[t],
            "frequency": round(frequency, 3),
            "relation": relation,
            "log_lr": round(log_lrs[j][i], 3),
        }
    return found


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def next_phenotypes(
    state: RankerState,
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
    reported = np.concatenate([terms.observed, terms.excluded])
    asked = np.zeros(len(state.kb.term_ids), dtype=bool)
    asked[_gather(state.ancestor_ptr, state.ancestor_idx, reported)[0]] = True
    direct = state.matrices.direct
    candidates = np.zeros(asked.size, dtype=bool)
    candidates[_gather(direct.indptr, direct.indices, top)[0]] = True
    columns = np.flatnonzero(candidates & ~asked)
    if columns.size == 0:
        return []
    closure = np.zeros((top.size, columns.size))  # P(q | d) for the top d
    rows = state.closure_rows
    entries, owner = _spans(rows.indptr, top)
    row_terms = rows.indices[entries]
    pos = _positions(columns, row_terms)
    hit = columns[pos] == row_terms
    closure[owner[hit], pos[hit]] = rows.data[entries[hit]]
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
    ids = state.matrices.disease_ids
    top_ids = [ids[row] for row in top.tolist()]
    return [
        NextPhenotype(
            id=state.kb.term_ids[term],
            label=state.kb.term_names[term],
            information_gain=round(max(g, 0.0), 4),
            candidates_with=[top_id for top_id, has in zip(top_ids, with_, strict=True) if has],
        )
        for term, g, with_ in zip(
            columns[order].tolist(),
            gain[order].tolist(),
            (closure[:, order] > 0).T.tolist(),
            strict=True,
        )
        if g > 1e-6
    ]
