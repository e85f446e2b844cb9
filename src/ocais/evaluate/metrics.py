"""Evaluation metrics as pure functions over per-case outcomes; each returns a flat dict.

A case's *rank* is the 1-based rank of its best-ranked true diagnosis, or ``None`` when the
diagnosis was not ranked (the predictor does not know the disease, returned no candidate, or gave
the truth a score of ``-inf``). A case is *covered* when the predictor knows its diagnosis at all.
Uncovered cases always count as misses in the overall figures; the ``covered``-only figures
show how a predictor ranks what it can rank. Report coverage with every metric.

Ties are ranked pessimistically (the truth comes last among equal scores): diseases with
identical annotations are common, and optimistic tie-breaking flatters a ranker.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np
import numpy.typing as npt

TOP_KS: tuple[int, ...] = (1, 3, 5, 10)
CURVE_MAX_K = 50

AGE_GROUPS: tuple[str, ...] = ("<1", "1-5", "6-11", "12-17", "18-39", "40+", "unknown")
PHENOTYPE_COUNT_GROUPS: tuple[str, ...] = ("0", "1-2", "3-5", "6-10", "11-20", ">20")
SEX_GROUPS: tuple[str, ...] = ("female", "male", "other", "unknown")

Rank = int | None


# --- ranks --------------------------------------------------------------------------------------
def pessimistic_rank(scores: npt.ArrayLike, truth: int | Sequence[int]) -> Rank:
    """Rank of the best-ranked true disease in ``scores`` (one score per disease).

    ``rank = 1 + #(scores > s) + #(non-true diseases with scores == s)`` for the truth's score
    ``s``: among equal scores, every other disease is placed before the truth. With several true
    diseases the best rank wins. A truth scored ``-inf`` or NaN is not ranked; ``None`` if no
    truth is ranked.
    """
    values = np.asarray(scores, dtype=np.float64)
    indices = np.atleast_1d(np.asarray(truth, dtype=np.int64))
    if indices.size == 0:
        return None
    if indices.min() < 0 or indices.max() >= values.size:
        raise ValueError(f"truth index out of range for {values.size} scores: {indices.tolist()}")
    is_truth = np.zeros(values.size, dtype=bool)
    is_truth[indices] = True
    best: Rank = None
    for score in np.unique(values[indices]):
        if np.isnan(score) or score == -np.inf:
            continue
        rank = 1 + int(np.count_nonzero(values > score))
        rank += int(np.count_nonzero((values == score) & ~is_truth))
        best = rank if best is None else min(best, rank)
    return best


def top_indices(scores: npt.ArrayLike, k: int) -> npt.NDArray[np.int64]:
    """Indices of the ``k`` best scores (``-inf`` and NaN left out), best first; ties by index."""
    values = np.asarray(scores, dtype=np.float64)
    finite = np.flatnonzero(~np.isnan(values) & (values != -np.inf))
    if finite.size == 0 or k <= 0:
        return np.empty(0, dtype=np.int64)
    if finite.size > k:
        # the k-th best score; keep everything at least as good, then sort that short list
        threshold = np.partition(values[finite], finite.size - k)[finite.size - k]
        finite = finite[values[finite] >= threshold]
    order = np.lexsort((finite, -values[finite]))
    return finite[order][:k].astype(np.int64)


# --- accuracy -----------------------------------------------------------------------------------
def _check(ranks: Sequence[Rank], covered: Sequence[bool]) -> None:
    if len(ranks) != len(covered):
        raise ValueError(f"{len(ranks)} ranks but {len(covered)} coverage flags")
    for rank, known in zip(ranks, covered, strict=True):
        if rank is not None and (rank < 1 or not known):
            raise ValueError(f"rank {rank} must be >= 1 and belong to a covered case")


def _as_array(ranks: Sequence[Rank]) -> npt.NDArray[np.float64]:
    """Ranks as floats, misses as +inf."""
    return np.array([np.inf if r is None else r for r in ranks], dtype=np.float64)


def topk_curve(ranks: Sequence[Rank], max_k: int = CURVE_MAX_K) -> list[float]:
    """Top-k accuracy for k = 1..max_k (index 0 is top-1); misses count against every k."""
    values = _as_array(ranks)
    if values.size == 0:
        return [0.0] * max_k
    ks = np.arange(1, max_k + 1)
    hits = (values[None, :] <= ks[:, None]).sum(axis=1)
    return [round(float(h) / values.size, 6) for h in hits]


def ranking_metrics(
    ranks: Sequence[Rank], covered: Sequence[bool], ks: Sequence[int] = TOP_KS
) -> dict[str, float]:
    """Top-k accuracy (``top1``, ``top3``, ...), ``mrr``, ``coverage`` and counts.

    MRR is the mean of ``1/rank`` with 0 for a miss (Voorhees, TREC-8 QA track, 1999).
    ``mean_rank``/``median_rank`` are over the ranked cases only (NaN-free: 0 when none).
    """
    _check(ranks, covered)
    values = _as_array(ranks)
    n = values.size
    ranked = values[np.isfinite(values)]
    result: dict[str, float] = {
        "n_cases": n,
        "n_covered": int(sum(covered)),
        "n_ranked": int(ranked.size),
        "coverage": _share(sum(covered), n),
    }
    for k in ks:
        result[f"top{k}"] = _share(int(np.count_nonzero(values <= k)), n)
    result["mrr"] = round(float(np.sum(1.0 / ranked)) / n, 6) if n else 0.0
    result["mean_rank"] = round(float(ranked.mean()), 4) if ranked.size else 0.0
    result["median_rank"] = float(np.median(ranked)) if ranked.size else 0.0
    return result


def covered_metrics(
    ranks: Sequence[Rank], covered: Sequence[bool], ks: Sequence[int] = TOP_KS
) -> dict[str, float]:
    """:func:`ranking_metrics` restricted to the covered cases (coverage is then 1)."""
    _check(ranks, covered)
    kept = [r for r, c in zip(ranks, covered, strict=True) if c]
    return ranking_metrics(kept, [True] * len(kept), ks)


def _share(count: float, total: int) -> float:
    return round(float(count) / total, 6) if total else 0.0


# --- subgroups ----------------------------------------------------------------------------------
def age_group(age_years: float | None) -> str:
    """Age band: ``<1``, ``1-5``, ``6-11``, ``12-17``, ``18-39``, ``40+`` or ``unknown``."""
    if age_years is None:
        return "unknown"
    for upper, label in ((1, "<1"), (6, "1-5"), (12, "6-11"), (18, "12-17"), (40, "18-39")):
        if age_years < upper:
            return label
    return "40+"


def phenotype_count_group(n_observed: int) -> str:
    """Band of the number of observed phenotypes: ``0``, ``1-2``, ``3-5``, ``6-10``, ..."""
    for upper, label in ((0, "0"), (2, "1-2"), (5, "3-5"), (10, "6-10"), (20, "11-20")):
        if n_observed <= upper:
            return label
    return ">20"


def subgroup_metrics(
    ranks: Sequence[Rank],
    covered: Sequence[bool],
    groups: Sequence[str],
    order: Sequence[str] = (),
) -> dict[str, dict[str, float]]:
    """:func:`ranking_metrics` per group label; groups in ``order`` first, then the rest sorted.

    Groups listed in ``order`` but absent from the data are left out.
    """
    _check(ranks, covered)
    if len(groups) != len(ranks):
        raise ValueError(f"{len(ranks)} ranks but {len(groups)} group labels")
    members: dict[str, list[int]] = {}
    for index, label in enumerate(groups):
        members.setdefault(label, []).append(index)
    labels = [g for g in order if g in members] + sorted(set(members) - set(order))
    return {
        label: ranking_metrics(
            [ranks[i] for i in members[label]], [covered[i] for i in members[label]]
        )
        for label in labels
    }


def per_disease_table(
    truths: Sequence[Collection[str]],
    ranks: Sequence[Rank],
    covered: Sequence[bool],
    names: Mapping[str, str],
) -> list[dict[str, str | int | float | None]]:
    """One row per true disease: id, name, cases, coverage, top-1, top-10, mean rank.

    A case with several true diagnoses counts for each of them. ``mean_rank`` is over the cases
    where the disease was ranked (``None`` if never). Rows: most cases first, then by id.
    """
    _check(ranks, covered)
    cases: dict[str, list[int]] = {}
    for index, truth in enumerate(truths):
        for disease_id in sorted(set(truth)):
            cases.setdefault(disease_id, []).append(index)
    rows: list[dict[str, str | int | float | None]] = []
    for disease_id, members in sorted(cases.items(), key=lambda item: (-len(item[1]), item[0])):
        metrics = ranking_metrics([ranks[i] for i in members], [covered[i] for i in members])
        rows.append(
            {
                "disease_id": disease_id,
                "name": names.get(disease_id, ""),
                "n_cases": len(members),
                "coverage": metrics["coverage"],
                "top1": metrics["top1"],
                "top10": metrics["top10"],
                "mean_rank": metrics["mean_rank"] if metrics["n_ranked"] else None,
            }
        )
    return rows


# --- binary view --------------------------------------------------------------------------------
def binary_top_k(
    disease_id: str,
    truths: Sequence[Collection[str]],
    top_ids: Sequence[Sequence[str]],
    k: int = 10,
) -> dict[str, str | int | float | None]:
    """Sensitivity and specificity of the test "``disease_id`` is in the top ``k``".

    Positives are the cases whose truth includes the disease (TP: it is in their top ``k``);
    negatives are all other cases (TN: it is not in their top ``k``). ``top_ids`` must list at
    least ``k`` candidates where the predictor has them. Undefined ratios are ``None``.
    """
    if len(truths) != len(top_ids):
        raise ValueError(f"{len(truths)} truths but {len(top_ids)} candidate lists")
    tp = fn = fp = tn = 0
    for truth, top in zip(truths, top_ids, strict=True):
        flagged = disease_id in top[:k]
        if disease_id in truth:
            tp, fn = (tp + 1, fn) if flagged else (tp, fn + 1)
        else:
            fp, tn = (fp + 1, tn) if flagged else (fp, tn + 1)
    return {
        "disease_id": disease_id,
        "k": k,
        "n_positive": tp + fn,
        "n_negative": fp + tn,
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "tn": tn,
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "ppv": _ratio(tp, tp + fp),
        "npv": _ratio(tn, tn + fn),
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


# --- calibration --------------------------------------------------------------------------------
def reliability_bins(
    probabilities: Sequence[float], correct: Sequence[bool], n_bins: int = 10
) -> list[dict[str, float]]:
    """Equal-width confidence bins over [0, 1]: count, mean confidence and accuracy per bin.

    A probability of exactly 1 falls in the last bin; empty bins are kept (count 0).
    """
    confidence, hits = _calibration_arrays(probabilities, correct)
    index = np.minimum((confidence * n_bins).astype(np.int64), n_bins - 1)
    bins = []
    for b in range(n_bins):
        mask = index == b
        count = int(mask.sum())
        bins.append(
            {
                "lower": round(b / n_bins, 6),
                "upper": round((b + 1) / n_bins, 6),
                "count": count,
                "confidence": round(float(confidence[mask].mean()), 6) if count else 0.0,
                "accuracy": round(float(hits[mask].mean()), 6) if count else 0.0,
            }
        )
    return bins


def calibration_metrics(
    probabilities: Sequence[float], correct: Sequence[bool], n_bins: int = 10
) -> dict[str, float]:
    """Expected and maximum calibration error over equal-width bins, and the Brier score.

    ECE = Σ_b (n_b / N) · |accuracy_b − confidence_b| (Naeini et al., AAAI 2015; Guo et al.,
    "On Calibration of Modern Neural Networks", ICML 2017); MCE is the largest bin gap.
    """
    confidence, hits = _calibration_arrays(probabilities, correct)
    n = confidence.size
    if n == 0:
        return {"n": 0, "ece": 0.0, "mce": 0.0, "brier": 0.0, "confidence": 0.0, "accuracy": 0.0}
    gaps = [
        (b["count"], abs(b["accuracy"] - b["confidence"]))
        for b in reliability_bins(probabilities, correct, n_bins)
        if b["count"]
    ]
    return {
        "n": n,
        "ece": round(sum(count * gap for count, gap in gaps) / n, 6),
        "mce": round(max(gap for _, gap in gaps), 6),
        "brier": round(float(np.mean((confidence - hits) ** 2)), 6),
        "confidence": round(float(confidence.mean()), 6),
        "accuracy": round(float(hits.mean()), 6),
    }


def _calibration_arrays(
    probabilities: Sequence[float], correct: Sequence[bool]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    if len(probabilities) != len(correct):
        raise ValueError(f"{len(probabilities)} probabilities but {len(correct)} outcomes")
    confidence = np.asarray(probabilities, dtype=np.float64)
    if confidence.size and (
        np.isnan(confidence).any() or confidence.min() < 0 or confidence.max() > 1
    ):
        raise ValueError("probabilities must lie in [0, 1]")
    return confidence, np.asarray(correct, dtype=np.float64)
