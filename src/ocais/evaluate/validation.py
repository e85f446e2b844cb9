"""Before/after validation: does a new predictor diagnose held-out cases better than the old one?

Both predictors score every disease (:class:`~ocais.predict.base.DiseaseScorer`); a case's truth
is its first confirmed diagnosis, ranked pessimistically (:func:`pessimistic_rank`); a truth the
predictor does not know is a miss. Reported:

* **Overall**: top-k accuracy and MRR before and after, their difference, and a paired bootstrap
  95% confidence interval of each difference (percentile method, Efron & Tibshirani, "An
  Introduction to the Bootstrap", 1993): the same resampled cases are scored under both.
* **Per disease** ("Table 1" of the seed paper): the binary test "disease X is in the top k" —
  sensitivity over the cases of X, specificity over all other cases (:func:`binary_top_k`). A
  disease counts as in a case's top k only when it stays within k with ties broken against it,
  so its sensitivity equals its pessimistic top-k accuracy.

The HTML page follows the benchmark report: self-contained, plots as base64 PNG (Agg canvas).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from ocais import __version__
from ocais.errors import ConfigError
from ocais.evaluate.benchmark import confirmed_truth
from ocais.evaluate.html import image, page, write_page
from ocais.evaluate.metrics import (
    Rank,
    binary_top_k,
    pessimistic_rank,
    ranking_metrics,
    top_indices,
    topk_curve,
)
from ocais.evaluate.plots import new_figure, png_base64
from ocais.predict.base import DiseaseScorer
from ocais.schemas import Case

Progress = Callable[[str, int, int | None], None]

CURVE_K = 20
BATCH_SIZE = 256
N_RESAMPLES = 1000
CONFIDENCE = 0.95


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Interval(_Model):
    """A difference (after − before) with its paired bootstrap percentile interval."""

    estimate: float
    lower: float
    upper: float
    confidence: float = CONFIDENCE
    n_resamples: int
    seed: int


class BinaryFigures(_Model):
    """Confusion counts and ratios of "X in the top k" (ratios ``None`` when undefined)."""

    tp: int
    fn: int
    fp: int
    tn: int
    sensitivity: float | None
    specificity: float | None
    ppv: float | None
    npv: float | None


class DiseaseAccuracy(_Model):
    """One row of Table 1."""

    disease_id: str
    name: str
    n_positive: int = Field(description="Cases whose truth is this disease")
    n_negative: int
    before: BinaryFigures
    after: BinaryFigures


class ValidationResult(_Model):
    """Everything :func:`validate` measured."""

    before_name: str
    after_name: str
    n_cases: int = Field(description="Cases with a confirmed diagnosis (evaluated)")
    n_skipped: int = Field(description="Cases without a confirmed diagnosis (left out)")
    ks: list[int]
    binary_k: int
    before: dict[str, float] = Field(description="ranking_metrics of the old predictor")
    after: dict[str, float] = Field(description="ranking_metrics of the new predictor")
    difference: dict[str, float] = Field(description="after − before, per top-k, MRR, coverage")
    intervals: dict[str, Interval] = Field(description="Bootstrap CI per top-k difference and MRR")
    curve_before: list[float] = Field(description=f"Top-k accuracy for k = 1..{CURVE_K}")
    curve_after: list[float]
    diseases: list[DiseaseAccuracy]
    created_at: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))
    software: str = f"ocais {__version__}"


# --- scoring ------------------------------------------------------------------------------------
def certain_top(scores: npt.ArrayLike, k: int) -> npt.NDArray[np.int64]:
    """Indices of the diseases within the top ``k`` even with ties broken against them (best
    first): those scored above the (k+1)-th best score. ``-inf``/NaN are never in."""
    values = np.asarray(scores, dtype=np.float64)
    best = top_indices(values, k + 1)
    if best.size <= k:
        return best
    return best[:k][values[best[:k]] > values[best[k]]]


def _outcomes(
    predictor: DiseaseScorer,
    cases: Sequence[Case],
    truths: Sequence[str],
    depth: int,
    label: str,
    progress: Progress | None,
) -> tuple[list[Rank], list[bool], list[list[str]]]:
    """Per case: rank of its truth, whether the predictor knows it, its certain top ``depth``
    (computed at exactly the binary test's k: a shorter prefix of a deeper list would not
    leave out the ties at k)."""
    ids = list(predictor.disease_ids)
    index = {disease_id: i for i, disease_id in enumerate(ids)}
    ranks: list[Rank] = []
    covered: list[bool] = []
    tops: list[list[str]] = []
    for start in range(0, len(cases), BATCH_SIZE):
        batch = cases[start : start + BATCH_SIZE]
        scores = np.asarray(predictor.score_cases(batch), dtype=np.float64)
        if scores.shape != (len(batch), len(ids)):
            raise ValueError(
                f"predictor {label!r} returned scores of shape {scores.shape}, "
                f"expected {(len(batch), len(ids))}"
            )
        for row, truth in zip(scores, truths[start : start + BATCH_SIZE], strict=True):
            column = index.get(truth)
            covered.append(column is not None)
            ranks.append(None if column is None else pessimistic_rank(row, column))
            tops.append([ids[j] for j in certain_top(row, depth)])
        if progress is not None:
            progress(f"validate {label}", len(ranks), len(cases))
    return ranks, covered, tops


def _hits(ranks: Sequence[Rank], k: int) -> npt.NDArray[np.float64]:
    return np.array([r is not None and r <= k for r in ranks], dtype=np.float64)


def _reciprocal(ranks: Sequence[Rank]) -> npt.NDArray[np.float64]:
    return np.array([0.0 if r is None else 1.0 / r for r in ranks], dtype=np.float64)


def paired_bootstrap(
    before: npt.ArrayLike, after: npt.ArrayLike, *, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> Interval:
    """Percentile interval of mean(after − before) over cases resampled with replacement."""
    delta = np.asarray(after, dtype=np.float64) - np.asarray(before, dtype=np.float64)
    estimate = float(delta.mean()) if delta.size else 0.0
    if delta.size == 0:
        return Interval(estimate=0.0, lower=0.0, upper=0.0, n_resamples=n_resamples, seed=seed)
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    chunk = max(1, 2_000_000 // delta.size)  # bounded memory for large case sets
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        means[start : start + size] = delta[rng.integers(delta.size, size=(size, delta.size))].mean(
            axis=1
        )
    tail = 100 * (1 - CONFIDENCE) / 2
    lower, upper = np.percentile(means, [tail, 100 - tail])
    return Interval(
        estimate=round(estimate, 6),
        lower=round(float(lower), 6),
        upper=round(float(upper), 6),
        n_resamples=n_resamples,
        seed=seed,
    )


# --- validation ---------------------------------------------------------------------------------
def validate(
    before: DiseaseScorer,
    after: DiseaseScorer,
    cases: Sequence[Case],
    *,
    diseases: Sequence[str] | None = None,
    ks: Sequence[int] = (1, 3, 10),
    binary_k: int = 10,
    n_diseases: int = 10,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    names: tuple[str, str] | None = None,
    progress: Progress | None = None,
) -> ValidationResult:
    """Compare ``before`` and ``after`` on ``cases`` (see the module docstring).

    Table 1 lists the ``n_diseases`` most frequent diagnoses among the cases plus any in
    ``diseases``, most cases first. ``names`` labels the two predictors (default: their
    ``name`` attribute). Raises ``ConfigError`` when no case has a confirmed diagnosis.
    """
    if binary_k < 1 or any(k < 1 for k in ks):
        raise ConfigError(f"k must be at least 1 (ks={list(ks)}, binary_k={binary_k})")
    labelled = [(case, next(iter(confirmed_truth(case)), None)) for case in cases]
    kept = [case for case, truth in labelled if truth is not None]
    truths = [truth for _, truth in labelled if truth is not None]
    if not kept:
        raise ConfigError(
            f"none of the {len(cases)} cases has a confirmed diagnosis: nothing to validate",
            hint="validate on phenopackets whose interpretation is SOLVED",
        )
    labels = names or (_name(before, "before"), _name(after, "after"))
    old = _outcomes(before, kept, truths, binary_k, labels[0], progress)
    new = _outcomes(after, kept, truths, binary_k, labels[1], progress)
    metrics_before = ranking_metrics(old[0], old[1], ks)
    metrics_after = ranking_metrics(new[0], new[1], ks)
    keys = [f"top{k}" for k in ks] + ["mrr", "coverage"]
    intervals = {
        f"top{k}": paired_bootstrap(
            _hits(old[0], k), _hits(new[0], k), n_resamples=n_resamples, seed=seed
        )
        for k in ks
    }
    intervals["mrr"] = paired_bootstrap(
        _reciprocal(old[0]), _reciprocal(new[0]), n_resamples=n_resamples, seed=seed
    )
    return ValidationResult(
        before_name=labels[0],
        after_name=labels[1],
        n_cases=len(kept),
        n_skipped=len(cases) - len(kept),
        ks=list(ks),
        binary_k=binary_k,
        before=metrics_before,
        after=metrics_after,
        difference={k: round(metrics_after[k] - metrics_before[k], 6) for k in keys},
        intervals=intervals,
        curve_before=topk_curve(old[0], CURVE_K),
        curve_after=topk_curve(new[0], CURVE_K),
        diseases=_table(kept, truths, old[2], new[2], binary_k, diseases, n_diseases),
    )


def _name(predictor: object, default: str) -> str:
    return str(getattr(predictor, "name", None) or default)


def _table(
    cases: Sequence[Case],
    truths: Sequence[str],
    tops_before: Sequence[Sequence[str]],
    tops_after: Sequence[Sequence[str]],
    k: int,
    extra: Sequence[str] | None,
    n_diseases: int,
) -> list[DiseaseAccuracy]:
    counts = Counter(truths)
    frequent = sorted(counts, key=lambda d: (-counts[d], d))[: max(0, n_diseases)]
    chosen = sorted(
        dict.fromkeys([*frequent, *(extra or ())]), key=lambda d: (-counts.get(d, 0), d)
    )
    labels: dict[str, str] = {}
    for case in cases:
        for diagnosis in case.diagnoses:
            if diagnosis.label:
                labels.setdefault(diagnosis.disease_id, diagnosis.label)
    sets = [{t} for t in truths]
    rows = []
    for disease in chosen:
        old = binary_top_k(disease, sets, tops_before, k)
        new = binary_top_k(disease, sets, tops_after, k)
        rows.append(
            DiseaseAccuracy(
                disease_id=disease,
                name=labels.get(disease, ""),
                n_positive=int(old["n_positive"] or 0),
                n_negative=int(old["n_negative"] or 0),
                before=_figures(old),
                after=_figures(new),
            )
        )
    return rows


def _figures(values: dict[str, str | int | float | None]) -> BinaryFigures:
    return BinaryFigures.model_validate({key: values[key] for key in BinaryFigures.model_fields})


def validation_json(result: ValidationResult) -> str:
    return result.model_dump_json(indent=1)


# --- HTML ---------------------------------------------------------------------------------------


def write_validation_html(result: ValidationResult, path: str | Path) -> Path:
    """Write :func:`render_validation_html` to ``path`` (parents created); returns the path."""
    return write_page(render_validation_html(result), path)


def render_validation_html(result: ValidationResult) -> str:
    """One self-contained page: Table 1, overall figures and three plots."""
    title = f"{result.before_name} → {result.after_name}"
    sections = [
        f"<h1>OCAIS validation: {escape(title)}</h1>",
        f'<p class="note">{result.n_cases:,} cases with a confirmed diagnosis '
        f"({result.n_skipped:,} without one left out); {escape(result.software)}, "
        f"{result.created_at.strftime('%Y-%m-%d %H:%M UTC')}.</p>",
        f"<h2>Table 1: is the diagnosis in the top {result.binary_k}?</h2>",
        _disease_table(result),
        "<h2>Overall</h2>",
        _overall_table(result),
        image(_overall_png(result), "top-k accuracy before and after"),
        image(_curve_png(result), "top-k curve before and after"),
        "<h2>Sensitivity per disease</h2>",
        image(_dumbbell_png(result), "per-disease sensitivity before and after"),
    ]
    return page(
        f"OCAIS validation — {title}",
        "\n".join(sections),
        "td.up { color: #1a7f37; } td.down { color: #b42318; }",
    )


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _change(old: float | None, new: float | None) -> str:
    css = ""
    if old is not None and new is not None and new != old:
        css = ' class="up"' if new > old else ' class="down"'
    return f"<td{css}>{_percent(old)} → {_percent(new)}</td>"


def _disease_table(result: ValidationResult) -> str:
    header = (
        '<tr><th class="text">Disease</th><th>n</th><th>Sensitivity before → after</th>'
        "<th>Specificity before → after</th></tr>"
    )
    rows = []
    for row in result.diseases:
        label = f"{row.name} ({row.disease_id})" if row.name else row.disease_id
        rows.append(
            f'<tr><td class="text">{escape(label)}</td><td>{row.n_positive}</td>'
            + _change(row.before.sensitivity, row.after.sensitivity)
            + _change(row.before.specificity, row.after.specificity)
            + "</tr>"
        )
    note = (
        f'<p class="note">Sensitivity: share of the disease\'s cases with it in the top '
        f"{result.binary_k}; specificity: share of all other cases without it there. Ties are "
        "broken against the disease.</p>"
    )
    return f'<table id="table1">{header}{"".join(rows)}</table>{note}'


def _overall_table(result: ValidationResult) -> str:
    keys = [f"top{k}" for k in result.ks] + ["mrr"]
    header = '<tr><th class="text">predictor</th>' + "".join(f"<th>{k}</th>" for k in keys)
    header += "<th>coverage</th></tr>"

    def row(label: str, values: dict[str, float]) -> str:
        cells = "".join(f"<td>{values[k]:.3f}</td>" for k in keys)
        coverage = _percent(values["coverage"])
        return f'<tr><td class="text">{escape(label)}</td>{cells}<td>{coverage}</td></tr>'

    ci = "".join(
        f"<td>[{result.intervals[k].lower:+.3f}, {result.intervals[k].upper:+.3f}]</td>"
        for k in keys
    )
    rows = [
        row(f"before: {result.before_name}", result.before),
        row(f"after: {result.after_name}", result.after),
        '<tr><td class="text">difference</td>'
        + "".join(f"<td>{result.difference[k]:+.3f}</td>" for k in keys)
        + f"<td>{100 * result.difference['coverage']:+.1f} pts</td></tr>",
        f'<tr><td class="text">95% CI (paired bootstrap)</td>{ci}<td></td></tr>',
    ]
    return f'<table id="overall">{header}{"".join(rows)}</table>'


def _overall_png(result: ValidationResult) -> str:
    figure, (axis,) = new_figure(6.5, 4.0)
    keys = [f"top{k}" for k in result.ks]
    positions = np.arange(len(keys))
    for index, (label, values) in enumerate(
        ((result.before_name, result.before), (result.after_name, result.after))
    ):
        bars = axis.bar(positions - 0.2 + 0.4 * index, [values[k] for k in keys], 0.4, label=label)
        axis.bar_label(bars, fmt="%.2f", fontsize="small")
    axis.set_xticks(positions, [k.replace("top", "top-") for k in keys])
    axis.set_ylim(0, 1.05)
    axis.set_ylabel(f"accuracy on {result.n_cases:,} cases")
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize="small")
    axis.set_title("Top-k accuracy, before and after")
    return png_base64(figure)


def _curve_png(result: ValidationResult) -> str:
    figure, (axis,) = new_figure(7.5, 4.2)
    ks = range(1, len(result.curve_before) + 1)
    axis.plot(ks, result.curve_before, marker=".", color="C0", label=result.before_name)
    axis.plot(ks, result.curve_after, marker=".", color="C1", label=result.after_name)
    axis.set_xlabel("k")
    axis.set_ylabel("top-k accuracy")
    axis.set_xlim(1, len(result.curve_before))
    axis.set_ylim(0, 1)
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small", loc="lower right")
    axis.set_title("Top-k accuracy curve")
    return png_base64(figure)


def _dumbbell_png(result: ValidationResult) -> str:
    """Per disease, a line from the sensitivity before (dot) to after (dot)."""
    rows = [r for r in result.diseases if r.n_positive]
    figure, (axis,) = new_figure(7.5, max(2.0, 0.35 * len(rows) + 1.2))
    for y, row in enumerate(rows):
        old, new = row.before.sensitivity or 0.0, row.after.sensitivity or 0.0
        axis.plot([old, new], [y, y], color="grey", linewidth=2, zorder=1)
    positions = np.arange(len(rows))
    axis.scatter(
        [r.before.sensitivity or 0.0 for r in rows],
        positions,
        color="C0",
        zorder=2,
        label=result.before_name,
    )
    axis.scatter(
        [r.after.sensitivity or 0.0 for r in rows],
        positions,
        color="C1",
        zorder=2,
        label=result.after_name,
    )
    ticks = [f"{(r.name or r.disease_id)[:40]} (n={r.n_positive})" for r in rows]
    axis.set_yticks(positions, ticks, fontsize="small")
    axis.invert_yaxis()
    axis.set_xlim(-0.02, 1.02)
    axis.set_xlabel(f"sensitivity of 'in the top {result.binary_k}'")
    axis.grid(axis="x", alpha=0.3)
    axis.legend(fontsize="small", loc="lower right")
    axis.set_title("Sensitivity per disease, before → after")
    return png_base64(figure)
