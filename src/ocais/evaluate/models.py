"""Result types of a benchmark run (pydantic): what ``metrics.json`` holds and the report shows."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Metrics = dict[str, int | float]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SkippedRecord(_Model):
    """An input record left out of the benchmark, and why."""

    source: str
    record: str | None = None
    reason: str


class CaseOutcome(_Model):
    """How one predictor did on one case: one line of ``cases.jsonl``."""

    predictor: str
    case_id: str
    external_id: str | None = None
    cohort: str | None = None
    sex: str
    age_years: float | None = None
    n_observed: int
    n_excluded: int
    truth: list[str]
    covered: bool = Field(description="The predictor knows (one of) the true diseases")
    rank: int | None = Field(
        description="Grouped: pessimistic rank of the true disease among MONDO diseases (a hit "
        "on any entry of the truth's group counts); None = miss"
    )
    top: list[tuple[str, float]] = Field(
        default_factory=list,
        description="Best diseases as (entry id, score), best first: one per MONDO disease, "
        "named by its best-scoring member entry (OMIM:/ORPHA:); top_groups has their groups",
    )
    truth_groups: list[str] = Field(
        default_factory=list, description="MONDO id of each truth (the id itself if unmapped)"
    )
    top_groups: list[str] = Field(
        default_factory=list, description="MONDO id (or entry id if unmapped) per `top` row"
    )
    strict_rank: int | None = Field(
        default=None, description="Strict: rank of the true entry itself among all entries"
    )
    strict_covered: bool = Field(
        default=False, description="The predictor ranks the true entry itself"
    )
    probability: float | None = Field(
        default=None, description="Probability the predictor gave its top-1 candidate, if any"
    )


class ReliabilityBin(_Model):
    lower: float
    upper: float
    count: int
    confidence: float
    accuracy: float


class Calibration(_Model):
    """Calibration of the top-1 candidate's probability (see ``metrics.calibration_metrics``)."""

    source: Literal["scorer", "candidate"] = Field(
        description="'scorer': the predictor's probabilities(); 'candidate': Candidate.probability"
    )
    metrics: Metrics
    bins: list[ReliabilityBin]


class DiseaseRow(_Model):
    disease_id: str
    name: str
    n_cases: int
    coverage: float
    top1: float
    top10: float
    mean_rank: float | None = None


class PredictorResult(_Model):
    """Everything measured for one predictor."""

    name: str = Field(description="The predictor's registered name")
    options: dict[str, Any] = Field(default_factory=dict)
    mode: Literal["scorer", "ranker"] = Field(
        description="'scorer': exact ranks over all diseases; 'ranker': ranks from the top list"
    )
    n_diseases: int | None = Field(default=None, description="Diseases the predictor ranks")
    ms_per_case: float
    llm: dict[str, Any] | None = Field(
        default=None,
        description="Predictors that ask an LLM (rag, llm): model, calls, failures, "
        "grounded_rate, ms_per_call (p50/p95) and tokens",
    )
    genomic: dict[str, Any] | None = Field(
        default=None,
        description="Predictors that read genomic evidence (genomic): cases with it, VCFs read, "
        "VCFs not used by reason (counts only, no file name or variant)",
    )
    metrics: Metrics = Field(
        description="Grouped (a hit on any entry of the truth's MONDO disease, each disease "
        "ranked once), all cases; uncovered cases count as misses"
    )
    strict: Metrics = Field(
        default_factory=dict,
        description="Strict (the true entry itself among all entries), all cases",
    )
    covered: Metrics = Field(description="Grouped, covered cases only")
    topk_curve: list[float] = Field(description="Top-k accuracy for k = 1..50, all cases")
    topk_curve_strict: list[float] = Field(default_factory=list, description="Strict curve")
    topk_curve_covered: list[float]
    subgroups: dict[str, dict[str, Metrics]] = Field(
        description="Metrics by 'sex', 'age' and 'n_observed' group"
    )
    per_disease: list[DiseaseRow]
    calibration: Calibration | None = None


class BenchmarkResult(_Model):
    """One benchmark run over a phenopacket collection (written as ``metrics.json``)."""

    source: str
    created_at: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))
    software: str
    knowledge: dict[str, str] = Field(description="Release: HPO and annotation versions, hash")
    machine: dict[str, Any]
    top_k: int
    n_cases: int = Field(description="Cases evaluated (valid, with a confirmed diagnosis)")
    n_skipped: int = Field(description="Records left out: invalid, or no confirmed diagnosis")
    skipped: list[SkippedRecord] = Field(default_factory=list)
    predictor_names: list[str]
    predictors: dict[str, PredictorResult]
    files: dict[str, str] = Field(default_factory=dict, description="Files written, by kind")
    outcomes: dict[str, list[CaseOutcome]] = Field(
        default_factory=dict, exclude=True, description="Per-case outcomes (cases.jsonl)"
    )
