"""The service report: how well served predictions did on the cases whose diagnosis was confirmed.

Each prediction with feedback naming a known disease becomes one outcome: the rank of the
confirmed disease among the prediction's stored candidates (``None``, a miss, when it was not
among them — so top-k is exact only up to the ``top_k`` that was asked for). Metrics are the
evaluation layer's pure functions (``ocais.evaluate``): top-k, MRR, by sex, age group, number of
phenotypes and disease group (the catalogue: OMIM, ORPHA, ...). Feedback that names a diagnosis
only as free text is counted, not ranked. Output: ``service-metrics.json`` and
``service-report.html`` (plots inline).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ocais import __version__
from ocais.evaluate.html import image
from ocais.evaluate.metrics import subgroup_metrics
from ocais.evaluate.models import BenchmarkResult, CaseOutcome, PredictorResult
from ocais.evaluate.plots import subgroup_png, topk_curve_png
from ocais.evaluate.summary import summarize
from ocais.knowledge import KnowledgeBase
from ocais.serve.outcomes import rank_of
from ocais.store.service_repo import ServiceRepository

SUBGROUPS = ("disease_group", "sex", "age", "n_observed")
TITLES = {
    "disease_group": "Accuracy by disease catalogue",
    "sex": "Accuracy by sex",
    "age": "Accuracy by age group (years)",
    "n_observed": "Accuracy by number of observed phenotypes",
}


class ServiceReport(BaseModel):
    generated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    software: str = f"ocais {__version__}"
    knowledge: dict[str, str]
    n_predictions: int = Field(description="Predictions served and stored")
    n_confirmed: int = Field(description="With a confirmed diagnosis that is a known disease")
    n_label_only: int = Field(description="Confirmed only as free text: counted, not ranked")
    predictors: dict[str, PredictorResult]


def service_outcomes(
    store: ServiceRepository, knowledge: KnowledgeBase
) -> tuple[list[CaseOutcome], int]:
    """One outcome per prediction with a confirmed known disease; and the label-only count."""
    outcomes, label_only = [], 0
    for prediction, feedback in store.confirmed_predictions():
        if feedback.disease_id is None:
            label_only += 1
            continue
        top = [(str(c["disease_id"]), float(c["score"])) for c in prediction.candidates]
        first = prediction.candidates[0] if prediction.candidates else {}
        outcomes.append(
            CaseOutcome(
                predictor=prediction.predictor,
                case_id=prediction.id,
                sex=prediction.sex,
                age_years=prediction.age_years,
                n_observed=len(prediction.observed),
                n_excluded=len(prediction.excluded),
                truth=[feedback.disease_id],
                covered=knowledge.has_disease(feedback.disease_id),
                rank=rank_of(prediction, feedback.disease_id),
                top=top,
                probability=first.get("probability"),
            )
        )
    return outcomes, label_only


def build_report(store: ServiceRepository, knowledge: KnowledgeBase) -> ServiceReport:
    outcomes, label_only = service_outcomes(store, knowledge)
    by_predictor: dict[str, list[CaseOutcome]] = defaultdict(list)
    for outcome in outcomes:
        by_predictor[outcome.predictor].append(outcome)
    names = {d: knowledge.disease_name(d) for o in outcomes for d in o.truth if o.covered}
    results = {}
    for name, group in sorted(by_predictor.items()):
        result = summarize(
            group,
            names,
            name=name,
            options={},
            mode="ranker",
            n_diseases=None,
            ms_per_case=0.0,
            probability_source="candidate",
        )
        ranks = [o.rank for o in group]
        covered = [o.covered for o in group]
        catalogues = [o.truth[0].split(":", 1)[0] for o in group]
        result.subgroups["disease_group"] = subgroup_metrics(ranks, covered, catalogues)
        results[name] = result
    return ServiceReport(
        knowledge=knowledge.release,
        n_predictions=store.count_predictions(),
        n_confirmed=len(outcomes),
        n_label_only=label_only,
        predictors=results,
    )


def render_html(report: ServiceReport) -> str:
    parts = [
        "<h1>OCAIS service report</h1>",
        f"<p>{escape(report.software)} · HPO {escape(report.knowledge.get('hpo_version', ''))}"
        f" · generated {report.generated_at:%Y-%m-%d %H:%M} UTC</p>",
        f"<p>{report.n_predictions} predictions served; {report.n_confirmed} with a confirmed "
        f"diagnosis from the disease catalogues; {report.n_label_only} confirmed as free text "
        "only (not ranked).</p>",
    ]
    if not report.predictors:
        parts.append("<p>No confirmed diagnoses yet: nothing to measure.</p>")
    else:
        wrapper = BenchmarkResult(
            source="feedback on served predictions",
            software=report.software,
            knowledge=report.knowledge,
            machine={},
            top_k=max(1, *(len(p.topk_curve) for p in report.predictors.values())),
            n_cases=report.n_confirmed,
            n_skipped=report.n_label_only,
            predictor_names=list(report.predictors),
            predictors=report.predictors,
        )
        parts += ["<h2>Summary</h2>", _summary_table(report)]
        parts += ["<h2>Top-k accuracy</h2>", image(topk_curve_png(wrapper))]
        for key in SUBGROUPS:
            parts += [f"<h2>{escape(TITLES[key])}</h2>", image(subgroup_png(wrapper, key))]
        parts += ["<h2>Per disease</h2>", _disease_table(report)]
    parts.append(
        '<p class="note">A confirmed disease that was not among the stored candidates counts '
        "as a miss, so top-k is exact up to the number of candidates asked for.</p>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>OCAIS service report</title><style>body{font-family:system-ui,sans-serif;"
        "max-width:1100px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid"
        " #ccc;padding:.25em .6em;text-align:right}td.t,th.t{text-align:left}img{max-width:100%}"
        ".note{color:#555}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n"
    )


def _summary_table(report: ServiceReport) -> str:
    rows = [
        '<tr><th class="t">predictor</th><th>cases</th><th>top-1</th><th>top-3</th>'
        "<th>top-10</th><th>MRR</th><th>coverage</th></tr>"
    ]
    for name, result in report.predictors.items():
        m = result.metrics
        rows.append(
            f'<tr><td class="t">{escape(name)}</td><td>{int(m["n_cases"])}</td>'
            + "".join(f"<td>{m[k]:.1%}</td>" for k in ("top1", "top3", "top10"))
            + f"<td>{m['mrr']:.3f}</td><td>{m['coverage']:.1%}</td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def _disease_table(report: ServiceReport) -> str:
    rows = [
        '<tr><th class="t">predictor</th><th class="t">disease</th><th class="t">name</th>'
        "<th>cases</th><th>top-1</th><th>top-10</th></tr>"
    ]
    for name, result in report.predictors.items():
        for row in result.per_disease[:50]:
            rows.append(
                f'<tr><td class="t">{escape(name)}</td><td class="t">{escape(row.disease_id)}</td>'
                f'<td class="t">{escape(row.name)}</td><td>{row.n_cases}</td>'
                f"<td>{row.top1:.0%}</td><td>{row.top10:.0%}</td></tr>"
            )
    return "<table>" + "".join(rows) + "</table>"


def write_report(report: ServiceReport, out_dir: Path) -> dict[str, str]:
    """Write ``service-metrics.json`` and ``service-report.html``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = out_dir / "service-metrics.json"
    html = out_dir / "service-report.html"
    payload: dict[str, Any] = report.model_dump(mode="json")
    metrics.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    html.write_text(render_html(report), encoding="utf-8")
    return {"json": str(metrics), "html": str(html)}
