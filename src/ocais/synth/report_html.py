"""The HTML page of a synthetic-set report (:class:`~ocais.synth.privacy.SynthReport`): tables
and base64-embedded PNG plots, nothing loaded from elsewhere."""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from pathlib import Path

import numpy as np

from ocais.evaluate.html import DEFINITION_LIST_CSS, image, page, write_page
from ocais.evaluate.plots import new_figure, png_base64
from ocais.synth.privacy import FidelityMetrics, PrivacyMetrics, SynthReport, UtilityMetrics


def write_report_html(report: SynthReport, path: str | Path) -> Path:
    """Write :func:`render_report_html` to ``path`` (parents created); returns the path."""
    return write_page(render_report_html(report), path)


def render_report_html(report: SynthReport) -> str:
    """One self-contained page: tables and base64 PNG plots, nothing loaded from elsewhere."""
    privacy, fidelity, utility = report.privacy, report.fidelity, report.utility
    sections = [
        "<h1>OCAIS synthetic data report</h1>",
        _definition_list(_about(report)),
        "<h2>Privacy</h2>",
        _definition_list(_privacy_rows(privacy)),
        '<p class="note">Distances are Jaccard distances between sets of observed and excluded '
        "HPO terms"
        + (", within the same confirmed diagnosis" if privacy.same_disease else "")
        + ". Membership-inference AUC: 0.5 means the synthetic set does not reveal who was in "
        "the source.</p>",
        image(_dcr_histogram_png(privacy), "distance to closest record histograms"),
    ]
    if privacy.mia_roc is not None:
        sections.append(image(_mia_roc_png(privacy), "membership inference ROC curve"))
    sections += ["<h2>Fidelity</h2>", _definition_list(_fidelity_rows(fidelity))]
    if fidelity.per_disease:
        sections.append(image(_fidelity_png(fidelity), "per-disease frequency correlation"))
    sections.append("<h2>Utility (train on synthetic, test on real)</h2>")
    if utility is None:
        sections.append('<p class="note">Not measured (skipped).</p>')
    else:
        sections += [_utility_table(utility), image(_utility_png(utility), "utility")]
    return page("OCAIS synthetic data report", "\n".join(sections), DEFINITION_LIST_CSS)


def _definition_list(items: Sequence[tuple[str, str]]) -> str:
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items)
    return f"<dl>{rows}</dl>"


def _figure_text(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _about(report: SynthReport) -> list[tuple[str, str]]:
    p = report.provenance
    items = [
        ("Date", p.created_at.strftime("%Y-%m-%d %H:%M UTC")),
        ("Software", p.created_by),
        ("Knowledge release", p.knowledge_version or "—"),
    ]
    sources = p.parameters.get("sources") or {}
    items += [(f"Source: {k}", json.dumps(v, default=str)) for k, v in sources.items()]
    return items


def _privacy_rows(m: PrivacyMetrics) -> list[tuple[str, str]]:
    return [
        ("Cases", f"{m.n_synthetic:,} synthetic, {m.n_source:,} source, {m.n_holdout:,} holdout"),
        ("Exact copies", f"{m.exact_copies:,} ({100 * m.exact_copy_rate:.2f}%)"),
        (
            f"Near copies (distance ≤ {m.near_copy_threshold:g})",
            f"{m.near_copies:,} ({100 * m.near_copy_rate:.2f}%)",
        ),
        (
            "DCR synthetic→source",
            f"median {m.dcr_synthetic_median:.3f}, 5th percentile {m.dcr_synthetic_p5:.3f}",
        ),
        (
            "DCR holdout→source",
            f"median {_figure_text(m.dcr_holdout_median)}, "
            f"5th percentile {_figure_text(m.dcr_holdout_p5)}",
        ),
        (
            "Synthetic closer than the holdout median",
            _figure_text(m.share_closer_than_holdout_median),
        ),
        (
            "Membership-inference AUC",
            f"{_figure_text(m.mia_auc)} ({m.mia_members:,} members, "
            f"{m.mia_non_members:,} non-members)",
        ),
    ]


def _fidelity_rows(m: FidelityMetrics) -> list[tuple[str, str]]:
    return [
        (
            "Diseases",
            f"{m.n_source_diseases:,} in the source, {m.n_synthetic_diseases:,} synthetic "
            f"(coverage {100 * m.disease_coverage:.1f}%)",
        ),
        ("Diseases compared (≥ 2 source cases)", f"{m.n_compared:,}"),
        ("Median frequency correlation", _figure_text(m.median_correlation)),
        (
            "Observed terms per case",
            f"{m.mean_observed_source:.2f} source, {m.mean_observed_synthetic:.2f} synthetic",
        ),
    ]


def _utility_table(m: UtilityMetrics) -> str:
    keys = [f"top{k}" for k in m.ks] + ["mrr"]
    header = '<tr><th class="text">predictor</th>' + "".join(f"<th>{k}</th>" for k in keys)
    rows = [
        f'<tr><td class="text">{escape(label)}</td>'
        + "".join(f"<td>{values[k]:.3f}</td>" for k in keys)
        + "</tr>"
        for label, values in (
            (f"learned on {m.n_train:,} synthetic cases", m.learned),
            ("knowledge only", m.knowledge),
            ("difference", m.difference),
        )
    ]
    note = f'<p class="note">{m.n_test:,} real holdout cases; ties ranked pessimistically.</p>'
    return f"<table>{header}</tr>{''.join(rows)}</table>{note}"


def _dcr_histogram_png(m: PrivacyMetrics) -> str:
    """Share of cases per distance-to-closest-record bin, one outline per distribution."""
    figure, (axis,) = new_figure(7.5, 4.0)
    edges = np.asarray(m.dcr_histogram.edges)
    for index, (label, counts) in enumerate(m.dcr_histogram.counts.items()):
        values = np.asarray(counts, dtype=np.float64)
        if values.sum() == 0:
            continue
        axis.stairs(values / values.sum(), edges, color=f"C{index}", linewidth=2, label=label)
    axis.axvline(m.near_copy_threshold, color="grey", linestyle=":", label="near-copy threshold")
    axis.set_xlabel("Jaccard distance to the closest source case")
    axis.set_ylabel("share of cases")
    axis.set_xlim(0, 1)
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    axis.set_title("Distance to closest record")
    return png_base64(figure)


def _mia_roc_png(m: PrivacyMetrics) -> str:
    figure, (axis,) = new_figure(5.0, 5.0)
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", label="no leakage (AUC 0.5)")
    if m.mia_roc is not None:
        axis.plot(
            m.mia_roc.false_positive_rate,
            m.mia_roc.true_positive_rate,
            color="C3",
            label=f"distance attack (AUC {_figure_text(m.mia_auc)})",
        )
    axis.set_xlabel("false positive rate (holdout flagged as member)")
    axis.set_ylabel("true positive rate (source flagged as member)")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small", loc="lower right")
    axis.set_title("Membership inference")
    return png_base64(figure)


def _fidelity_png(m: FidelityMetrics) -> str:
    figure, (axis,) = new_figure(7.5, 4.0)
    values = [row.correlation for row in m.per_disease if row.correlation is not None]
    axis.hist(values, bins=np.linspace(-1.0, 1.0, 41), color="C0")
    if m.median_correlation is not None:
        axis.axvline(m.median_correlation, color="C3", linestyle="--", label="median")
        axis.legend(fontsize="small", loc="upper left")
    axis.set_xlabel("Pearson r of phenotype frequencies, synthetic vs source")
    axis.set_ylabel("diseases")
    axis.grid(alpha=0.3)
    axis.set_title(f"Per-disease fidelity ({len(values):,} diseases)")
    return png_base64(figure)


def _utility_png(m: UtilityMetrics) -> str:
    figure, (axis,) = new_figure(6.5, 4.0)
    keys = [f"top{k}" for k in m.ks]
    positions = np.arange(len(keys))
    for index, (label, values) in enumerate(
        (("learned on synthetic", m.learned), ("knowledge only", m.knowledge))
    ):
        axis.bar(positions - 0.2 + 0.4 * index, [values[k] for k in keys], 0.4, label=label)
    axis.set_xticks(positions, [k.replace("top", "top-") for k in keys])
    axis.set_ylim(0, 1)
    axis.set_ylabel(f"accuracy on {m.n_test:,} real cases")
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize="small")
    axis.set_title("Train on synthetic, test on real")
    return png_base64(figure)
