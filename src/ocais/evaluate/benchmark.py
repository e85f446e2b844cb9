"""The benchmark runner: rank the true diagnosis of every phenopacket, for each predictor.

Truth is a case's diagnoses with status ``confirmed``. Two ranks are reported per case: the
*grouped* rank (``rank``; the headline ``metrics``) of the truth's MONDO disease among diseases,
where a hit on any entry of that disease counts and each disease is listed once — what a
clinician reads in the differential — and the *strict* rank (``strict_rank``; ``strict``
metrics) of the true entry itself among all entries, as before MONDO grouping
(docs/decisions/0010). A predictor that implements
:class:`~ocais.predict.base.DiseaseScorer` scores every disease at once, so the true disease's rank
is exact over all of its ``disease_ids`` (ties pessimistic); any other predictor is asked for its
top 50 and the truth is ranked inside that list (a miss beyond it). Only predictor calls are
timed, not reading.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

from ocais import __version__
from ocais.errors import ConfigError, InvalidRecordError
from ocais.evaluate.metrics import CURVE_MAX_K, Rank, pessimistic_rank, top_indices
from ocais.evaluate.models import BenchmarkResult, CaseOutcome, PredictorResult, SkippedRecord
from ocais.evaluate.summary import summarize
from ocais.ingest.base import ReaderContext
from ocais.ingest.phenopacket import PhenopacketReader
from ocais.knowledge import KnowledgeBase
from ocais.predict.base import DiseaseScorer, Predictor, predict_many
from ocais.predict.groups import DiseaseGroups
from ocais.schemas import Case

ProgressCallback = Callable[[str, int, int | None], None]
"""``progress(task, done, total)``: task is ``"read"`` (total ``None``) or a predictor's label."""

ProbabilitySource = Literal["scorer", "candidate"] | None

BATCH_SIZE = 256
SAVED_CANDIDATES = 10
CASES_FILE = "cases.jsonl"
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.html"


def confirmed_truth(case: Case) -> list[str]:
    """The case's confirmed diagnosis ids, in order, without repeats."""
    return list(dict.fromkeys(d.disease_id for d in case.diagnoses if d.status == "confirmed"))


def read_cases(
    source: Path,
    knowledge: KnowledgeBase,
    *,
    workers: int = 1,
    progress: ProgressCallback | None = None,
) -> tuple[list[Case], list[SkippedRecord]]:
    """Valid cases with a confirmed diagnosis, and the records left out (invalid or undiagnosed).

    A source that cannot be read at all (missing path, Phenopacket v1) raises.
    """
    reader = PhenopacketReader(ReaderContext(terms=knowledge, workers=workers))
    cases: list[Case] = []
    skipped: list[SkippedRecord] = []
    for count, record in enumerate(reader.read(source), start=1):
        if isinstance(record, InvalidRecordError):
            skipped.append(
                SkippedRecord(source=record.source, record=record.record, reason=record.message)
            )
        elif not confirmed_truth(record):
            skipped.append(
                SkippedRecord(
                    source=record.provenance.source,
                    record=record.external_id,
                    reason="no confirmed diagnosis",
                )
            )
        else:
            cases.append(record)
        if progress is not None and count % 100 == 0:
            progress("read", count, None)
    if progress is not None:
        progress("read", len(cases) + len(skipped), None)
    return cases, skipped


def run_benchmark(
    cases_source: Path,
    predictors: Mapping[str, Predictor],
    *,
    knowledge: KnowledgeBase,
    top_k: int = 10,
    out_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    workers: int = 1,
    batch_size: int = BATCH_SIZE,
) -> BenchmarkResult:
    """Benchmark each predictor (keyed by a label) on the phenopackets under ``cases_source``.

    ``options`` records how each predictor was built (else its ``options`` attribute, if any).
    With ``out_dir``, writes ``cases.jsonl``, ``metrics.json`` and ``report.html`` there.
    """
    if not predictors:
        raise ConfigError("no predictor to benchmark", hint="name at least one predictor")
    if top_k < 1:
        raise ConfigError(f"top_k must be at least 1, got {top_k}")
    cases, skipped = read_cases(cases_source, knowledge, workers=workers, progress=progress)
    if not cases:
        raise ConfigError(
            f"no case with a confirmed diagnosis in {cases_source}",
            hint=f"{len(skipped)} records were left out; check the path and the diagnoses",
        )
    names = _disease_names(cases, knowledge)
    results: dict[str, PredictorResult] = {}
    outcomes: dict[str, list[CaseOutcome]] = {}
    for label, predictor in predictors.items():
        chosen = (options or {}).get(label)
        outcomes[label], elapsed, probability_source = _evaluate(
            label, predictor, cases, knowledge, top_k, batch_size, progress
        )
        results[label] = summarize(
            outcomes[label],
            names,
            name=str(getattr(predictor, "name", label)),
            options=dict(chosen) if chosen is not None else predictor_options(predictor),
            mode="scorer" if isinstance(predictor, DiseaseScorer) else "ranker",
            n_diseases=_n_diseases(predictor),
            ms_per_case=round(1000 * elapsed / len(cases), 4),
            probability_source=probability_source,
        )
        stats = getattr(predictor, "llm_stats", None)
        if callable(stats):
            results[label].llm = stats()
        reading = getattr(predictor, "genomic_stats", None)
        if callable(reading):
            results[label].genomic = reading()
    result = BenchmarkResult(
        source=str(cases_source),
        software=f"ocais {__version__}",
        knowledge=knowledge.release,
        machine=machine_info(),
        top_k=top_k,
        n_cases=len(cases),
        n_skipped=len(skipped),
        skipped=skipped,
        predictor_names=list(predictors),
        predictors=results,
        outcomes=outcomes,
    )
    if out_dir is not None:
        write_outputs(result, out_dir)
    return result


# --- one predictor ------------------------------------------------------------------------------
def _evaluate(
    label: str,
    predictor: Predictor,
    cases: Sequence[Case],
    knowledge: KnowledgeBase,
    top_k: int,
    batch_size: int,
    progress: ProgressCallback | None,
) -> tuple[list[CaseOutcome], float, ProbabilitySource]:
    """(outcomes, seconds spent in predictor calls, where probabilities came from)."""
    n_saved = max(top_k, SAVED_CANDIDATES)
    outcomes: list[CaseOutcome] = []
    elapsed = 0.0
    if progress is not None:
        progress(label, 0, len(cases))
    scorer = predictor if isinstance(predictor, DiseaseScorer) else None
    probabilities = getattr(predictor, "probabilities", None) if scorer is not None else None
    ids = list(scorer.disease_ids) if scorer is not None else []
    index = {disease_id: i for i, disease_id in enumerate(ids)}
    known = _known_ids(predictor)
    groups = _groups_of(scorer, knowledge) if scorer is not None else None
    for batch in _batches(cases, batch_size):
        if scorer is not None and groups is not None:
            seconds, found = _score_batch(
                label,
                scorer,
                batch,
                (ids, index, groups, knowledge),
                n_saved,
                probabilities if callable(probabilities) else None,
            )
        else:
            seconds, found = _rank_batch(
                label, predictor, batch, max(top_k, CURVE_MAX_K), n_saved, known, knowledge
            )
        elapsed += seconds
        outcomes.extend(found)
        if progress is not None:
            progress(label, len(outcomes), len(cases))
    if scorer is not None and callable(probabilities):
        source: ProbabilitySource = "scorer"
    else:
        source = "candidate" if any(o.probability is not None for o in outcomes) else None
    return outcomes, elapsed, source


def _groups_of(scorer: DiseaseScorer, knowledge: KnowledgeBase) -> DiseaseGroups:
    """The scorer's own grouping of its entries, else one built from the knowledge base."""
    found = getattr(scorer, "disease_groups", None)
    if isinstance(found, DiseaseGroups):
        return found
    return DiseaseGroups.build(knowledge, list(scorer.disease_ids))


def _score_batch(
    label: str,
    scorer: DiseaseScorer,
    batch: Sequence[Case],
    diseases: tuple[list[str], dict[str, int], DiseaseGroups, KnowledgeBase],
    n_saved: int,
    probabilities: Callable[[np.ndarray], np.ndarray] | None,
) -> tuple[float, list[CaseOutcome]]:
    ids, index, groups, knowledge = diseases
    started = time.perf_counter()
    scores = np.asarray(scorer.score_cases(batch), dtype=np.float64)
    seconds = time.perf_counter() - started
    if scores.shape != (len(batch), len(ids)):
        raise ValueError(
            f"predictor {label!r} returned scores of shape {scores.shape}, "
            f"expected {(len(batch), len(ids))}"
        )
    group_scores = groups.scores(scores)
    probs = np.asarray(probabilities(group_scores), dtype=np.float64) if probabilities else None
    outcomes = []
    for row, case in enumerate(batch):
        truth = confirmed_truth(case)
        positions = [index[d] for d in truth if d in index]
        strict = pessimistic_rank(scores[row], positions) if positions else None
        truth_groups = groups.positions(truth, knowledge)
        rank = pessimistic_rank(group_scores[row], truth_groups) if truth_groups else None
        best = top_indices(group_scores[row], n_saved)
        probability = None
        if probs is not None and best.size and np.isfinite(probs[row, best[0]]):
            probability = float(np.clip(probs[row, best[0]], 0.0, 1.0))
        top = [
            (ids[int(groups.ranked_members(int(g), scores[row])[0])], float(group_scores[row, g]))
            for g in best
        ]
        outcome = _outcome(label, case, truth, bool(truth_groups), rank, top, probability)
        outcome.strict_rank = strict
        outcome.strict_covered = bool(positions)
        outcome.truth_groups = [knowledge.disease_group(d) for d in truth]
        outcome.top_groups = [groups.group_ids[int(g)] for g in best]
        outcomes.append(outcome)
    return seconds, outcomes


def _rank_batch(
    label: str,
    predictor: Predictor,
    batch: Sequence[Case],
    asked: int,
    n_saved: int,
    known: frozenset[str] | None,
    knowledge: KnowledgeBase,
) -> tuple[float, list[CaseOutcome]]:
    started = time.perf_counter()
    predictions = predict_many(predictor, batch, top_k=asked)
    seconds = time.perf_counter() - started
    outcomes = []
    for case, prediction in zip(batch, predictions, strict=True):
        truth = confirmed_truth(case)
        candidates = prediction.candidates
        wanted = {knowledge.disease_group(d) for d in truth}
        found = [c.mondo_id or knowledge.disease_group(c.disease_id) for c in candidates]
        positions = [i for i, g in enumerate(found) if g in wanted]
        strict_positions = [i for i, c in enumerate(candidates) if c.disease_id in truth]
        scores = [c.score for c in candidates]
        rank = pessimistic_rank(scores, positions) if positions else None
        strict = pessimistic_rank(scores, strict_positions) if strict_positions else None
        covered = any(d in known if known is not None else knowledge.has_disease(d) for d in truth)
        top = [(c.disease_id, c.score) for c in candidates[:n_saved]]
        probability = candidates[0].probability if candidates else None
        outcome = _outcome(label, case, truth, covered or rank is not None, rank, top, probability)
        outcome.strict_rank = strict
        outcome.strict_covered = covered or strict is not None
        outcome.truth_groups = sorted(wanted)
        outcome.top_groups = found[:n_saved]
        outcomes.append(outcome)
    return seconds, outcomes


def _outcome(
    label: str,
    case: Case,
    truth: list[str],
    covered: bool,
    rank: Rank,
    top: list[tuple[str, float]],
    probability: float | None,
) -> CaseOutcome:
    return CaseOutcome(
        predictor=label,
        case_id=case.id,
        external_id=case.external_id,
        cohort=case.cohort,
        sex=case.subject.sex.value,
        age_years=case.subject.age_years,
        n_observed=len(case.observed),
        n_excluded=len(case.excluded),
        truth=truth,
        covered=covered,
        rank=rank,
        top=top,
        probability=probability,
    )


def _batches(cases: Sequence[Case], size: int) -> Iterator[Sequence[Case]]:
    for start in range(0, len(cases), max(1, size)):
        yield cases[start : start + size]


def _known_ids(predictor: Predictor) -> frozenset[str] | None:
    ids = getattr(predictor, "disease_ids", None)
    return frozenset(ids) if ids is not None else None


def _n_diseases(predictor: Predictor) -> int | None:
    ids = getattr(predictor, "disease_ids", None)
    return len(ids) if ids is not None else None


def predictor_options(predictor: Predictor) -> dict[str, Any]:
    """How a predictor was built, as recorded: all its options (``described_options``, else
    ``options``), JSON-ready."""
    described = getattr(predictor, "described_options", None)  # all of them (``genomic``)
    if isinstance(described, Mapping):
        return dict(described)
    found = getattr(predictor, "options", None)
    if isinstance(found, BaseModel):
        return found.model_dump(mode="json")
    if isinstance(found, Mapping):
        return dict(found)
    return {}


def _disease_names(cases: Sequence[Case], knowledge: KnowledgeBase) -> dict[str, str]:
    """Names of the true diseases: the knowledge base's, else the label in the packet."""
    names: dict[str, str] = {}
    for case in cases:
        for diagnosis in case.diagnoses:
            if diagnosis.disease_id in names:
                continue
            if knowledge.has_disease(diagnosis.disease_id):
                names[diagnosis.disease_id] = knowledge.disease_name(diagnosis.disease_id)
            elif diagnosis.label:
                names[diagnosis.disease_id] = diagnosis.label
    return names


# --- output -------------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    """What the timings were measured on."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def write_outputs(result: BenchmarkResult, out_dir: Path) -> dict[str, str]:
    """Write ``cases.jsonl``, ``metrics.json`` and ``report.html``; record them in ``files``."""
    from ocais.evaluate.report import render_report

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "cases": out_dir / CASES_FILE,
        "metrics": out_dir / METRICS_FILE,
        "report": out_dir / REPORT_FILE,
    }
    result.files = {kind: str(path) for kind, path in paths.items()}
    with paths["cases"].open("w", encoding="utf-8") as handle:
        for rows in result.outcomes.values():
            for outcome in rows:
                handle.write(outcome.model_dump_json() + "\n")
    paths["metrics"].write_text(result.model_dump_json(indent=2), encoding="utf-8")
    paths["report"].write_text(render_report(result), encoding="utf-8")
    return result.files
