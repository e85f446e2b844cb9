"""The report's plots, as base64 PNG strings (matplotlib, Agg canvas, imported lazily).

Figures are built with ``matplotlib.figure.Figure`` and an Agg canvas, never ``pyplot``: no global
state, no display needed, safe in a server thread.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from ocais.evaluate.models import BenchmarkResult

SUBGROUP_TITLES = {
    "n_observed": "Accuracy by number of observed phenotypes",
    "sex": "Accuracy by sex",
    "age": "Accuracy by age group (years)",
}


def new_figure(width: float, height: float, columns: int = 1) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, columns, squeeze=False)[0]
    return figure, axes


def png_base64(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def topk_curve_png(result: BenchmarkResult) -> str:
    """Top-k accuracy for k = 1..50, one line per predictor (solid: all cases; dashed: covered)."""
    figure, (axis,) = new_figure(7.5, 4.2)
    for index, (label, predictor) in enumerate(result.predictors.items()):
        color = f"C{index}"
        ks = range(1, len(predictor.topk_curve) + 1)
        axis.plot(ks, predictor.topk_curve, color=color, label=f"{label} (all cases)")
        axis.plot(
            ks,
            predictor.topk_curve_covered,
            color=color,
            linestyle="--",
            alpha=0.7,
            label=f"{label} (covered)",
        )
    axis.set_xlabel("k")
    axis.set_ylabel("top-k accuracy")
    axis.set_ylim(0, 1)
    axis.set_xlim(1, 50)
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small", loc="lower right")
    axis.set_title("Top-k accuracy")
    return png_base64(figure)


def subgroup_png(result: BenchmarkResult, key: str) -> str:
    """Top-1 and top-10 accuracy per group of ``key``, grouped bars per predictor."""
    labels: list[str] = []
    for predictor in result.predictors.values():
        labels.extend(g for g in predictor.subgroups.get(key, {}) if g not in labels)
    figure, axes = new_figure(10, 3.8, columns=2)
    n_predictors = max(1, len(result.predictors))
    width = 0.8 / n_predictors
    first = next(iter(result.predictors.values()), None)
    counts = first.subgroups.get(key, {}) if first is not None else {}
    ticks = [f"{g}\n(n={int(counts[g]['n_cases'])})" if g in counts else g for g in labels]
    for axis, metric in zip(axes, ("top1", "top10"), strict=True):
        for index, (label, predictor) in enumerate(result.predictors.items()):
            groups = predictor.subgroups.get(key, {})
            values = [groups[g][metric] if g in groups else 0.0 for g in labels]
            offsets = [i - 0.4 + width * (index + 0.5) for i in range(len(labels))]
            axis.bar(offsets, values, width=width, color=f"C{index}", label=label)
        axis.set_xticks(range(len(labels)), ticks, fontsize="small")
        axis.set_ylim(0, 1)
        axis.set_ylabel(f"{metric.replace('top', 'top-')} accuracy")
        axis.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize="small")
    figure.suptitle(SUBGROUP_TITLES.get(key, key))
    return png_base64(figure)


def calibration_png(result: BenchmarkResult) -> str | None:
    """Reliability diagram of the top-1 probability; ``None`` when no predictor gives one."""
    if not any(p.calibration for p in result.predictors.values()):
        return None
    figure, (axis,) = new_figure(5.5, 5)
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    for index, (label, predictor) in enumerate(result.predictors.items()):
        if predictor.calibration is None:
            continue
        bins = [b for b in predictor.calibration.bins if b.count]
        ece = predictor.calibration.metrics.get("ece", 0.0)
        axis.plot(
            [b.confidence for b in bins],
            [b.accuracy for b in bins],
            marker="o",
            color=f"C{index}",
            label=f"{label} (ECE {ece:.3f})",
        )
    axis.set_xlabel("probability of the top-1 candidate")
    axis.set_ylabel("share correct")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small", loc="upper left")
    axis.set_title("Calibration (reliability diagram)")
    return png_base64(figure)
