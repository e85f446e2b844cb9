"""The report of a study (``report.html``): the verdict, attrition, estimates, diagnostics,
score distributions, the balance (Love) plot and Kaplan–Meier curves, as one self-contained
page (images inlined; nothing loaded from elsewhere)."""

from __future__ import annotations

import math
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from ocais.evaluate.html import image, page, write_page
from ocais.evaluate.plots import new_figure, png_base64
from ocais.research.engine import (
    BALANCE_TABLE_ROWS,
    EQUIPOISE_BOUNDS,
    LOVE_PLOT_ROWS,
    AnalysisResult,
    Calibration,
    Diagnostics,
    Estimate,
)

# ---------------------------------------------------------------------------------------------
# the report: one self-contained HTML page, plots as inline base64 PNGs (matplotlib Agg, no pyplot)

REPORT_CSS = """
.banner { padding: 0.8em 1em; border-radius: 4px; margin: 1em 0; }
.banner.withheld { background: #fde8e8; border: 2px solid #c0392b; }
.banner.passed { background: #e8f6ec; border: 2px solid #27ae60; }
td.fail { color: #c0392b; font-weight: 600; } td.pass { color: #27ae60; }
"""
TARGET_COLOR, COMPARATOR_COLOR = "#c0392b", "#2471a3"


def render_report(
    result: AnalysisResult, *, title: str, attrition: list[dict[str, Any]], out_dir: str | Path
) -> Path:
    """Write ``out_dir/report.html``: the verdict (an "estimate withheld" banner when the
    diagnostics fail), attrition, estimates, diagnostics, propensity and preference score
    distributions, the balance (Love) plot and table, Kaplan–Meier curves and negative controls.
    Every text from the data is escaped; the page loads nothing from elsewhere."""
    sections = [
        f"<h1>{escape(title)}</h1>",
        _banner(result.diagnostics),
        _about(result),
        "<h2>Attrition</h2>",
        _attrition_table(attrition),
        "<h2>Estimates</h2>",
        _estimates_table(result),
        "<h2>Diagnostics</h2>",
        _diagnostics_table(result.diagnostics),
        "<h2>Propensity and preference scores</h2>",
        image(_scores_png(result), "propensity and preference score distributions by arm"),
        '<p class="note">Shaded: the preference-score band [0.3, 0.7] of equipoise.</p>',
        "<h2>Covariate balance</h2>",
        image(_love_png(result), "balance (Love) plot before and after adjustment"),
        _balance_table(result),
        "<h2>Kaplan–Meier curves</h2>",
        image(_km_png(result), "Kaplan-Meier curves by arm"),
    ]
    if result.calibration is not None:
        sections += ["<h2>Negative controls</h2>", _controls_section(result.calibration)]
    return write_page(page(title, "\n".join(sections), REPORT_CSS), Path(out_dir) / "report.html")


def _number(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "—" if value is None or math.isnan(value) else ("∞" if value > 0 else "−∞")
    return f"{value:.{digits}f}"


def _hr(estimate: Estimate | None) -> str:
    if estimate is None:
        return "—"
    lo, hi = estimate.ci
    return f"{estimate.hr:.2f} ({lo:.2f}–{hi:.2f}), p = {estimate.p:.3g}"


def _banner(verdict: Diagnostics) -> str:
    if verdict.passed:
        return (
            '<div class="banner passed"><strong>Diagnostics passed</strong>: the adjusted '
            "estimate is reported.</div>"
        )
    reasons = "".join(f"<li>{escape(r)}</li>" for r in verdict.reasons)
    return (
        '<div class="banner withheld" id="withheld"><strong>Estimate withheld</strong>: the '
        "study failed its diagnostics, so no adjusted hazard ratio is reported.<ul>"
        f"{reasons}</ul></div>"
    )


def _about(result: AnalysisResult) -> str:
    items = [
        ("Method", result.method),
        (
            "Subjects",
            f"{result.n_subjects:,} ({result.n_target:,} target, "
            f"{result.n_comparator:,} comparator)",
        ),
        ("Covariates", f"{len(result.covariates):,}"),
        ("Seed", str(result.seed)),
        ("Software", ", ".join(f"{k} {v}" for k, v in result.software.items())),
    ]
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items)
    return (
        f"<dl style='display:grid;grid-template-columns:max-content auto;gap:0.2em 1em'>{rows}</dl>"
    )


def _attrition_table(attrition: list[dict[str, Any]]) -> str:
    if not attrition:
        return '<p class="note">No attrition was recorded.</p>'
    columns: list[str] = []
    for row in attrition:
        columns.extend(str(k) for k in row if str(k) not in columns)

    def numeric(value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    def cell(value: Any) -> str:
        if numeric(value):
            return f"<td>{escape(f'{value:,}')}</td>"
        return f'<td class="text">{escape("" if value is None else str(value))}</td>'

    numbers = {c for c in columns if all(numeric(r.get(c)) for r in attrition)}
    header = "".join(
        f"<th>{escape(c)}</th>" if c in numbers else f'<th class="text">{escape(c)}</th>'
        for c in columns
    )
    body = "".join(
        "<tr>" + "".join(cell(row.get(c)) for c in columns) + "</tr>" for row in attrition
    )
    return f'<table id="attrition"><tr>{header}</tr>{body}</table>'


def _estimates_table(result: AnalysisResult) -> str:
    adjusted = "withheld" if result.estimate is None else _hr(result.estimate)
    rows = [
        ("Naive (unadjusted) hazard ratio", _hr(result.naive)),
        (f"Adjusted hazard ratio ({result.method})", adjusted),
    ]
    calibration = result.calibration
    if calibration is not None and calibration.ci is not None and calibration.p is not None:
        lo, hi = calibration.ci
        rows.append(("Calibrated 95% CI, p", f"{lo:.2f}–{hi:.2f}, p = {calibration.p:.3g}"))
    body = "".join(
        f'<tr><td class="text">{escape(k)}</td><td class="text">{escape(v)}</td></tr>'
        for k, v in rows
    )
    return (
        f'<table id="estimates">{body}</table><p class="note">Hazard ratio of the target vs the '
        "comparator arm with its 95% confidence interval (Cox proportional hazards: weighted "
        "with robust variance after IPTW, robust variance clustered on matched sets after "
        "matching, stratified on the PS strata after stratification).</p>"
    )


def _diagnostics_table(verdict: Diagnostics) -> str:
    limits = verdict.thresholds
    checks = [
        (
            "balance",
            "max |SMD| after adjustment",
            _number(verdict.max_smd_after),
            f"≤ {limits.max_smd}",
        ),
        ("equipoise", "equipoise", _number(verdict.equipoise), f"≥ {limits.min_equipoise}"),
        (
            "mdrr",
            "minimum detectable relative risk",
            _number(verdict.mdrr, 2),
            f"≤ {limits.max_mdrr}",
        ),
        ("ease", "EASE (negative controls)", _number(verdict.ease), f"≤ {limits.max_ease}"),
        (
            "events",
            "outcome events (target / comparator)",
            f"{verdict.events_target:,} / {verdict.events_comparator:,}",
            f"≥ {limits.min_events_per_arm} per arm, ≥ {limits.min_events} in all",
        ),
    ]
    rows = []
    for name, label, value, limit in checks:
        status = "fail" if name in verdict.failed else ("—" if value == "—" else "pass")
        rows.append(
            f'<tr><td class="text">{escape(label)}</td><td>{escape(value)}</td>'
            f'<td class="text">{escape(limit)}</td><td class="{status} text">{status}</td></tr>'
        )
    header = (
        '<tr><th class="text">check</th><th>value</th><th class="text">threshold</th>'
        '<th class="text">result</th></tr>'
    )
    before = _number(verdict.max_smd_before)
    return (
        f'<table id="diagnostics">{header}{"".join(rows)}</table><p class="note">Max |SMD| '
        f"before adjustment: {escape(before)}. Counts in the adjusted population: "
        f"{verdict.n_target:,} target, {verdict.n_comparator:,} comparator subjects.</p>"
    )


def _balance_table(result: AnalysisResult) -> str:
    rows = sorted(
        result.balance,
        key=lambda r: -abs(r.smd_before) if math.isfinite(r.smd_before) else -math.inf,
    )
    body = "".join(
        f'<tr><td class="text">{escape(r.covariate)}</td><td>{_number(r.smd_before)}</td>'
        f"<td>{_number(r.smd_after)}</td></tr>"
        for r in rows[:BALANCE_TABLE_ROWS]
    )
    header = '<tr><th class="text">covariate</th><th>SMD before</th><th>SMD after</th></tr>'
    more = len(rows) - BALANCE_TABLE_ROWS
    note = f'<p class="note">… and {more:,} more covariates (result.json lists them all).</p>'
    return f'<table id="balance">{header}{body}</table>{note if more > 0 else ""}'


def _controls_section(calibration: Calibration) -> str:
    rows = "".join(
        f'<tr><td class="text">{escape(c.name)}</td><td>{c.events:,}</td>'
        f'<td class="text">{escape(_hr(c.estimate) if c.estimate else "not estimable")}</td></tr>'
        for c in calibration.controls
    )
    header = '<tr><th class="text">control outcome</th><th>events</th><th class="text">HR</th></tr>'
    null = calibration.null
    summary = (
        "No control could be estimated."
        if null is None
        else f"Empirical null from {null.n_controls} controls: log HR ~ N({null.mean:.3f}, "
        f"{null.sd:.3f}²); EASE {_number(calibration.ease)}."
    )
    return f'<table id="controls">{header}{rows}</table><p class="note">{escape(summary)}</p>'


def _scores_png(result: AnalysisResult) -> str:
    figure, axes = new_figure(10, 3.6, columns=2)
    pairs = (
        ("propensity score", result.ps_target, result.ps_comparator),
        ("preference score", result.preference_target, result.preference_comparator),
    )
    bins = np.linspace(0, 1, 41)
    for axis, (label, target, comparator) in zip(axes, pairs, strict=True):
        axis.hist(target, bins=bins, density=True, alpha=0.45, color=TARGET_COLOR, label="target")
        axis.hist(
            comparator,
            bins=bins,
            density=True,
            alpha=0.45,
            color=COMPARATOR_COLOR,
            label="comparator",
        )
        axis.set_xlabel(label)
        axis.set_ylabel("density")
        axis.set_xlim(0, 1)
    axes[1].axvspan(*EQUIPOISE_BOUNDS, color="grey", alpha=0.12)
    axes[0].legend(fontsize="small")
    figure.suptitle(f"Equipoise {result.diagnostics.equipoise:.2f}")
    return png_base64(figure)


def _love_png(result: AnalysisResult) -> str:
    rows = [r for r in result.balance if math.isfinite(r.smd_before)]
    rows = sorted(rows, key=lambda r: abs(r.smd_before))[-LOVE_PLOT_ROWS:]
    figure, (axis,) = new_figure(7.5, max(2.5, 0.28 * len(rows) + 1.2))
    positions = np.arange(len(rows))
    axis.scatter(
        [abs(r.smd_before) for r in rows],
        positions,
        marker="o",
        facecolors="none",
        edgecolors="grey",
        label="before",
    )
    after = [abs(r.smd_after) if math.isfinite(r.smd_after) else np.nan for r in rows]
    axis.scatter(after, positions, marker="o", color=COMPARATOR_COLOR, label="after")
    axis.axvline(result.diagnostics.thresholds.max_smd, color=TARGET_COLOR, linestyle="--")
    axis.set_yticks(positions, [r.covariate[:40] for r in rows], fontsize="small")
    axis.set_xlabel("|standardized mean difference|")
    axis.set_xlim(left=0)
    axis.grid(axis="x", alpha=0.3)
    axis.legend(fontsize="small", loc="lower right")
    return png_base64(figure)


def _km_png(result: AnalysisResult) -> str:
    figure, (axis,) = new_figure(7.5, 4.2)
    for curve, style, suffix in ((result.km, "-", "adjusted"), (result.km_naive, ":", "naive")):
        axis.step(
            curve.timeline,
            curve.survival_target,
            where="post",
            color=TARGET_COLOR,
            linestyle=style,
            label=f"target ({suffix})",
        )
        axis.step(
            curve.timeline,
            curve.survival_comparator,
            where="post",
            color=COMPARATOR_COLOR,
            linestyle=style,
            label=f"comparator ({suffix})",
        )
    axis.set_xlabel("days from the start of time at risk")
    axis.set_ylabel("survival without the outcome")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small", loc="lower left")
    return png_base64(figure)
