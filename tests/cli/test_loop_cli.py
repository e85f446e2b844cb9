"""``ocais loop run`` on the tiny release: the summary table, --json, and a refused gate."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli
from tests.loop.cases import TINY_CONFIG, write_cohorts


def config(tmp_path: Path, text: str = TINY_CONFIG) -> Path:
    write_cohorts(tmp_path / "cases")
    path = tmp_path / "loop.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_loop_run_prints_a_summary(cli: Cli, tmp_path: Path) -> None:
    result = cli("loop", "run", str(config(tmp_path)))
    assert result.exit_code == 0, result.stderr
    for text in (
        "cases (train / holdout)",
        "24 (12 / 12)",
        "membership-inference AUC",
        "exact copies",
        "passed",
        "top-1 before → after",
        "validation html",
    ):
        assert text in result.stdout, text
    assert (tmp_path / "out" / "validation.html").is_file()


def test_loop_run_json_after_the_command(cli: Cli, tmp_path: Path) -> None:
    result = cli("loop", "run", str(config(tmp_path)), "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "completed"
    assert data["figures"]["n_train"] == 12
    assert data["gate"]["passed"] is True
    assert set(data["timings"]) >= {"split", "synthesize", "report", "fit", "validate"}
    assert data["files"]["loop"].endswith("loop.json")
    # a second run refuses to mix outputs, unless told to replace them
    again = cli("loop", "run", str(tmp_path / "loop.toml"))
    assert again.exit_code == 2
    assert "--overwrite" in again.stderr
    assert cli("loop", "run", str(tmp_path / "loop.toml"), "--overwrite").exit_code == 0


def test_refused_gate_and_bad_config_exit_2(cli: Cli, tmp_path: Path) -> None:
    strict = TINY_CONFIG.replace("[gate]\n", "[gate]\nmin_fidelity_correlation = 1.0\n")
    result = cli("loop", "run", str(config(tmp_path, strict)))
    assert result.exit_code == 2
    assert "release_refused" in result.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('source = "x"\nout = "y"\nsplitt = 1\n', encoding="utf-8")
    result = cli("loop", "run", str(bad))
    assert result.exit_code == 2
    assert "unknown key 'splitt'" in result.stderr
