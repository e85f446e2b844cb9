"""``ocais benchmark`` through a local app with the real root callback (main does not register
the command yet) and fake predictors in place of the registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from ocais.cli import benchmark as cli_benchmark
from ocais.cli import context
from ocais.cli.main import root
from ocais.errors import ConfigError
from ocais.evaluate import run_benchmark
from ocais.predict.base import Predictor
from ocais.workflows import services as workflow_services
from tests.evaluate.fakes import FakeRanker, FakeScorer, write_packets

ENV: dict[str, str | None] = {
    "OCAIS_WORKERS": "1",
    "OCAIS_STORE_URL": None,
    "OCAIS_CACHE_DIR": None,
    "OCAIS_HPO_DIR": None,
    "OCAIS_SITE": None,
}
FAKES: dict[str, type[FakeRanker]] = {"fake-scorer": FakeScorer, "fake-ranker": FakeRanker}

app = typer.Typer()
app.callback()(root)
app.command("benchmark")(cli_benchmark.benchmark)


@pytest.fixture(autouse=True)
def plain_wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    for console in (context.console, context.err_console):
        monkeypatch.setattr(console, "_width", 200)
        monkeypatch.setattr(console, "_color_system", None)
        monkeypatch.setattr(console, "_force_terminal", False)


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


def invoke(tmp_path: Path, tiny_release: Path, *args: str, json_output: bool = True) -> Result:
    root_args = ["--data-dir", str(tmp_path / "data"), "--hpo-dir", str(tiny_release)]
    if json_output:
        root_args.append("--json")
    result = CliRunner().invoke(app, [*root_args, "benchmark", *args], env=ENV)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_json_output(
    tmp_path: Path, tiny_release: Path, built: list[tuple[str, dict[str, Any]]]
) -> None:
    packets = write_packets(tmp_path / "packets")
    out = tmp_path / "out"
    args = [str(packets), "-p", "fake-scorer", "-p", "fake-ranker", "--out", str(out)]
    result = invoke(tmp_path, tiny_release, *args, "--namespaces", "OMIM, ORPHA")
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
    tiny_release: Path,
    built: list[tuple[str, dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli_benchmark, "takes_model", lambda name: name == "fake-ranker")
    packets = write_packets(tmp_path / "packets")
    args = [str(packets), "-p", "fake-ranker", "-p", "fake-scorer", "--model", str(tmp_path / "m")]
    assert invoke(tmp_path, tiny_release, *args).exit_code == 0
    assert built == [
        ("fake-ranker", {"namespaces": ("OMIM", "ORPHA"), "model_dir": tmp_path / "m"}),
        ("fake-scorer", {"namespaces": ("OMIM", "ORPHA")}),
    ]


def test_model_without_a_predictor_that_loads_it_is_refused(
    tmp_path: Path, tiny_release: Path, built: Any
) -> None:
    packets = write_packets(tmp_path / "packets")
    args = [str(packets), "-p", "fake-scorer", "--model", str(tmp_path / "m")]
    result = invoke(tmp_path, tiny_release, *args)
    assert result.exit_code == 2
    assert "--model is given" in result.stderr and "--predictor learned" in result.stderr
    assert built == []


def test_table_output(tmp_path: Path, tiny_release: Path, built: Any) -> None:
    packets = write_packets(tmp_path / "packets")
    result = invoke(tmp_path, tiny_release, str(packets), "-p", "fake-scorer", json_output=False)
    assert result.exit_code == 0, result.stderr
    assert "fake-scorer" in result.stdout and "25.0%" in result.stdout
    assert "covered" in result.stdout and "2 records skipped" in result.stdout


def test_unknown_predictor_fails_with_the_fix(
    tmp_path: Path, tiny_release: Path, built: Any
) -> None:
    result = invoke(tmp_path, tiny_release, str(tmp_path), "-p", "nope")
    assert result.exit_code == 2
    assert "unknown predictor 'nope'" in result.stderr and "choose one of" in result.stderr


def test_default_predictors(tmp_path: Path, tiny_release: Path, built: Any) -> None:
    invoke(tmp_path, tiny_release, str(tmp_path))
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
