"""`ocais predict` and `ocais benchmark` through the real command, on the tiny release."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli
from tests.helpers import packet


def test_predict_from_hpo_ids(cli: Cli) -> None:
    result = cli.json("predict", "--hpo", "HP:0002069", "--top", "2")
    assert [c["disease_id"] for c in result["candidates"]] == ["OMIM:100002", "OMIM:100001"]
    assert result["candidates"][0]["evidence"]["matched"][0]["relation"] == "exact"
    assert result["provenance"]["knowledge_version"] == "2099-01-01"
    assert result["predictor"] == "phenotype"


def test_predict_with_negation_sex_and_table(cli: Cli) -> None:
    result = cli("predict", "--hpo", "HP:0000505, -HP:0001250", "--sex", "male")
    assert result.exit_code == 0, result.stderr
    assert "Differential" in result.stdout and "OMIM:100001" in result.stdout
    assert "does not replace" in result.stdout
    data = cli.json("predict", "--hpo", "HP:0000505,-HP:0001250", "--sex", "male")
    assert data["candidates"][0]["disease_id"] == "OMIM:100001"


def test_predict_from_a_phenopacket_file(cli: Cli, tmp_path: Path) -> None:
    case_file = tmp_path / "case.json"
    case_file.write_text(json.dumps(packet("P9")))
    result = cli.json("predict", str(case_file), "--predictor", "resnik")
    assert result["predictor"] == "resnik" and result["candidates"]


def test_predict_bad_input(cli: Cli, tmp_path: Path) -> None:
    assert cli("predict").exit_code == 2
    both = tmp_path / "c.json"
    both.write_text(json.dumps(packet("P1")))
    assert cli("predict", str(both), "--hpo", "HP:0001250").exit_code == 2
    not_an_id = cli("predict", "--hpo", "seizure")
    assert not_an_id.exit_code == 2 and "not an HPO id" in not_an_id.stderr
    unknown = cli("predict", "--hpo", "HP:0001250", "--predictor", "nope")
    assert unknown.exit_code == 2 and "config_error" in unknown.stderr
    unknown_id = cli.json("predict", "--hpo", "HP:0004321,HP:0001250")
    assert any("HP:0004321" in w for w in unknown_id["warnings"])
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert cli("predict", str(broken)).exit_code == 2


def test_benchmark_command(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "cases"
    folder.mkdir()
    for i in range(3):
        (folder / f"p{i}.json").write_text(json.dumps(packet(f"P{i}")))
    out = tmp_path / "out"
    result = cli.json("benchmark", str(folder), "--out", str(out))
    for key in ("n_cases", "top1", "top3", "top10", "mrr", "coverage", "ms_per_case"):
        assert key in result
    assert result["n_cases"] == 3 and result["predictor"] == "phenotype"
    assert set(result["predictors"]) == {"phenotype", "resnik"}
    assert 0 <= result["top1"] <= result["top10"] <= result["coverage"] == 1.0
    assert (out / "report.html").read_text().count("data:image/png;base64,") >= 3
    assert len((out / "cases.jsonl").read_text().splitlines()) == 6


def test_notes_are_ingested_deidentified_and_searchable(
    cli: Cli, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from tests.cli.conftest import ENV

    monkeypatch.setitem(ENV, "OCAIS_DEID_SECRET", "a-long-random-secret-for-the-cli-test")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "visit.txt").write_text(
        "Seen by Dr. Alice Martin on 2023-05-02 (MRN 55501234). Grand mal seizures, no poor vision."
    )
    (notes / "other.txt").write_text("Poor vision since birth.")
    report = cli.json("ingest", str(notes), "--format", "text")
    assert (report["n_inserted"], report["indexed"]) == (2, 2)
    listing = cli.json("cases", "list", "--format", "text")
    visit = next(
        cli.json("cases", "show", c["id"]) for c in listing["cases"] if c["n_excluded"] == 1
    )
    stored = json.dumps(visit)
    for secret in ("Alice", "Martin", "2023-05-02", "55501234"):
        assert secret not in stored
    assert [p["id"] for p in visit["phenotypes"]] == ["HP:0002069", "HP:0000505"]
    hits = cli.json("search", "--hpo", "HP:0001250", "-k", "1")["hits"]
    assert hits[0]["case_id"] == visit["id"]
    text_hits = cli.json("search", "poor vision", "--format", "text")["hits"]
    assert text_hits[0]["case_id"] != visit["id"]  # the one that has it, not the one lacking it


def test_predict_as_fhir(cli: Cli, tmp_path: Path) -> None:
    from fhir.resources.R4B.riskassessment import RiskAssessment

    result = cli("predict", "--hpo", "HP:0002069,-HP:0000505", "--top", "2", "--fhir")
    assert result.exit_code == 0, result.stderr
    resource = json.loads(result.stdout)  # nothing but the resource on stdout
    RiskAssessment.model_validate(resource)
    assert resource["resourceType"] == "RiskAssessment" and resource["status"] == "final"
    outcomes = [p["outcome"]["coding"][0] for p in resource["prediction"]]
    assert [(c["system"], c["code"]) for c in outcomes] == [
        ("https://omim.org", "100002"),
        ("https://omim.org", "100001"),
    ]
    assert all(0 < p["probabilityDecimal"] <= 1 for p in resource["prediction"])
    basis = {r["code"]["coding"][0]["code"]: r["valueBoolean"] for r in resource["contained"]}
    assert basis == {"HP:0002069": True, "HP:0000505": False}
    assert resource["subject"] == {"display": "patient of this request (not identified)"}
    # --fhir wins over the root --json (FHIR is JSON too); --json alone is unchanged
    both = cli.json("predict", "--hpo", "HP:0002069,-HP:0000505", "--top", "2", "--fhir")
    assert both["resourceType"] == "RiskAssessment"
    assert both["prediction"] == resource["prediction"]
    plain = cli.json("predict", "--hpo", "HP:0002069,-HP:0000505", "--top", "2")
    assert "resourceType" not in plain and plain["candidates"][0]["disease_id"] == "OMIM:100002"
    # from a phenopacket: its observed and excluded terms are the basis
    case_file = tmp_path / "case.json"
    case_file.write_text(json.dumps(packet("P9")))
    from_file = cli.json("predict", str(case_file), "--predictor", "resnik", "--fhir")
    assert from_file["method"]["coding"][0]["code"] == "resnik"
    assert all("probabilityDecimal" not in p for p in from_file["prediction"])
    observations = {
        r["code"]["coding"][0]["code"]: r["valueBoolean"] for r in from_file["contained"]
    }
    assert observations == {"HP:0001250": True, "HP:0002069": True, "HP:0000505": False}
    # from a text: the terms the recognizer read are the basis (the text itself is not in it)
    text = "Girl with seizures; no visual impairment."
    from_text = cli.json("predict", "--text", text, "--fhir")
    read = {r["code"]["coding"][0]["code"]: r["valueBoolean"] for r in from_text["contained"]}
    assert read == {"HP:0001250": True, "HP:0000505": False}
    assert "Girl" not in json.dumps(from_text)
    # bad input fails as without --fhir
    assert cli("predict", "--hpo", "seizure", "--fhir").exit_code == 2
    assert cli("predict", "--text", "nothing clinical here", "--fhir").exit_code == 2


def test_predict_with_a_vcf_or_genes(cli: Cli, tmp_path: Path) -> None:
    from tests.genomic.vcfs import ann, write_vcf

    vcf = write_vcf(
        tmp_path / "patient.vcf.gz",
        [("chr1", 5, "A", "T", "ANN=" + ann("T", "stop_gained", "HIGH", "GENEA"), ["0/1", "0/0"])],
        samples=("CHILD", "MOTHER"),
        compress="bgzf",
    )
    result = cli.json("predict", "--hpo", "HP:0002069", "--vcf", str(vcf), "--sample", "CHILD")
    assert result["predictor"] == "genomic"
    assert result["candidates"][0]["disease_id"] == "OMIM:100001"
    assert result["candidates"][0]["evidence"]["genotype"]["gene"] == "GENEA"
    table = cli("predict", "--hpo", "HP:0002069", "--gene", "GENEA,GENEB")
    assert table.exit_code == 0, table.stderr
    assert "genotype" in table.stdout
    panel = cli("predict", "--hpo", "HP:0002069")
    assert "Genes worth testing" in panel.stdout and "GENEB" in panel.stdout
    mother_ambiguous = cli("predict", "--hpo", "HP:0002069", "--vcf", str(vcf))
    assert mother_ambiguous.exit_code != 0
    assert "which one is the patient" in mother_ambiguous.stderr
    missing = cli("predict", "--hpo", "HP:0002069", "--vcf", str(tmp_path / "none.vcf"))
    assert missing.exit_code != 0 and "does not exist" in missing.stderr
    wrong = cli("predict", "--hpo", "HP:0002069", "--vcf", str(vcf), "--predictor", "resnik")
    assert wrong.exit_code != 0 and "does not read VCFs" in wrong.stderr


def test_benchmark_on_phenopackets_with_vcfs_beside_them(cli: Cli, tmp_path: Path) -> None:
    """The independent evaluation's command: `ocais benchmark DIR -p phenotype -p genomic`."""
    from tests.genomic.vcfs import ann, write_vcf

    folder = tmp_path / "cases"
    folder.mkdir()
    # disease A's patients show a seizure (disease B fits better by phenotype) and carry GENEA
    for i in range(3):
        data = packet(f"G{i}", phenotypicFeatures=[{"type": {"id": "HP:0002069"}}])
        data["files"] = [
            {
                "uri": f"file://g{i}.vcf.gz",
                "individualToFileIdentifiers": {"proband": "S1"},
                "fileAttributes": {"fileFormat": "vcf", "genomeAssembly": "GRCh38"},
            }
        ]
        (folder / f"g{i}.json").write_text(json.dumps(data))
        if i < 2:  # the third VCF is missing
            decoy = "ANN=" + ann("C", "missense_variant", "MODERATE", "OTHER1")
            write_vcf(
                folder / f"g{i}.vcf.gz",
                [
                    (
                        "chr1",
                        5,
                        "A",
                        "T",
                        "ANN=" + ann("T", "stop_gained", "HIGH", "GENEA"),
                        ["0/1"],
                    ),
                    ("chr2", 9, "G", "C", decoy, ["1/1"]),
                ],
                samples=("S1",),
                compress="bgzf",
            )
    out = tmp_path / "out"
    shown = cli("benchmark", str(folder), "-p", "phenotype", "-p", "genomic", "--out", str(out))
    assert shown.exit_code == 0, shown.stderr
    assert "2 VCFs read" in shown.stdout and "1 missing file" in shown.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    phenotype, genomic = metrics["predictors"]["phenotype"], metrics["predictors"]["genomic"]
    assert phenotype["metrics"]["top1"] == 0.0
    assert genomic["metrics"]["top1"] == round(2 / 3, 6)
    assert genomic["genomic"] == {
        "cases_with_genomics": 3,
        "vcfs_read": 2,
        "vcfs_not_used": {"missing file": 1},
    }
    assert genomic["options"]["miss_lr"] > 0 and phenotype.get("genomic") is None
    assert "chr1" not in (out / "cases.jsonl").read_text(), "no variant in the outputs"
