"""`ocais synth` end to end on a few cohorts of the real phenopackets and the real HPO release:
from-cases → report → release, a refused release, and from-knowledge errors."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest

from ocais.knowledge import default_release_dir
from tests.cli.conftest import Cli

# cohorts of the shared archive (about 220 packets, 8 diagnoses): two thirds are the source,
# one third the holdout
COHORTS = ("SATB2", "FBN1", "EHMT1")


def extract_cohorts(archive: Path, target: Path, cohorts: tuple[str, ...] = COHORTS) -> Path:
    """Unpack the cohorts' packets into ``target/source`` and ``target/holdout`` (every third)."""
    source, holdout = target / "source", target / "holdout"
    source.mkdir(parents=True)
    holdout.mkdir()
    wanted = tuple(f"/{c}/phenopackets/" for c in cohorts)
    with tarfile.open(archive) as members:
        chosen = sorted(
            (
                m
                for m in members
                if m.isfile() and m.name.endswith(".json") and any(w in m.name for w in wanted)
            ),
            key=lambda m: m.name,
        )
        for number, member in enumerate(chosen):
            handle = members.extractfile(member)
            assert handle is not None
            folder = holdout if number % 3 == 2 else source
            (folder / Path(member.name).name).write_bytes(handle.read())
    return target


@pytest.fixture(scope="module")
def cohorts(phenopacket_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return extract_cohorts(phenopacket_archive, tmp_path_factory.mktemp("cohorts"))


@pytest.fixture(scope="module")
def real_cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """The CLI on the real HPO release; one data folder (and compiled cache) per module."""
    return Cli(tmp_path_factory.mktemp("real-cli") / "data", default_release_dir())


@pytest.fixture(scope="module")
def synthetic(real_cli: Cli, cohorts: Path) -> tuple[Path, dict[str, object]]:
    out = cohorts / "synthetic"
    summary = real_cli.json("synth", "from-cases", str(cohorts / "source"), "--out", str(out))
    return out, summary


@pytest.mark.slow
def test_from_cases_writes_a_marked_synthetic_set(
    synthetic: tuple[Path, dict[str, object]], cohorts: Path
) -> None:
    out, summary = synthetic
    n_source = len(list((cohorts / "source").glob("*.json")))
    assert summary["n_source_cases"] == n_source
    assert summary["n_cases"] == len(list((out / "phenopackets").glob("*.json")))
    assert summary["n_cases"] >= 2 * n_source
    assert summary["n_diseases"] >= 3 and summary["dropped_too_close"] == 0
    manifest = json.loads((out / "ocais-manifest.json").read_text())
    assert manifest["generator"] == "from-cases" and manifest["synthetic"] is True
    assert manifest["source"]["path"] == str(cohorts / "source")
    assert len(manifest["source"]["cases_sha256"]) == 64
    assert manifest["knowledge"]["hpo_version"] == "2025-01-16"
    assert manifest["options"]["seed"] == 0 and manifest["parameters"]["dataset_id"]


@pytest.mark.slow
def test_report_release_and_a_refused_release(
    real_cli: Cli, synthetic: tuple[Path, dict[str, object]], cohorts: Path, tmp_path: Path
) -> None:
    out, summary = synthetic
    sets = ["--source", str(cohorts / "source"), "--holdout", str(cohorts / "holdout")]
    report = real_cli.json("synth", "report", str(out), *sets, "--out", str(tmp_path / "report"))
    privacy = report["privacy"]
    assert privacy["n_synthetic"] == summary["n_cases"]
    assert privacy["exact_copies"] == 0
    assert 0.0 <= privacy["near_copy_rate"] <= 0.05
    assert 0.0 < privacy["dcr_synthetic_median"] <= 1.0
    assert 0.0 <= privacy["dcr_holdout_median"] <= 1.0
    assert 0.3 <= privacy["mia_auc"] <= 0.6
    assert 0.5 <= report["fidelity"]["median_correlation"] <= 1.0
    utility = report["utility"]
    assert 0.0 <= utility["knowledge"]["top1"] <= utility["learned"]["top1"] <= 1.0
    assert report["gate"]["passed"] is True
    sources = report["provenance"]["parameters"]["sources"]
    assert len(sources["synthetic_sha256"]) == 64
    assert (tmp_path / "report" / "report.json").is_file()
    assert "<html" in (tmp_path / "report" / "report.html").read_text().lower()

    released = real_cli.json(
        "synth", "release", str(out), *sets, "--out", str(tmp_path / "released"), "--no-utility"
    )
    assert released["released"] is True and released["n_files"] == summary["n_cases"]
    assert (tmp_path / "released" / "DATASET_CARD.md").is_file()
    assert (tmp_path / "released" / "report.json").is_file()

    leaky = tmp_path / "leaky"
    shutil.copytree(out, leaky)
    for packet in sorted((cohorts / "source").glob("*.json"))[:30]:
        shutil.copy(packet, leaky / "phenopackets" / packet.name)
    refused = real_cli(
        "synth", "release", str(leaky), *sets, "--out", str(tmp_path / "nope"), "--no-utility"
    )
    assert refused.exit_code == 1, refused.stderr
    assert "release_refused" in refused.stderr and "exact_copies = 30" in refused.stderr
    assert not (tmp_path / "nope").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".nope")]

    # the gate's table in plain text
    table = real_cli("synth", "report", str(out), *sets, "--no-utility")
    assert table.exit_code == 0, table.stderr
    assert "exact copies" in table.stdout and "Release gate: passed" in table.stdout


@pytest.mark.slow
def test_from_cases_errors(real_cli: Cli, synthetic: tuple[Path, object], tmp_path: Path) -> None:
    out, _ = synthetic
    missing = real_cli("synth", "from-cases", str(tmp_path / "nowhere"), "--out", str(tmp_path))
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = real_cli("synth", "from-cases", str(empty), "--out", str(tmp_path / "o"))
    assert nothing.exit_code == 2 and "no phenopacket" in nothing.stderr
    taken = real_cli("synth", "from-cases", str(out), "--out", str(out))
    assert taken.exit_code == 2 and "--overwrite" in taken.stderr
    bad = real_cli("synth", "from-cases", str(out), "--out", str(tmp_path / "b"), "--epsilon", "-1")
    assert bad.exit_code == 2 and "epsilon" in bad.stderr
    not_a_folder = real_cli(
        "synth",
        "release",
        str(tmp_path / "x.json"),
        "--source",
        str(out),
        "--holdout",
        str(out),
        "--out",
        str(tmp_path / "r"),
    )
    assert not_a_folder.exit_code == 2 and "not a folder" in not_a_folder.stderr


def test_from_knowledge_on_the_tiny_release(cli: Cli, tmp_path: Path) -> None:
    summary = cli.json(
        "synth",
        "from-knowledge",
        "--diseases",
        "OMIM:100001,ORPHA:100003",
        "--out",
        str(tmp_path / "k"),
        "--per-disease",
        "4",
        "--seed",
        "3",
    )
    assert summary["n_cases"] == 8 and summary["n_diseases"] == 2
    assert len(list((tmp_path / "k" / "phenopackets").glob("synth-*.json"))) == 8
    every = cli.json("synth", "from-knowledge", "--diseases", "all", "--out", str(tmp_path / "a"))
    assert every["n_cases"] == 30 and every["n_diseases"] == 3  # 10 per disease by default
    manifest = json.loads((tmp_path / "a" / "ocais-manifest.json").read_text())
    assert manifest["generator"] == "from-knowledge" and manifest["source"]["diseases"] == "all"


def test_from_knowledge_names_unknown_diseases(cli: Cli, tmp_path: Path) -> None:
    result = cli(
        "synth",
        "from-knowledge",
        "--diseases",
        "OMIM:100001,OMIM:424242",
        "--out",
        str(tmp_path / "k"),
    )
    assert result.exit_code == 2
    assert "OMIM:424242" in result.stderr and "unknown" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "k").exists()
    nothing = cli("synth", "from-knowledge", "--diseases", " , ", "--out", str(tmp_path / "k"))
    assert nothing.exit_code == 2 and "no disease" in nothing.stderr


def test_synth_help_lists_the_commands(cli: Cli) -> None:
    result = cli("synth", "--help")
    for command in ("from-cases", "from-knowledge", "report", "release"):
        assert command in result.stdout
