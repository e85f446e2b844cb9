"""Grouped (MONDO disease) and strict (entry) ranks in the benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocais.evaluate import run_benchmark
from ocais.knowledge import load_knowledge
from ocais.knowledge.mondo import tiny_table
from ocais.predict.base import Predictor
from tests.evaluate.fakes import FakeRanker, FakeScorer, write_packets

# Disease B (OMIM:100002) and C (ORPHA:100003) are one disease here
GROUPED = [("MONDO:9000002", "disease B or C", ["OMIM:100002", "ORPHA:100003"])]


def test_grouped_and_strict_ranks(tiny_release: Path, tmp_path: Path) -> None:
    kb = load_knowledge(tiny_release, tmp_path / "cache", mondo=tiny_table(GROUPED))
    predictors: dict[str, Predictor] = {"scorer": FakeScorer(), "ranker": FakeRanker()}
    out = tmp_path / "out"
    result = run_benchmark(write_packets(tmp_path / "p"), predictors, knowledge=kb, out_dir=out)
    scorer = {o.external_id: o for o in result.outcomes["scorer"]}
    # p2 scores A 2, B 1, C 1: strict rank 3 (pessimistic tie), grouped: A 2, {B, C} 1 → 2
    assert (scorer["p2"].strict_rank, scorer["p2"].rank) == (3, 2)
    assert scorer["p2"].truth_groups == ["MONDO:9000002"]
    assert scorer["p2"].top_groups == ["OMIM:100001", "MONDO:9000002"]
    assert [d for d, _ in scorer["p2"].top] == ["OMIM:100001", "OMIM:100002"]  # member ids
    # p4: truth C scored -inf, but its disease ranks through B: a grouped hit, a strict miss
    assert (scorer["p4"].strict_rank, scorer["p4"].rank) == (None, 1)
    metrics = result.predictors["scorer"]
    assert metrics.metrics["top1"] == pytest.approx(0.5)  # p1, p4 of 4
    assert metrics.strict["top1"] == pytest.approx(0.25)  # p1 only
    assert len(metrics.topk_curve_strict) == len(metrics.topk_curve)
    ranker = {o.external_id: o for o in result.outcomes["ranker"]}
    assert ranker["p2"].rank == ranker["p2"].strict_rank == 1
    saved = json.loads((out / "metrics.json").read_text())
    assert "top1" in saved["predictors"]["scorer"]["metrics"]
    assert "top1" in saved["predictors"]["scorer"]["strict"]
    row = json.loads((out / "cases.jsonl").read_text().splitlines()[0])
    assert {"truth", "rank", "top", "strict_rank", "top_groups"} <= set(row)
    report = (out / "report.html").read_text()
    assert "grouped" in report and "strict" in report
