"""The benchmark runner with fake predictors on a tiny folder of phenopackets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ocais.errors import ConfigError, UnsupportedFormatError
from ocais.evaluate import BenchmarkResult, CaseOutcome, run_benchmark
from ocais.predict.base import DiseaseScorer, Predictor
from tests.evaluate.fakes import FakeRanker, FakeScorer, write_packets


@pytest.fixture
def packets(tmp_path: Path) -> Path:
    return write_packets(tmp_path / "packets")


@pytest.fixture
def result(packets: Path, tiny_kb: Any, tmp_path: Path) -> BenchmarkResult:
    predictors: dict[str, Predictor] = {"scorer": FakeScorer(), "ranker": FakeRanker()}
    return run_benchmark(
        packets, predictors, knowledge=tiny_kb, top_k=10, out_dir=tmp_path / "out", batch_size=3
    )


def by_case(outcomes: list[CaseOutcome]) -> dict[str, CaseOutcome]:
    return {o.external_id or "": o for o in outcomes}


def test_the_fakes_implement_the_protocols() -> None:
    assert isinstance(FakeScorer(), DiseaseScorer)
    assert not isinstance(FakeRanker(), DiseaseScorer)


def test_reading_skips_invalid_and_undiagnosed_records(result: BenchmarkResult) -> None:
    assert result.n_cases == 4
    assert result.n_skipped == 2
    reasons = {s.reason for s in result.skipped}
    assert "no confirmed diagnosis" in reasons
    assert any("expected an object" in r for r in reasons)
    assert result.predictor_names == ["scorer", "ranker"]
    assert result.knowledge["hpo_version"] == "2099-01-01"


def test_scorer_ranks_exactly_and_pessimistically(result: BenchmarkResult) -> None:
    cases = by_case(result.outcomes["scorer"])
    assert {k: (o.covered, o.rank) for k, o in cases.items()} == {
        "p1": (True, 1),
        "p2": (True, 3),  # tie with ORPHA:100003 counted against it
        "p3": (False, None),  # OMIM:999999 unknown to the predictor
        "p4": (True, None),  # scored -inf
    }
    assert cases["p1"].top == [("OMIM:100001", 3.0), ("OMIM:100002", 1.0), ("ORPHA:100003", 0.0)]
    assert cases["p4"].top == [("OMIM:100002", 2.0), ("OMIM:100001", 1.0)]
    assert cases["p1"].truth == ["OMIM:100001"] and cases["p1"].sex == "female"
    assert (cases["p1"].n_observed, cases["p1"].n_excluded) == (2, 1)
    scorer = result.predictors["scorer"]
    assert scorer.mode == "scorer" and scorer.n_diseases == 3 and scorer.name == "fake-scorer"
    m = scorer.metrics
    assert (m["n_cases"], m["top1"], m["top3"], m["top10"]) == (4, 0.25, 0.5, 0.5)
    assert m["coverage"] == 0.75
    assert m["mrr"] == pytest.approx((1 + 1 / 3) / 4, abs=1e-6)
    c = scorer.covered
    assert (c["n_cases"], c["top1"]) == (3, pytest.approx(1 / 3, abs=1e-6))
    assert c["mrr"] == pytest.approx((1 + 1 / 3) / 3, abs=1e-6)
    assert scorer.topk_curve[:3] == [0.25, 0.25, 0.5] and len(scorer.topk_curve) == 50
    assert scorer.ms_per_case >= 0


def test_scorer_probabilities_give_the_calibration(result: BenchmarkResult) -> None:
    scorer = result.predictors["scorer"]
    assert scorer.calibration is not None and scorer.calibration.source == "scorer"
    assert scorer.calibration.metrics["n"] == 4  # every case has a top-1 candidate
    p1 = by_case(result.outcomes["scorer"])["p1"].probability
    expected = float(np.exp(3) / (np.exp(3) + np.exp(1) + 1))
    assert p1 == pytest.approx(expected)
    assert scorer.calibration.metrics["accuracy"] == 0.25  # only p1's top-1 is right


def test_ranker_ranks_inside_the_candidate_list(result: BenchmarkResult) -> None:
    cases = by_case(result.outcomes["ranker"])
    assert {k: (o.covered, o.rank) for k, o in cases.items()} == {
        "p1": (True, 2),  # tied with the first candidate → pessimistic
        "p2": (True, 1),
        "p3": (False, None),  # not in the knowledge base → not covered
        "p4": (True, None),  # known, but no candidate
    }
    ranker = result.predictors["ranker"]
    assert ranker.mode == "ranker" and ranker.n_diseases is None
    assert ranker.metrics["coverage"] == 0.75 and ranker.metrics["top1"] == 0.25
    assert ranker.calibration is not None and ranker.calibration.source == "candidate"
    assert ranker.calibration.metrics["n"] == 3  # p4 has no candidate


def test_subgroups_and_per_disease_table(result: BenchmarkResult) -> None:
    groups = result.predictors["scorer"].subgroups
    assert list(groups["sex"]) == ["female", "male"]
    assert groups["sex"]["male"]["n_cases"] == 1 and groups["sex"]["male"]["top3"] == 1
    assert list(groups["age"]) == ["1-5", "40+", "unknown"]
    assert groups["age"]["1-5"]["n_cases"] == 2  # p1, p3
    assert list(groups["n_observed"]) == ["0", "1-2"]
    rows = {r.disease_id: r for r in result.predictors["scorer"].per_disease}
    assert rows["OMIM:100001"].name == "Disease A" and rows["OMIM:100001"].top1 == 1
    assert rows["OMIM:999999"].name == "Unknown D" and rows["OMIM:999999"].coverage == 0
    assert rows["OMIM:100002"].mean_rank == 3


def test_files_are_written(result: BenchmarkResult, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert result.files == {
        "cases": str(out / "cases.jsonl"),
        "metrics": str(out / "metrics.json"),
        "report": str(out / "report.html"),
    }
    lines = [json.loads(line) for line in (out / "cases.jsonl").read_text().splitlines()]
    assert len(lines) == 8  # 4 cases × 2 predictors
    first = lines[0]
    assert {"predictor", "case_id", "external_id", "cohort", "sex", "age_years"} <= first.keys()
    assert {"n_observed", "n_excluded", "truth", "covered", "rank", "top"} <= first.keys()
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"source", "knowledge", "machine", "created_at", "n_cases", "n_skipped"} <= set(metrics)
    assert set(metrics["predictors"]) == {"scorer", "ranker"}
    assert "outcomes" not in metrics
    assert metrics["predictors"]["scorer"]["metrics"]["top1"] == 0.25
    assert BenchmarkResult.model_validate(metrics).n_cases == 4
    report = (out / "report.html").read_text()
    assert '<table id="summary">' in report and "covered only" in report
    assert report.count('<img src="data:image/png;base64,') == 5  # curve, 3 subgroups, calibration
    assert "Disease A" in report and "expected an object" in report
    assert "http://" not in report and "https://" not in report  # self-contained


def test_report_escapes_text(packets: Path, tiny_kb: Any) -> None:
    from ocais.evaluate import render_report

    result = run_benchmark(packets, {"<b>x</b>": FakeRanker()}, knowledge=tiny_kb)
    assert result.files == {}
    html = render_report(result)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "data:image/png" in html and "Calibration" in html


def test_progress_is_reported(packets: Path, tiny_kb: Any) -> None:
    events: list[tuple[str, int, int | None]] = []
    run_benchmark(
        packets,
        {"s": FakeScorer()},
        knowledge=tiny_kb,
        batch_size=2,
        progress=lambda task, done, total: events.append((task, done, total)),
    )
    assert ("read", 6, None) in events
    assert [e for e in events if e[0] == "s"] == [("s", 0, 4), ("s", 2, 4), ("s", 4, 4)]


def test_options_are_recorded(packets: Path, tiny_kb: Any) -> None:
    result = run_benchmark(
        packets, {"r": FakeRanker()}, knowledge=tiny_kb, options={"r": {"namespaces": ["OMIM"]}}
    )
    assert result.predictors["r"].options == {"namespaces": ["OMIM"]}


def test_bad_inputs(packets: Path, tiny_kb: Any, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no predictor"):
        run_benchmark(packets, {}, knowledge=tiny_kb)
    with pytest.raises(UnsupportedFormatError, match="does not exist"):
        run_benchmark(tmp_path / "missing", {"r": FakeRanker()}, knowledge=tiny_kb)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no case with a confirmed diagnosis"):
        run_benchmark(empty, {"r": FakeRanker()}, knowledge=tiny_kb)
