"""`ocais learn fit` and `ocais benchmark --predictor learned --model` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocais.knowledge import default_release_dir
from tests.cli.conftest import Cli
from tests.cli.test_synth_cli import extract_cohorts
from tests.helpers import packet


@pytest.fixture(scope="module")
def cohorts(phenopacket_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return extract_cohorts(phenopacket_archive, tmp_path_factory.mktemp("cohorts"))


@pytest.fixture(scope="module")
def real_cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return Cli(tmp_path_factory.mktemp("real-cli") / "data", default_release_dir())


@pytest.mark.slow
def test_fit_then_benchmark_the_learned_predictor(
    real_cli: Cli, cohorts: Path, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    fitted = real_cli.json("learn", "fit", str(cohorts / "source"), "--out", str(model))
    n_source = len(list((cohorts / "source").glob("*.json")))
    assert fitted["n_cases"] + fitted["n_skipped"] == n_source
    assert fitted["n_diseases"] >= 3 and fitted["n_new_diseases"] >= 0
    assert 0.0 <= fitted["cross_fitted_top1"] <= 1.0
    assert (model / "model.json").is_file() and (model / "profiles.npz").is_file()

    holdout = str(cohorts / "holdout")
    # the subcommand's own --json flag works as the root one does
    alone = real_cli(
        "benchmark", holdout, "--predictor", "learned", "--model", str(model), "--json"
    )
    assert alone.exit_code == 0, alone.stderr
    result = json.loads(alone.stdout)
    assert result["predictor"] == "learned"
    assert 0.0 <= result["top1"] <= 1.0 and result["n_cases"] > 0
    both = real_cli.json(
        "benchmark", holdout, "-p", "learned", "-p", "phenotype", "--model", str(model)
    )
    assert set(both["predictors"]) == {"learned", "phenotype"}
    assert both["predictors"]["learned"]["top1"] == result["top1"]

    taken = real_cli("learn", "fit", str(cohorts / "source"), "--out", str(model))
    assert taken.exit_code == 2 and "--overwrite" in taken.stderr


def test_fit_on_the_tiny_release_and_errors(cli: Cli, tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    for i in range(4):
        (cases / f"p{i}.json").write_text(json.dumps(packet(f"P{i}")))
    fitted = cli.json("learn", "fit", str(cases), "--out", str(tmp_path / "m"), "--seed", "2")
    assert fitted["n_cases"] == 4 and fitted["n_diseases"] == 1
    text = cli("learn", "fit", str(cases), "--out", str(tmp_path / "m"), "--overwrite")
    assert text.exit_code == 0, text.stderr
    assert "cross-fitted top-1" in text.stdout

    missing = cli("learn", "fit", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x"))
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    one = tmp_path / "one"
    one.mkdir()
    (one / "p.json").write_text(json.dumps(packet("P1")))
    too_few = cli("learn", "fit", str(one), "--out", str(tmp_path / "y"))
    assert too_few.exit_code == 2 and "usable cases" in too_few.stderr
    negative = cli(
        "learn", "fit", str(cases), "--out", str(tmp_path / "z"), "--prior-strength", "-1"
    )
    assert negative.exit_code == 2


def test_benchmark_model_errors(cli: Cli, tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "p.json").write_text(json.dumps(packet("P1")))
    no_model = cli("benchmark", str(cases), "--predictor", "learned")
    assert no_model.exit_code == 2 and "needs a model" in no_model.stderr
    missing = cli("benchmark", str(cases), "-p", "learned", "--model", str(tmp_path / "none"))
    assert missing.exit_code == 2 and "ocais learn fit" in missing.stderr
    unused = cli("benchmark", str(cases), "-p", "phenotype", "--model", str(tmp_path / "none"))
    assert unused.exit_code == 2 and "--model" in unused.stderr
