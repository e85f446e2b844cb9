"""One predictor's results from its per-case outcomes: accuracy, subgroups, calibration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ocais.evaluate.metrics import (
    AGE_GROUPS,
    CURVE_MAX_K,
    PHENOTYPE_COUNT_GROUPS,
    SEX_GROUPS,
    Rank,
    age_group,
    calibration_metrics,
    covered_metrics,
    per_disease_table,
    phenotype_count_group,
    ranking_metrics,
    reliability_bins,
    subgroup_metrics,
    topk_curve,
)
from ocais.evaluate.models import (
    Calibration,
    CaseOutcome,
    DiseaseRow,
    PredictorResult,
    ReliabilityBin,
)


def summarize(
    outcomes: Sequence[CaseOutcome],
    names: Mapping[str, str],
    *,
    name: str,
    options: dict[str, Any],
    mode: Literal["scorer", "ranker"],
    n_diseases: int | None,
    ms_per_case: float,
    probability_source: Literal["scorer", "candidate"] | None,
) -> PredictorResult:
    """All metrics of one predictor from its per-case outcomes."""
    ranks: list[Rank] = [o.rank for o in outcomes]
    covered = [o.covered for o in outcomes]
    strict_ranks: list[Rank] = [o.strict_rank for o in outcomes]
    strict_covered = [o.strict_covered for o in outcomes]
    covered_ranks = [r for r, c in zip(ranks, covered, strict=True) if c]
    subgroups = {
        "sex": subgroup_metrics(ranks, covered, [o.sex for o in outcomes], SEX_GROUPS),
        "age": subgroup_metrics(
            ranks, covered, [age_group(o.age_years) for o in outcomes], AGE_GROUPS
        ),
        "n_observed": subgroup_metrics(
            ranks,
            covered,
            [phenotype_count_group(o.n_observed) for o in outcomes],
            PHENOTYPE_COUNT_GROUPS,
        ),
    }
    table = per_disease_table([o.truth for o in outcomes], ranks, covered, names)
    calibration = None
    pairs = [(o.probability, o.rank == 1) for o in outcomes if o.probability is not None]
    if pairs and probability_source is not None:
        probabilities = [p for p, _ in pairs]
        correct = [c for _, c in pairs]
        calibration = Calibration(
            source=probability_source,
            metrics=calibration_metrics(probabilities, correct),
            bins=[
                ReliabilityBin.model_validate(b) for b in reliability_bins(probabilities, correct)
            ],
        )
    return PredictorResult(
        name=name,
        options=options,
        mode=mode,
        n_diseases=n_diseases,
        ms_per_case=ms_per_case,
        metrics=ranking_metrics(ranks, covered),
        strict=ranking_metrics(strict_ranks, strict_covered),
        topk_curve_strict=topk_curve(strict_ranks, CURVE_MAX_K),
        covered=covered_metrics(ranks, covered),
        topk_curve=topk_curve(ranks, CURVE_MAX_K),
        topk_curve_covered=topk_curve(covered_ranks, CURVE_MAX_K),
        subgroups=subgroups,
        per_disease=[DiseaseRow.model_validate(row) for row in table],
        calibration=calibration,
    )
