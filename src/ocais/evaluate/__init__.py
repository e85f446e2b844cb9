"""Evaluation: metrics as pure functions, the benchmark runner, and HTML reports.

``run_benchmark(path, {"label": predictor}, knowledge=kb, out_dir=...)`` ranks the confirmed
diagnosis of every phenopacket for each predictor and returns a :class:`BenchmarkResult`; the
metrics themselves live in :mod:`ocais.evaluate.metrics`.
"""

from __future__ import annotations

from ocais.evaluate.benchmark import (
    ProgressCallback,
    confirmed_truth,
    predictor_options,
    read_cases,
    run_benchmark,
    write_outputs,
)
from ocais.evaluate.models import (
    BenchmarkResult,
    Calibration,
    CaseOutcome,
    DiseaseRow,
    PredictorResult,
    SkippedRecord,
)
from ocais.evaluate.report import render_report

__all__ = [
    "BenchmarkResult",
    "Calibration",
    "CaseOutcome",
    "DiseaseRow",
    "PredictorResult",
    "ProgressCallback",
    "SkippedRecord",
    "confirmed_truth",
    "predictor_options",
    "read_cases",
    "render_report",
    "run_benchmark",
    "write_outputs",
]
