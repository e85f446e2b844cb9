"""CLI test fixtures: the real ``ocais`` app in a fresh data directory on the tiny release."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from ocais.cli import context
from ocais.cli.main import app

runner = CliRunner()

# the variables that could point a test at a real installation are removed (value None)
ENV: dict[str, str | None] = {
    "OCAIS_WORKERS": "1",
    "OCAIS_STORE_URL": None,
    "OCAIS_CACHE_DIR": None,
    "OCAIS_HPO_DIR": None,
    "OCAIS_SITE": None,
}


@dataclass
class Cli:
    data_dir: Path
    hpo_dir: Path | None

    def __call__(self, *args: str, json_output: bool = False) -> Result:
        root = ["--data-dir", str(self.data_dir)]
        if self.hpo_dir is not None:
            root += ["--hpo-dir", str(self.hpo_dir)]
        if json_output:
            root.append("--json")
        result = runner.invoke(app, [*root, *args], env=ENV)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a traceback is a bug: show it, not an exit code
        return result

    def json(self, *args: str, exit_code: int = 0) -> Any:
        result = self(*args, json_output=True)
        assert result.exit_code == exit_code, result.stderr
        return json.loads(result.stdout)


@pytest.fixture(autouse=True)
def plain_wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rich consoles are built at import: make them plain and wide, whatever the terminal."""
    for console in (context.console, context.err_console):
        monkeypatch.setattr(console, "_width", 200)
        monkeypatch.setattr(console, "_color_system", None)
        monkeypatch.setattr(console, "_force_terminal", False)


@pytest.fixture
def cli(tmp_path: Path, tiny_release: Path) -> Cli:
    return Cli(tmp_path / "data", tiny_release)
