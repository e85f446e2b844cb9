"""Privacy, fidelity and utility of a synthetic patient set, measured against its source.

A case is compared through its *item set*: the HPO terms it shows (term index ``i``) and those
explicitly excluded (``-(i + 1)``), resolved against the knowledge base. Distances are Jaccard
distances between item sets, ``1 − |a ∩ b| / |a ∪ b|`` (two empty sets are identical).

* **Privacy.** Exact copies (a synthetic case with a source case's item set *and* diagnosis),
  near copies (Jaccard distance ≤ ``near_copy`` to a source case), the distance to the closest
  record (DCR) of synthetic and of holdout cases to the source, and the AUC of a distance-based
  membership-inference attack: a source case (member) or holdout case (non-member) is scored by
  minus its distance to the closest synthetic case. An AUC of 0.5 means the synthetic set tells
  an attacker nothing about who was in the source (Hayes et al., "LOGAN: Membership Inference
  Attacks Against Generative Models", PoPETs 2019; DCR as in Park et al., "Data Synthesis based
  on Generative Adversarial Networks", VLDB 2018). By default a case is compared only with cases
  of the same confirmed diagnosis (an attacker knows which cohort to look in), falling back to
  all cases when the other set has none of that diagnosis.
* **Fidelity.** Per disease, the Pearson correlation of item frequencies between the synthetic
  and the source cases; disease coverage; phenotypes per case.
* **Utility.** Train on synthetic, test on real: top-k accuracy on holdout cases of the learned
  predictor fitted on the synthetic set, next to the knowledge-only ranker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from ocais import __version__
from ocais.errors import ConfigError
from ocais.evaluate.metrics import pessimistic_rank, ranking_metrics
from ocais.knowledge import KnowledgeBase
from ocais.learn.profiles import truth_of
from ocais.predict.base import DiseaseScorer
from ocais.predict.terms import case_terms
from ocais.schemas import Case, Provenance

if TYPE_CHECKING:
    from ocais.learn.model import LearnOptions

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

REPORT_FORMAT = "ocais-synth-report/1"
HISTOGRAM_BINS = 20
ROC_POINTS = 201
# dense intersection blocks hold at most this many query × reference cells (float64: 32 MB)
BLOCK_CELLS = 4_000_000
SCORE_CHUNK = 256


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- item sets and distances ------------------------------------------------------------------
def phenotype_sets(cases: Sequence[Case], kb: KnowledgeBase) -> list[frozenset[int]]:
    """Per case, its resolved observed term indices and excluded ones as ``-(index + 1)``.

    Ids are resolved with ``kb.resolve_id`` (alternative and obsolete ids replaced, unknown ones
    dropped); a term both observed and excluded counts as observed.
    """
    result = []
    for case in cases:
        terms = case_terms(kb, case)
        result.append(item_set(terms.observed.tolist(), terms.excluded.tolist()))
    return result


def item_set(observed: Iterable[int], excluded: Iterable[int]) -> frozenset[int]:
    """One case's items: observed term indices, and excluded ones as ``-(index + 1)``."""
    return frozenset(observed) | frozenset(-(i + 1) for i in excluded)


def jaccard_distance(a: frozenset[int], b: frozenset[int]) -> float:
    """``1 − |a ∩ b| / |a ∪ b|``; 0 for two empty sets."""
    union = len(a | b)
    return 0.0 if union == 0 else 1.0 - len(a & b) / union


def item_matrix(sets: Sequence[frozenset[int]], n_terms: int) -> sp.csr_array:
    """Binary case × item matrix: column ``i`` for term ``i``, ``n_terms + i`` for its exclusion."""
    lengths = np.fromiter((len(s) for s in sets), dtype=np.int64, count=len(sets))
    items = np.fromiter((i for s in sets for i in s), dtype=np.int64, count=int(lengths.sum()))
    columns = np.where(items >= 0, items, n_terms - items - 1)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    data = np.ones(columns.size, dtype=np.float64)
    return sp.csr_array((data, columns, indptr), shape=(len(sets), 2 * n_terms))


def nearest_distances(
    queries: sp.csr_array,
    references: sp.csr_array,
    query_groups: Sequence[str | None] | None = None,
    reference_groups: Sequence[str | None] | None = None,
) -> tuple[FloatArray, IntArray]:
    """Jaccard distance of each query row to its closest reference row, and that row's index.

    With groups (e.g. diagnoses), a query is compared only with references of its own group, or
    with all references when none has its group. Intersections come from a sparse product,
    block by block (at most ``BLOCK_CELLS`` dense cells at a time). No references: distance 1.
    """
    n_queries, n_references = queries.shape[0], references.shape[0]
    if n_references == 0:
        return np.ones(n_queries), np.full(n_queries, -1, dtype=np.int64)
    query_codes, reference_codes = _group_codes(query_groups, reference_groups, queries, references)
    fallback = ~np.isin(query_codes, reference_codes)
    query_sizes = np.asarray(queries.sum(axis=1)).ravel()
    reference_sizes = np.asarray(references.sum(axis=1)).ravel()
    transposed = sp.csr_array(references.T)
    distances = np.empty(n_queries)
    nearest = np.empty(n_queries, dtype=np.int64)
    step = max(1, BLOCK_CELLS // n_references)
    for start in range(0, n_queries, step):
        stop = min(start + step, n_queries)
        intersection = (queries[start:stop] @ transposed).toarray()
        union = query_sizes[start:stop, None] + reference_sizes[None, :] - intersection
        with np.errstate(invalid="ignore", divide="ignore"):
            block = np.where(union > 0, 1.0 - intersection / union, 0.0)
        other = query_codes[start:stop, None] != reference_codes[None, :]
        block[other & ~fallback[start:stop, None]] = np.inf
        nearest[start:stop] = np.argmin(block, axis=1)
        distances[start:stop] = block[np.arange(stop - start), nearest[start:stop]]
    return distances, nearest


def _group_codes(
    query_groups: Sequence[str | None] | None,
    reference_groups: Sequence[str | None] | None,
    queries: sp.csr_array,
    references: sp.csr_array,
) -> tuple[IntArray, IntArray]:
    """Integer group codes; a query group no reference has gets -1. No groups: all 0."""
    if query_groups is None or reference_groups is None:
        zeros = np.zeros(queries.shape[0] + references.shape[0], dtype=np.int64)
        return zeros[: queries.shape[0]], zeros[queries.shape[0] :]
    codes: dict[str | None, int] = {}
    reference = np.asarray([codes.setdefault(g, len(codes)) for g in reference_groups])
    query = np.asarray([codes.get(g, -1) for g in query_groups], dtype=np.int64)
    return query, reference.astype(np.int64)


# --- privacy ------------------------------------------------------------------------------------
class Histogram(_Model):
    edges: list[float]
    counts: dict[str, list[int]] = Field(description="Counts per bin, per named distribution")


class RocCurve(_Model):
    false_positive_rate: list[float]
    true_positive_rate: list[float]


class PrivacyMetrics(_Model):
    """Privacy figures of a synthetic set (see the module docstring)."""

    n_synthetic: int
    n_source: int
    n_holdout: int
    same_disease: bool = Field(description="Cases compared only within their diagnosis")
    near_copy_threshold: float
    exact_copies: int = Field(description="Synthetic cases with a source case's items and dx")
    exact_copy_rate: float
    near_copies: int = Field(description="Synthetic cases within the threshold (exact included)")
    near_copy_rate: float
    dcr_synthetic_median: float
    dcr_synthetic_p5: float
    dcr_holdout_median: float | None
    dcr_holdout_p5: float | None
    share_closer_than_holdout_median: float | None = Field(
        description="Synthetic cases closer to the source than the median holdout case"
    )
    mia_auc: float | None = Field(description="Distance attack AUC (0.5 = no leakage)")
    mia_members: int
    mia_non_members: int
    dcr_histogram: Histogram
    mia_roc: RocCurve | None = None


def privacy_metrics(
    synthetic: Sequence[Case],
    source: Sequence[Case],
    holdout: Sequence[Case],
    kb: KnowledgeBase,
    near_copy: float = 0.1,
    *,
    same_disease: bool = True,
) -> PrivacyMetrics:
    """Copies, distances to the closest record and membership-inference AUC (module docstring).

    Raises ``ConfigError`` when the synthetic or the source set is empty.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    if not synthetic or not source:
        raise ConfigError(
            f"{len(synthetic)} synthetic and {len(source)} source cases: both sets are needed"
        )
    n_terms = len(kb.term_ids)
    sets = {
        name: phenotype_sets(cases, kb)
        for name, cases in (("synthetic", synthetic), ("source", source), ("holdout", holdout))
    }
    matrices = {name: item_matrix(s, n_terms) for name, s in sets.items()}
    truths = {
        name: [truth_of(c) for c in cases] if same_disease else None
        for name, cases in (("synthetic", synthetic), ("source", source), ("holdout", holdout))
    }

    def closest(query: str, reference: str) -> FloatArray:
        return nearest_distances(
            matrices[query], matrices[reference], truths[query], truths[reference]
        )[0]

    originals = {(truth_of(c), s) for c, s in zip(source, sets["source"], strict=True)}
    exact = sum(
        (truth_of(c), s) in originals for c, s in zip(synthetic, sets["synthetic"], strict=True)
    )
    dcr_synthetic = closest("synthetic", "source")
    dcr_holdout = closest("holdout", "source")
    near = int(np.count_nonzero(dcr_synthetic <= near_copy + 1e-12))
    # compared unrounded: distances are ratios of small integers, so ties at the median abound
    closer = (
        None
        if not holdout
        else _share(int(np.count_nonzero(dcr_synthetic < np.median(dcr_holdout))), len(synthetic))
    )
    auc: float | None = None
    roc: RocCurve | None = None
    if holdout:
        scores = -np.concatenate([closest("source", "synthetic"), closest("holdout", "synthetic")])
        labels = np.concatenate([np.ones(len(source)), np.zeros(len(holdout))])
        auc = round(float(roc_auc_score(labels, scores)), 6)
        fpr, tpr, _ = roc_curve(labels, scores)
        keep = np.unique(np.linspace(0, fpr.size - 1, min(fpr.size, ROC_POINTS)).astype(int))
        roc = RocCurve(
            false_positive_rate=[round(float(x), 6) for x in fpr[keep]],
            true_positive_rate=[round(float(x), 6) for x in tpr[keep]],
        )
    edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    return PrivacyMetrics(
        n_synthetic=len(synthetic),
        n_source=len(source),
        n_holdout=len(holdout),
        same_disease=same_disease,
        near_copy_threshold=near_copy,
        exact_copies=exact,
        exact_copy_rate=_share(exact, len(synthetic)),
        near_copies=near,
        near_copy_rate=_share(near, len(synthetic)),
        dcr_synthetic_median=_stat(dcr_synthetic, 50) or 0.0,
        dcr_synthetic_p5=_stat(dcr_synthetic, 5) or 0.0,
        dcr_holdout_median=_stat(dcr_holdout, 50),
        dcr_holdout_p5=_stat(dcr_holdout, 5),
        share_closer_than_holdout_median=closer,
        mia_auc=auc,
        mia_members=len(source),
        mia_non_members=len(holdout),
        dcr_histogram=Histogram(
            edges=[round(float(e), 6) for e in edges],
            counts={
                "synthetic→source": np.histogram(dcr_synthetic, edges)[0].tolist(),
                "holdout→source": np.histogram(dcr_holdout, edges)[0].tolist(),
            },
        ),
        mia_roc=roc,
    )


def _stat(values: FloatArray, percentile: float) -> float | None:
    return round(float(np.percentile(values, percentile)), 6) if values.size else None


def _share(count: int, total: int) -> float:
    return round(count / total, 6) if total else 0.0


# --- fidelity -----------------------------------------------------------------------------------
class DiseaseFidelity(_Model):
    disease_id: str
    n_source: int
    n_synthetic: int
    correlation: float | None = Field(description="Pearson r of item frequencies (None: undefined)")
    mean_abs_difference: float = Field(description="Mean |Δ frequency| over the items of either")


class FidelityMetrics(_Model):
    """How closely the synthetic set reproduces the source's per-disease phenotype frequencies."""

    n_source_diseases: int
    n_synthetic_diseases: int
    disease_coverage: float = Field(description="Share of source diseases the synthetic set has")
    n_compared: int = Field(description="Diseases in both sets with at least 2 source cases")
    median_correlation: float | None
    mean_observed_source: float
    mean_observed_synthetic: float
    per_disease: list[DiseaseFidelity]


def fidelity_metrics(
    synthetic: Sequence[Case], source: Sequence[Case], kb: KnowledgeBase
) -> FidelityMetrics:
    """Per-disease Pearson correlation of item frequencies (observed and excluded terms as
    separate items) over the union of items either set shows for the disease; diseases in both
    sets with ≥ 2 source cases. Identical constant profiles count as r = 1."""
    n_terms = len(kb.term_ids)
    source_sets, synthetic_sets = phenotype_sets(source, kb), phenotype_sets(synthetic, kb)
    source_truths = [truth_of(c) for c in source]
    synthetic_truths = [truth_of(c) for c in synthetic]
    source_counts = _counts_by_disease(source_truths)
    synthetic_counts = _counts_by_disease(synthetic_truths)
    diseases = sorted(
        d for d, n in source_counts.items() if n >= 2 and synthetic_counts.get(d, 0) > 0
    )
    rows: list[DiseaseFidelity] = []
    if diseases:
        f_source = _frequencies(source_sets, source_truths, diseases, n_terms)
        f_synth = _frequencies(synthetic_sets, synthetic_truths, diseases, n_terms)
        either = sp.csr_array(f_source + f_synth)
        either.eliminate_zeros()
        support = np.diff(either.indptr).astype(np.float64)  # items either set shows
        sx, sy = _row_sums(f_source), _row_sums(f_synth)
        sxx, syy = _row_sums(f_source.multiply(f_source)), _row_sums(f_synth.multiply(f_synth))
        sxy = _row_sums(f_source.multiply(f_synth))
        covariance = support * sxy - sx * sy
        variance = (support * sxx - sx**2) * (support * syy - sy**2)
        difference = _row_sums(abs(f_source - f_synth))
        for i, disease in enumerate(diseases):
            r: float | None = None
            if variance[i] > 1e-12:
                r = round(float(np.clip(covariance[i] / np.sqrt(variance[i]), -1.0, 1.0)), 6)
            elif difference[i] < 1e-12 and support[i] > 0:
                r = 1.0
            rows.append(
                DiseaseFidelity(
                    disease_id=disease,
                    n_source=source_counts[disease],
                    n_synthetic=synthetic_counts[disease],
                    correlation=r,
                    mean_abs_difference=round(float(difference[i] / max(support[i], 1.0)), 6),
                )
            )
    correlations = [row.correlation for row in rows if row.correlation is not None]
    source_diseases = set(source_counts)
    return FidelityMetrics(
        n_source_diseases=len(source_diseases),
        n_synthetic_diseases=len(synthetic_counts),
        disease_coverage=_share(len(source_diseases & set(synthetic_counts)), len(source_diseases)),
        n_compared=len(rows),
        median_correlation=round(float(np.median(correlations)), 6) if correlations else None,
        mean_observed_source=_mean_observed(source_sets),
        mean_observed_synthetic=_mean_observed(synthetic_sets),
        per_disease=rows,
    )


def _counts_by_disease(truths: Sequence[str | None]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for truth in truths:
        if truth is not None:
            counts[truth] = counts.get(truth, 0) + 1
    return counts


def _frequencies(
    sets: Sequence[frozenset[int]], truths: Sequence[str | None], diseases: list[str], n_terms: int
) -> sp.csr_array:
    """Disease × item share of the disease's cases having the item (diseases in ``diseases``)."""
    row_of = {d: i for i, d in enumerate(diseases)}
    rows = np.asarray([row_of.get(t or "", -1) for t in truths], dtype=np.int64)
    keep = np.flatnonzero(rows >= 0)
    membership = sp.csr_array(
        (np.ones(keep.size), (rows[keep], keep)), shape=(len(diseases), len(sets))
    )
    counts = sp.csr_array(membership @ item_matrix(sets, n_terms))
    n = np.asarray(membership.sum(axis=1)).ravel()
    return sp.csr_array(counts.multiply(1.0 / n[:, None]))


def _row_sums(matrix: Any) -> FloatArray:
    return np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()


def _mean_observed(sets: Sequence[frozenset[int]]) -> float:
    if not sets:
        return 0.0
    return round(sum(sum(1 for i in s if i >= 0) for s in sets) / len(sets), 4)


# --- utility ------------------------------------------------------------------------------------
def topk_accuracy(
    predictor: DiseaseScorer, cases: Sequence[Case], ks: Sequence[int] = (1, 3, 10)
) -> dict[str, float]:
    """:func:`~ocais.evaluate.metrics.ranking_metrics` of ``predictor`` on the cases with a
    confirmed diagnosis (pessimistic ties; a diagnosis the predictor does not rank is a miss)."""
    index = {d: i for i, d in enumerate(predictor.disease_ids)}
    labelled = [(case, truth_of(case)) for case in cases]
    labelled = [(case, truth) for case, truth in labelled if truth is not None]
    ranks: list[int | None] = []
    covered: list[bool] = []
    for start in range(0, len(labelled), SCORE_CHUNK):
        chunk = labelled[start : start + SCORE_CHUNK]
        scores = predictor.score_cases([case for case, _ in chunk])
        for row, (_, truth) in zip(scores, chunk, strict=True):
            column = index.get(truth or "")
            covered.append(column is not None)
            ranks.append(None if column is None else pessimistic_rank(row, column))
    return ranking_metrics(ranks, covered, ks)


class UtilityMetrics(_Model):
    """Train on synthetic, test on real."""

    n_train: int
    n_test: int
    ks: list[int]
    learned: dict[str, float] = Field(description="Learned predictor fitted on the synthetic set")
    knowledge: dict[str, float] = Field(description="Knowledge-only phenotype ranker")
    difference: dict[str, float] = Field(description="learned − knowledge, per top-k and MRR")
    learn_options: dict[str, Any]


def utility_metrics(
    synthetic: Sequence[Case],
    holdout: Sequence[Case],
    kb: KnowledgeBase,
    learn_options: LearnOptions | None = None,
    *,
    ks: Sequence[int] = (1, 3, 10),
) -> UtilityMetrics:
    """Fit :func:`ocais.learn.model.fit` on ``synthetic``; top-k of it and of the knowledge-only
    ranker on ``holdout``. Raises ``ConfigError`` when the synthetic set cannot be fitted."""
    from ocais.learn.model import LearnedPredictor, LearnOptions, fit
    from ocais.predict.phenotype import PhenotypeRanker

    options = learn_options or LearnOptions()
    model = fit(synthetic, kb, options, source="synthetic")
    learned = topk_accuracy(LearnedPredictor(kb, model=model), holdout, ks)
    knowledge = topk_accuracy(PhenotypeRanker(kb, namespaces=options.namespaces), holdout, ks)
    keys = [f"top{k}" for k in ks] + ["mrr"]
    return UtilityMetrics(
        n_train=int(model.training["n_cases"]),
        n_test=int(learned["n_cases"]),
        ks=list(ks),
        learned=learned,
        knowledge=knowledge,
        difference={k: round(learned[k] - knowledge[k], 6) for k in keys},
        learn_options=options.model_dump(mode="json"),
    )


# --- the report ---------------------------------------------------------------------------------
class SynthReport(_Model):
    """Privacy, fidelity and (optionally) utility of one synthetic set, with provenance."""

    format: str = REPORT_FORMAT
    privacy: PrivacyMetrics
    fidelity: FidelityMetrics
    utility: UtilityMetrics | None = None
    provenance: Provenance


def build_report(
    synthetic: Sequence[Case],
    source: Sequence[Case],
    holdout: Sequence[Case],
    kb: KnowledgeBase,
    *,
    sources: Mapping[str, Any] | None = None,
    near_copy: float = 0.1,
    same_disease: bool = True,
    utility: bool = True,
    learn_options: LearnOptions | None = None,
) -> SynthReport:
    """All three measurements. ``sources`` (paths, hashes of the inputs — the caller's) goes
    into the provenance; ``utility=False`` skips the train-on-synthetic fit (seconds)."""
    return SynthReport(
        privacy=privacy_metrics(
            synthetic, source, holdout, kb, near_copy, same_disease=same_disease
        ),
        fidelity=fidelity_metrics(synthetic, source, kb),
        utility=utility_metrics(synthetic, holdout, kb, learn_options) if utility else None,
        provenance=Provenance(
            source="ocais.synth.privacy",
            source_format=REPORT_FORMAT,
            created_at=dt.datetime.now(dt.UTC),
            created_by=f"ocais {__version__}",
            knowledge_version=kb.version,
            parameters={
                "sources": dict(sources or {}),
                "near_copy": near_copy,
                "same_disease": same_disease,
                "utility": utility,
                "hpo_content_hash": kb.release["content_hash"],
            },
        ),
    )


def report_json(report: SynthReport) -> str:
    return report.model_dump_json(indent=1)
