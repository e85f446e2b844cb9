"""The loop end to end: on the tiny release (fast) and on real phenopacket-store cohorts (slow)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ocais.errors import ConfigError, ReleaseRefusedError
from ocais.evaluate.benchmark import read_cases
from ocais.knowledge import KnowledgeBase
from ocais.loop import LoopResult, load_config, parse_config, run_loop, run_loop_on_cases
from ocais.schemas import Case
from tests.loop.cases import TINY_CONFIG, write_cohorts


def tiny_config(tmp_path: Path, gate: str = "") -> Path:
    """The tiny config; ``gate`` adds lines to its [gate] section."""
    write_cohorts(tmp_path / "cases")
    path = tmp_path / "loop.toml"
    text = TINY_CONFIG.replace("[gate]\n", f"[gate]\n{gate}")
    path.write_text(text, encoding="utf-8")
    return path


def test_tiny_loop_writes_every_output(tiny_kb: KnowledgeBase, tmp_path: Path) -> None:
    stages: list[str] = []
    result = run_loop(load_config(tiny_config(tmp_path)), tiny_kb, lambda s, d, t: stages.append(s))
    out = tmp_path / "out"
    assert result.status == "completed"
    for name in ("split.json", "synth-report.json", "synth-report.html", "validation.json"):
        assert (out / name).is_file(), name
    assert (out / "model" / "model.json").is_file()
    assert (out / "released" / "DATASET_CARD.md").is_file()
    assert len(list((out / "synthetic" / "phenopackets").glob("*.json"))) == 24
    assert {"read", "split", "synthesize", "report", "release", "fit", "validate"} <= set(stages)
    split = json.loads((out / "split.json").read_text())
    assert (split["n_train"], split["n_holdout"]) == (12, 12)
    assert set(split["train"]).isdisjoint(split["holdout"])
    loop = json.loads((out / "loop.json").read_text())
    assert loop["status"] == "completed"
    assert loop["figures"]["n_synthetic"] == 24
    assert loop["figures"]["exact_copies"] == 0
    assert loop["provenance"]["knowledge"]["hpo_version"] == "2099-01-01"
    assert len(loop["provenance"]["source"]["path"]) > 0
    assert loop["provenance"]["model"]["training"]["n_synthetic"] == 24
    assert set(loop["timings"]) >= {"read", "split", "synthesize", "fit", "validate"}
    assert loop["files"]["validation_html"].endswith("validation.html")
    assert "config" in loop and loop["seed"] == 1
    # the one manifest of a synthetic set, as `ocais synth from-cases` writes it, plus the loop's
    manifest = json.loads((out / "synthetic" / "ocais-manifest.json").read_text())
    assert manifest["generator"] == "from-cases" and manifest["synthetic"] is True
    assert {"dataset_id", "source", "parameters", "options", "knowledge", "loop"} <= set(manifest)
    assert manifest["knowledge"]["hpo_version"] == "2099-01-01"
    assert len(manifest["source"]["cases_sha256"]) == 64 and manifest["source"]["n_cases"] == 12
    assert manifest["loop"]["seed"] == 1


def test_a_second_run_needs_overwrite(tiny_kb: KnowledgeBase, tmp_path: Path) -> None:
    config = load_config(tiny_config(tmp_path))
    first = run_loop(config, tiny_kb)
    with pytest.raises(ConfigError, match="--overwrite"):
        run_loop(config, tiny_kb)
    again = run_loop(config, tiny_kb, overwrite=True)
    assert again.figures == first.figures


def test_a_failed_gate_stops_after_writing_the_report(
    tiny_kb: KnowledgeBase, tmp_path: Path
) -> None:
    config = load_config(tiny_config(tmp_path, "min_fidelity_correlation = 1.0\n"))
    with pytest.raises(ReleaseRefusedError, match="min_fidelity_correlation") as caught:
        run_loop(config, tiny_kb)
    assert "synth-report.html" in str(caught.value)
    out = tmp_path / "out"
    assert (out / "synth-report.json").is_file()
    assert not (out / "released").exists()
    assert not (out / "model").exists()
    loop = json.loads((out / "loop.json").read_text())
    assert loop["status"] == "refused"
    assert loop["gate"]["passed"] is False


# --- real cohorts -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_subset(real_kb: KnowledgeBase, phenopacket_archive: Path) -> list[Case]:
    """About 200 cases: the first 10 cohorts (by name) with 12 to 30 cases."""
    cases, _ = read_cases(phenopacket_archive, real_kb)
    sizes = Counter(c.cohort for c in cases)
    chosen = sorted(c for c, n in sizes.items() if c is not None and 12 <= n <= 30)[:10]
    return [c for c in cases if c.cohort in chosen]


def real_run(cases: list[Case], kb: KnowledgeBase, out: Path) -> LoopResult:
    config = parse_config(
        {
            "source": "phenopacket-store subset",
            "out": str(out),
            "seed": 5,
            "gate": {"max_mia_auc": 1.0},
            "learn": {"candidates": 20},
            "validation": {"n_resamples": 200},
        }
    )
    return run_loop_on_cases(cases, config, kb)


def packets(directory: Path) -> dict[str, Any]:
    found = {}
    for path in sorted((directory / "phenopackets").glob("*.json")):
        data = json.loads(path.read_text())
        data["metaData"].pop("created")
        found[path.name] = data
    return found


@pytest.mark.slow
def test_real_loop_is_reproducible_and_in_range(
    real_subset: list[Case], real_kb: KnowledgeBase, tmp_path: Path
) -> None:
    assert 120 <= len(real_subset) <= 300
    first = real_run(real_subset, real_kb, tmp_path / "a")
    second = real_run(real_subset, real_kb, tmp_path / "b")
    f = first.figures
    assert f.n_train + f.n_holdout == len(real_subset)
    assert f.n_synthetic > f.n_train
    assert f.exact_copies == 0
    assert f.mia_auc is not None and 0.0 <= f.mia_auc <= 1.0
    for value in (f.top1_before, f.top1_after, f.top10_before, f.top10_after):
        assert value is not None and 0.0 <= value <= 1.0
    assert f.top10_after is not None and f.top1_after is not None
    assert f.top10_after >= f.top1_after
    assert first.validation is not None and first.validation.n_cases == f.n_holdout
    # the same config and seed: the same split, synthetic patients and figures
    assert second.figures == f
    split = [json.loads((tmp_path / d / "split.json").read_text()) for d in ("a", "b")]
    assert split[0] == split[1]
    assert packets(tmp_path / "a" / "synthetic") == packets(tmp_path / "b" / "synthetic")
    validation = [json.loads((tmp_path / d / "validation.json").read_text()) for d in "ab"]
    for data in validation:
        data.pop("created_at")
    assert validation[0] == validation[1]
