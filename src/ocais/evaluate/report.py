"""The benchmark report: one self-contained HTML page (inline CSS, plots as base64 PNG).

Every piece of text from the data (paths, ids, disease names, options) goes through
``html.escape``; the page loads nothing from elsewhere.
"""

from __future__ import annotations

import json
from html import escape

from ocais.evaluate.html import DEFINITION_LIST_CSS, image, page
from ocais.evaluate.models import BenchmarkResult, Metrics
from ocais.evaluate.plots import SUBGROUP_TITLES, calibration_png, subgroup_png, topk_curve_png

DISEASE_ROWS = 50
SKIPPED_ROWS = 20
TOP_COLUMNS = ("top1", "top3", "top5", "top10")


def render_report(result: BenchmarkResult) -> str:
    """The whole report as an HTML string."""
    sections = [
        f"<h1>OCAIS benchmark: {escape(', '.join(result.predictor_names))}</h1>",
        _about(result),
        "<h2>Summary</h2>",
        _summary_table(result),
        '<p class="note">Top-k and MRR as fractions of the cases; uncovered cases (diagnosis '
        "unknown to the predictor) count as misses in the <em>all cases</em> rows. Ties are "
        "ranked pessimistically. <em>Grouped</em>: each MONDO disease is ranked once and a hit "
        "on any of its entries (OMIM, ORPHA) counts; <em>strict</em>: the true entry itself "
        "among all entries. Milliseconds per case time the predictor calls only.</p>",
        "<h2>Top-k accuracy</h2>",
        image(topk_curve_png(result), "top-k accuracy curve"),
    ]
    for key in ("n_observed", "sex", "age"):
        title = SUBGROUP_TITLES[key]
        sections += [f"<h2>{escape(title)}</h2>", image(subgroup_png(result, key), title)]
    calibration = calibration_png(result)
    if calibration is not None:
        sections += ["<h2>Calibration</h2>", image(calibration, "reliability diagram")]
        sections.append(_calibration_table(result))
    sections += ["<h2>Per disease</h2>", _disease_table(result), _skipped(result)]
    return page(
        f"OCAIS benchmark — {result.source}",
        "\n".join(sections),
        "tr.covered td { color: #555; font-style: italic; }" + DEFINITION_LIST_CSS,
    )


def _about(result: BenchmarkResult) -> str:
    machine = ", ".join(f"{k}: {v}" for k, v in result.machine.items() if v is not None)
    release = ", ".join(f"{k} {v}" for k, v in result.knowledge.items())
    items = [
        ("Data source", result.source),
        ("Cases evaluated", f"{result.n_cases:,}"),
        ("Records skipped", f"{result.n_skipped:,}"),
        ("Knowledge release", release),
        ("Date", result.created_at.strftime("%Y-%m-%d %H:%M UTC")),
        ("Software", result.software),
        ("Machine", machine),
    ]
    for label, predictor in result.predictors.items():
        options = json.dumps(predictor.options, sort_keys=True, default=str)
        diseases = f", {predictor.n_diseases:,} diseases" if predictor.n_diseases else ""
        items.append(
            (f"Predictor {label}", f"{predictor.name} ({predictor.mode}{diseases}) {options}")
        )
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items)
    return f"<dl>{rows}</dl>"


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _summary_row(label: str, scope: str, metrics: Metrics, ms: float, css: str = "") -> str:
    cells = [
        f'<td class="text">{escape(label)}</td>',
        f'<td class="text">{escape(scope)}</td>',
        f"<td>{int(metrics['n_cases']):,}</td>",
        *(f"<td>{_percent(metrics[c])}</td>" for c in TOP_COLUMNS),
        f"<td>{metrics['mrr']:.3f}</td>",
        f"<td>{_percent(metrics['coverage'])}</td>",
        f"<td>{ms:.2f}</td>",
    ]
    return f"<tr{css}>{''.join(cells)}</tr>"


def _summary_table(result: BenchmarkResult) -> str:
    names = ["predictor", "cases", "n", "top-1", "top-3", "top-5", "top-10", "MRR", "coverage"]
    names.append("ms per case")
    header = "".join(
        f'<th class="text">{h}</th>' if h in ("predictor", "cases") else f"<th>{h}</th>"
        for h in names
    )
    rows = []
    for label, predictor in result.predictors.items():
        ms = predictor.ms_per_case
        rows.append(_summary_row(label, "all cases, grouped", predictor.metrics, ms))
        if predictor.strict:
            rows.append(_summary_row(label, "all cases, strict", predictor.strict, ms))
        rows.append(_summary_row(label, "covered only", predictor.covered, ms, ' class="covered"'))
    return f'<table id="summary"><tr>{header}</tr>{"".join(rows)}</table>'


def _calibration_table(result: BenchmarkResult) -> str:
    rows = []
    for label, predictor in result.predictors.items():
        if predictor.calibration is None:
            continue
        m = predictor.calibration.metrics
        rows.append(
            f'<tr><td class="text">{escape(label)}</td>'
            f'<td class="text">{escape(predictor.calibration.source)}</td>'
            f"<td>{int(m['n']):,}</td><td>{m['ece']:.3f}</td><td>{m['mce']:.3f}</td>"
            f"<td>{m['brier']:.3f}</td><td>{_percent(m['confidence'])}</td>"
            f"<td>{_percent(m['accuracy'])}</td></tr>"
        )
    header = (
        '<tr><th class="text">predictor</th><th class="text">probabilities from</th><th>n</th>'
        "<th>ECE</th><th>MCE</th><th>Brier</th><th>mean probability</th><th>top-1</th></tr>"
    )
    return f"<table>{header}{''.join(rows)}</table>"


def _disease_table(result: BenchmarkResult) -> str:
    predictors = list(result.predictors.items())
    if not predictors:
        return ""
    first = predictors[0][1].per_disease
    by_predictor = [{row.disease_id: row for row in p.per_disease} for _, p in predictors]
    header = '<tr><th class="text">disease</th><th class="text">name</th><th>cases</th>'
    header += "".join(
        f"<th>{escape(label)} {metric}</th>"
        for label, _ in predictors
        for metric in ("top-1", "top-10", "mean rank")
    )
    rows = []
    for row in first[:DISEASE_ROWS]:
        cells = [
            f'<td class="text">{escape(row.disease_id)}</td>',
            f'<td class="text">{escape(row.name)}</td>',
            f"<td>{row.n_cases}</td>",
        ]
        for table in by_predictor:
            found = table.get(row.disease_id)
            if found is None:
                cells.append("<td></td><td></td><td></td>")
                continue
            mean_rank = "—" if found.mean_rank is None else f"{found.mean_rank:.1f}"
            cells.append(
                f"<td>{_percent(found.top1)}</td><td>{_percent(found.top10)}</td>"
                f"<td>{mean_rank}</td>"
            )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    note = (
        f'<p class="note">The {min(DISEASE_ROWS, len(first))} diseases with the most cases, of '
        f"{len(first):,}; metrics.json lists them all. Mean rank is over the cases where the "
        "disease was ranked (— when never).</p>"
    )
    return f'<table id="diseases">{header}</tr>{"".join(rows)}</table>{note}'


def _skipped(result: BenchmarkResult) -> str:
    if not result.skipped:
        return ""
    items = "".join(
        f"<li>{escape(s.source)}{escape(f' [{s.record}]' if s.record else '')}: "
        f"{escape(s.reason)}</li>"
        for s in result.skipped[:SKIPPED_ROWS]
    )
    more = len(result.skipped) - SKIPPED_ROWS
    tail = f'<p class="note">… and {more:,} more (see metrics.json).</p>' if more > 0 else ""
    return f"<h2>Skipped records ({result.n_skipped:,})</h2><ul>{items}</ul>{tail}"
