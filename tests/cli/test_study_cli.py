"""`ocais study run` end to end: a generated population written as FHIR R4 NDJSON (Patient,
Condition, MedicationRequest, Encounter) imported with `ocais ingest DIR --format fhir`, then
the study: the adjusted hazard ratio recovers the true one where the naive one is biased, and
without overlap the estimate is withheld (tests/research/population.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.research.population import study_yaml, write_population

pytestmark = pytest.mark.slow


def run_study(cli: Cli, tmp_path: Path, *, overlap: bool, method: str = "iptw") -> dict:
    truth = write_population(tmp_path / "fhir", n=2000, true_hr=0.6, seed=3, overlap=overlap)
    imported = cli("ingest", str(tmp_path / "fhir"), "--format", "fhir")
    assert imported.exit_code == 0, imported.stderr
    definition = tmp_path / "study.yaml"
    definition.write_text(study_yaml(method), encoding="utf-8")
    out = tmp_path / "out"
    result = cli.json("study", "run", str(definition), "--out", str(out))
    assert (out / "result.json").is_file() and (out / "report.html").is_file()
    assert json.loads((out / "result.json").read_text())["attrition"] == result["attrition"]
    result["truth"] = truth
    return result


def test_a_known_effect_is_recovered_and_the_naive_one_is_biased(cli: Cli, tmp_path: Path) -> None:
    result = run_study(cli, tmp_path, overlap=True)
    attrition = {step["step"]: step["persons"] for step in result["attrition"]}
    assert attrition["persons with dated records"] == 2000
    assert result["attrition"][-1]["persons"] == 2000  # everyone meets the criteria here
    naive, estimate = result["naive"], result["estimate"]
    assert result["diagnostics"]["passed"] is True, result["diagnostics"]["reasons"]
    assert estimate is not None
    lo, hi = estimate["ci"]
    assert lo <= 0.6 <= hi, estimate
    n_lo, _ = naive["ci"]
    assert n_lo > 0.6, f"the naive estimate should be biased away from the truth: {naive}"
    assert result["diagnostics"]["max_smd_after"] <= 0.1


def test_without_overlap_the_estimate_is_withheld(cli: Cli, tmp_path: Path) -> None:
    result = run_study(cli, tmp_path, overlap=False)
    assert result["estimate"] is None
    assert result["diagnostics"]["passed"] is False
    reasons = " ".join(result["diagnostics"]["reasons"])
    assert "equipoise" in reasons
    assert result["naive"] is not None  # shown, never as the answer


def test_bad_definitions_are_refused_with_the_fix(cli: Cli, tmp_path: Path) -> None:
    definition = tmp_path / "study.yaml"
    definition.write_text(study_yaml().replace("washout_days", "wash_out_days"), encoding="utf-8")
    refused = cli("study", "run", str(definition), "--out", str(tmp_path / "out"))
    assert refused.exit_code == 2
    assert "wash_out_days: unknown key" in " ".join(refused.stderr.split())
    definition.write_text(study_yaml().replace("RxNorm:11289", "Rx11289"), encoding="utf-8")
    refused = cli("study", "run", str(definition), "--out", str(tmp_path / "out"))
    assert refused.exit_code == 2 and "SYSTEM:CODE" in " ".join(refused.stderr.split())
    missing = cli("study", "run", str(tmp_path / "none.yaml"), "--out", str(tmp_path / "out"))
    assert missing.exit_code == 2 and "configs/study-example.yaml" in missing.stderr
    assert not (tmp_path / "out").exists()


def test_a_study_on_the_shared_synthea_export(cli: Cli, tmp_path: Path, synthea_zip: Path) -> None:
    """The 100-patient Synthea export (CSV): lisinopril vs hydrochlorothiazide for hypertension.
    Too few patients and events for any answer: the gate must withhold it, with the reasons,
    and the attrition must show where the cohort went."""
    imported = cli("ingest", str(synthea_zip), "--format", "synthea-csv")
    assert imported.exit_code == 0, imported.stderr
    definition = tmp_path / "study.yaml"
    definition.write_text(
        "name: lisinopril-vs-hctz\n"
        'target: {medications: ["RxNorm:314076"]}\n'
        'comparator: {medications: ["RxNorm:310798"]}\n'
        'indication: {conditions: ["SNOMED:59621000"]}\n'
        'outcome: {conditions: ["SNOMED:444814009"]}\n'
        "washout_days: 180\n",
        encoding="utf-8",
    )
    result = cli.json("study", "run", str(definition), "--out", str(tmp_path / "out"))
    steps = [step["persons"] for step in result["attrition"]]
    assert steps[0] > 0 and steps == sorted(steps, reverse=True)
    assert steps[1] > 0, "some patients take one of the two drugs"
    assert result["estimate"] is None and result["diagnostics"]["passed"] is False
    assert result["diagnostics"]["reasons"]
    assert (tmp_path / "out" / "result.json").is_file()
