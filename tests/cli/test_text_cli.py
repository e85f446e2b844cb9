"""``ocais phenotypes extract``, mounted on a root command like ``ocais.cli.main``'s."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner, Result

from ocais.cli import context, phenotypes
from ocais.cli.context import CliState
from ocais.config import load_settings

runner = CliRunner()
ENV: dict[str, str | None] = {"OCAIS_HPO_DIR": None, "OCAIS_CACHE_DIR": None}


def make_app(data_dir: Path, hpo_dir: Path) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(
        ctx: typer.Context,
        json_output: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        settings = load_settings(data_dir=data_dir, hpo_dir=hpo_dir)
        ctx.obj = CliState(settings=settings, json_output=json_output)

    app.add_typer(phenotypes.app, name="phenotypes")
    return app


@pytest.fixture(autouse=True)
def plain_wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    for console in (context.console, context.err_console):
        monkeypatch.setattr(console, "_width", 200)
        monkeypatch.setattr(console, "_color_system", None)
        monkeypatch.setattr(console, "_force_terminal", False)


@pytest.fixture
def run(tmp_path: Path, tiny_release: Path):  # type: ignore[no-untyped-def]
    app = make_app(tmp_path / "data", tiny_release)

    def invoke(*args: str, stdin: str | None = None) -> Result:
        result = runner.invoke(app, list(args), input=stdin, env=ENV)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


def test_table(run) -> None:  # type: ignore[no-untyped-def]
    result = run("phenotypes", "extract", "No seizures but poor vision.")
    assert result.exit_code == 0, result.output
    assert "HP:0001250" in result.stdout and "Visual impairment" in result.stdout
    seizure_row = next(line for line in result.stdout.splitlines() if "HP:0001250" in line)
    assert "yes" in seizure_row and "3-11" in seizure_row


def test_json_from_stdin_and_file(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("--json", "phenotypes", "extract", "-", stdin="His mother has epilepsy.")
    assert result.exit_code == 0, result.output
    [mention] = json.loads(result.stdout)
    assert {k: mention[k] for k in ("id", "excluded", "family", "uncertain", "start", "end")} == {
        "id": "HP:0001250",
        "excluded": False,
        "family": True,
        "uncertain": False,
        "start": 15,
        "end": 23,
    }
    assert mention["label"] == "Seizure" and mention["text"] == "epilepsy"
    note = tmp_path / "note.txt"
    note.write_text("Possible grand mal seizure.", encoding="utf-8")
    [from_file] = json.loads(run("--json", "phenotypes", "extract", f"@{note}").stdout)
    assert from_file["id"] == "HP:0002069" and from_file["uncertain"]


def test_nothing_found_and_bad_input(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("phenotypes", "extract", "Vital signs were normal.")
    assert result.exit_code == 0 and "No HPO term found" in result.stdout
    assert json.loads(run("--json", "phenotypes", "extract", "   ").stdout) == []
    missing = run("phenotypes", "extract", f"@{tmp_path / 'missing.txt'}")
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    too_long = run("phenotypes", "extract", "seizures " * 20, "--max-chars", "50")
    assert too_long.exit_code == 2 and "input_too_large" in too_long.stderr
