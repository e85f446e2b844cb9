"""``ocais phenotypes extract``: free text (argument, ``-`` for stdin, ``@file``) to HPO terms."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli


def test_table(cli: Cli) -> None:
    result = cli("phenotypes", "extract", "No seizures but poor vision.")
    assert result.exit_code == 0, result.output
    assert "HP:0001250" in result.stdout and "Visual impairment" in result.stdout
    seizure_row = next(line for line in result.stdout.splitlines() if "HP:0001250" in line)
    assert "yes" in seizure_row and "3-11" in seizure_row


def test_json_from_stdin_and_file(cli: Cli, tmp_path: Path) -> None:
    result = cli("phenotypes", "extract", "-", stdin="His mother has epilepsy.", json_output=True)
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    assert output["language"] == "en" and output["unmapped"] == []
    [mention] = output["mentions"]
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
    from_file = json.loads(cli("phenotypes", "extract", f"@{note}", json_output=True).stdout)
    [from_file] = from_file["mentions"]
    assert from_file["id"] == "HP:0002069" and from_file["uncertain"]


def test_nothing_found_and_bad_input(cli: Cli, tmp_path: Path) -> None:
    result = cli("phenotypes", "extract", "Vital signs were normal.")
    assert result.exit_code == 0 and "No HPO term found" in result.stdout
    blank = json.loads(cli("phenotypes", "extract", "   ", json_output=True).stdout)
    assert blank == {"mentions": [], "unmapped": [], "language": "en"}
    missing = cli("phenotypes", "extract", f"@{tmp_path / 'missing.txt'}")
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    too_long = cli("phenotypes", "extract", "seizures " * 20, "--max-chars", "50")
    assert too_long.exit_code == 2 and "input_too_large" in too_long.stderr
