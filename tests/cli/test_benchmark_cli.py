"""``ocais benchmark`` with fake predictors in place of the registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ocais.cli import benchmark as cli_benchmark
from ocais.errors import ConfigError
from ocais.evaluate import run_benchmark
from ocais.predict.base import Predictor
from ocais.workflows import services as workflow_services
from tests.cli.conftest import Cli
from tests.evaluate.fakes import FakeRanker, FakeScorer, write_packets

FAKES: dict[str, type[FakeRanker]] = {"fake-scorer": FakeScorer, "fake-ranker": FakeRanker}


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Replace the registry by the fakes; record what each was built with."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def create(name: str, knowledge: Any, *, dependencies: Any = None, **options: Any) -> Predictor:
        calls.append((name, options))
        if name not in FAKES:
            raise ConfigError(f"unknown predictor {name!r}", hint="choose one of: fake-scorer")
        return FAKES[name]()

    monkeypatch.setattr(workflow_services, "create_predictor", create)
    return calls


def test_json_output(tmp_path: Path, cli: Cli, built: list[tuple[str, dict[str, Any]]]) -> None:
    packets = write_packets(tmp_path / "packets")
    out = tmp_path / "out"
    args = [str(packets), "-p", "fake-scorer", "-p", "fake-ranker", "--out", str(out)]
    result = cli("benchmark", *args, "--namespaces", "OMIM, ORPHA", json_output=True)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["predictor"] == "fake-scorer"
    assert (data["n_cases"], data["top1"], data["top3"], data["top10"]) == (4, 0.25, 0.5, 0.5)
    assert data["coverage"] == 0.75 and data["mrr"] == pytest.approx(1 / 3, abs=1e-6)
    assert data["ms_per_case"] >= 0
    assert data["covered"]["n_cases"] == 3
    assert set(data["predictors"]) == {"fake-scorer", "fake-ranker"}
    assert data["predictors"]["fake-ranker"]["mrr"] == pytest.approx(0.375)
    assert data["files"]["report"] == str(out / "report.html") and (out / "report.html").is_file()
    assert built == [
        ("fake-scorer", {"namespaces": ("OMIM", "ORPHA")}),
        ("fake-ranker", {"namespaces": ("OMIM", "ORPHA")}),
    ]


def test_model_dir_is_passed_only_to_predictors_that_load_one(
    tmp_path: Path,
    cli: Cli,
    built: list[tuple[str, dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli_benchmark, "takes_model", lambda name: name == "fake-ranker")
    packets = write_packets(tmp_path / "packets")
    (tmp_path / "m").mkdir()
    args = [str(packets), "-p", "fake-ranker", "-p", "fake-scorer", "--model", str(tmp_path / "m")]
    assert cli("benchmark", *args, json_output=True).exit_code == 0
    assert built == [
        ("fake-ranker", {"namespaces": ("OMIM", "ORPHA"), "model_dir": tmp_path / "m"}),
        ("fake-scorer", {"namespaces": ("OMIM", "ORPHA")}),
    ]


def test_a_model_that_is_neither_a_folder_nor_an_installed_package_is_refused(
    tmp_path: Path, cli: Cli, built: Any
) -> None:
    packets = write_packets(tmp_path / "packets")
    for model, reason in (
        (str(tmp_path / "missing"), "does not exist"),
        ("shared-dev@1.0.0", "neither a folder nor an installed model package"),
    ):
        result = cli("benchmark", str(packets), "-p", "learned", "--model", model)
        assert result.exit_code == 2
        assert reason in " ".join(result.stderr.split())
    assert built == []


def test_model_without_a_predictor_that_loads_it_is_refused(
    tmp_path: Path, cli: Cli, built: Any
) -> None:
    packets = write_packets(tmp_path / "packets")
    args = [str(packets), "-p", "fake-scorer", "--model", str(tmp_path / "m")]
    result = cli("benchmark", *args, json_output=True)
    assert result.exit_code == 2
    assert "--model is given" in result.stderr and "--predictor learned" in result.stderr
    assert built == []


def test_table_output(tmp_path: Path, cli: Cli, built: Any) -> None:
    packets = write_packets(tmp_path / "packets")
    result = cli("benchmark", str(packets), "-p", "fake-scorer")
    assert result.exit_code == 0, result.stderr
    assert "fake-scorer" in result.stdout and "25.0%" in result.stdout
    assert "covered" in result.stdout and "2 records skipped" in result.stdout


def test_unknown_predictor_fails_with_the_fix(tmp_path: Path, cli: Cli, built: Any) -> None:
    result = cli("benchmark", str(tmp_path), "-p", "nope", json_output=True)
    assert result.exit_code == 2
    assert "unknown predictor 'nope'" in result.stderr and "choose one of" in result.stderr


def test_default_predictors(tmp_path: Path, cli: Cli, built: Any) -> None:
    cli("benchmark", str(tmp_path), json_output=True)
    assert built[0][0] == "phenotype"


def test_benchmark_json_shape(tmp_path: Path, tiny_kb: Any) -> None:
    packets = write_packets(tmp_path / "packets")
    result = run_benchmark(packets, {"b": FakeRanker(), "a": FakeScorer()}, knowledge=tiny_kb)
    data = cli_benchmark.benchmark_json(result)
    assert data["predictor"] == "b" and list(data["predictors"]) == ["b", "a"]
    for key in ("n_cases", "top1", "top3", "top10", "mrr", "coverage", "ms_per_case"):
        assert data[key] >= 0 and (key in ("n_cases", "ms_per_case") or data[key] <= 1)
    assert data["covered"] == result.predictors["b"].covered
    json.dumps(data)  # serializable as is
