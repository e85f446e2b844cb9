"""CLI test fixtures: the real ``ocais`` app in a fresh data directory on the tiny release.

Every CLI test goes through :class:`Cli` (the ``cli`` fixture): one runner, one environment
(``ENV``), plain wide consoles, and the cheap scrypt costs of the service tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from ocais.cli import context
from ocais.cli.main import app
from ocais.config import load_settings
from ocais.serve.accounts import Accounts
from ocais.workflows import Services, build_services
from tests.serve.conftest import cheap_scrypt  # noqa: F401  (autouse: key hashing stays fast)

runner = CliRunner()

# the variables that could point a test at a real installation are removed (value None)
ENV: dict[str, str | None] = {
    "OCAIS_WORKERS": "1",
    "OCAIS_DATA_DIR": None,
    "OCAIS_STORE_URL": None,
    "OCAIS_CACHE_DIR": None,
    "OCAIS_HPO_DIR": None,
    "OCAIS_SITE": None,
    "OCAIS_DEID_SECRET": None,
}


@dataclass
class Cli:
    data_dir: Path
    hpo_dir: Path | None
    _services: list[Services] = field(default_factory=list, repr=False)

    def __call__(self, *args: str, json_output: bool = False, stdin: str | None = None) -> Result:
        root = ["--data-dir", str(self.data_dir)]
        if self.hpo_dir is not None:
            root += ["--hpo-dir", str(self.hpo_dir)]
        if json_output:
            root.append("--json")
        result = runner.invoke(app, [*root, *args], env=ENV, input=stdin)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a traceback is a bug: show it, not an exit code
        return result

    def json(self, *args: str, exit_code: int = 0) -> Any:
        result = self(*args, json_output=True)
        assert result.exit_code == exit_code, result.stderr
        return json.loads(result.stdout)

    def accounts(self) -> Accounts:
        """The users and keys of this data directory, reached as the CLI reaches them."""
        services = build_services(load_settings(data_dir=self.data_dir, hpo_dir=self.hpo_dir))
        self._services.append(services)
        return Accounts(services.owners)

    def close(self) -> None:
        while self._services:
            self._services.pop().close()


@pytest.fixture(autouse=True)
def plain_wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rich consoles are built at import: make them plain and wide, whatever the terminal."""
    for console in (context.console, context.err_console):
        monkeypatch.setattr(console, "_width", 200)
        monkeypatch.setattr(console, "_color_system", None)
        monkeypatch.setattr(console, "_force_terminal", False)


@pytest.fixture
def cli(tmp_path: Path, tiny_release: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    # what the test itself opens (``Cli.accounts``, ``load_settings``) sees no real installation
    for name, value in ENV.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
    runner_cli = Cli(tmp_path / "data", tiny_release)
    yield runner_cli
    runner_cli.close()


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    """``uvicorn.run`` stubbed: each call's app and options, in order."""
    import uvicorn

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    return calls
