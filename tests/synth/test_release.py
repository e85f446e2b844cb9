"""The release gate (ocais.synth.release): refuse leaking sets, publish clean ones atomically."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ocais.errors import ConfigError, OcaisError, ReleaseRefusedError
from ocais.knowledge import KnowledgeBase
from ocais.schemas import Case
from ocais.synth.privacy import SynthReport, build_report
from ocais.synth.release import (
    CARD_FILE,
    MANIFEST_FILE,
    REPORT_FILE,
    GateThresholds,
    check_gate,
    files_digest,
    phenopacket_files,
    release,
)
from tests.helpers import packet
from tests.synth.cases import copies, random_cases

DISEASES = ("OMIM:1", "OMIM:2", "OMIM:3")
MANIFEST = {"generator": "from_cases", "seed": 7, "options": {"min_distance": 0.3}}


def sets(kb: KnowledgeBase, seed: int = 0, n: int = 60) -> dict[str, list[Case]]:
    rng = np.random.default_rng(seed)
    terms = list(kb.term_ids[1000:1120])
    return {
        "source": random_cases(rng, n, terms, DISEASES, prefix="s"),
        "holdout": random_cases(rng, n, terms, DISEASES, prefix="h"),
        "synthetic": random_cases(rng, n, terms, DISEASES, prefix="y", synthetic=True),
    }


def write_set(directory: Path, cases: list[Case], manifest: dict[str, object] | None) -> Path:
    """One phenopacket file per case (half of them in a subfolder) and the manifest."""
    for i, case in enumerate(cases):
        features = [
            {"type": {"id": p.id}, **({"excluded": True} if p.excluded else {})}
            for p in case.phenotypes
        ]
        path = directory / ("more" if i % 2 else "") / f"{case.id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(packet(case.id, phenotypicFeatures=features)), encoding="utf-8")
    if manifest is not None:
        (directory / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")
    return directory


@pytest.fixture
def clean(real_kb: KnowledgeBase, tmp_path: Path) -> tuple[Path, SynthReport]:
    """A set drawn independently of its source (passes the default gate)."""
    data = sets(real_kb)
    synth_dir = write_set(tmp_path / "synth", data["synthetic"], MANIFEST)
    report = build_report(
        data["synthetic"], data["source"], data["holdout"], real_kb, utility=False
    )
    return synth_dir, report


@pytest.fixture
def leaking(real_kb: KnowledgeBase, tmp_path: Path) -> tuple[Path, SynthReport]:
    """A set that copies a third of its source cases."""
    data = sets(real_kb)
    synthetic = copies(data["source"][:20]) + data["synthetic"][20:]
    synth_dir = write_set(tmp_path / "leaky", synthetic, MANIFEST)
    report = build_report(synthetic, data["source"], data["holdout"], real_kb, utility=False)
    return synth_dir, report


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# --- the gate -----------------------------------------------------------------------------------
def test_gate_passes_an_independent_set(clean: tuple[Path, SynthReport]) -> None:
    _, report = clean
    assert report.privacy.exact_copies == 0
    result = check_gate(report, GateThresholds())
    assert result.passed and result.failures == []


def test_gate_names_metric_value_and_threshold_of_each_failure(
    leaking: tuple[Path, SynthReport],
) -> None:
    _, report = leaking
    assert report.privacy.exact_copies == 20
    result = check_gate(report, GateThresholds(max_near_copy_rate=0.1))
    assert not result.passed
    exact, mia, near = result.failures
    assert "exact_copies = 20" in exact and "max_exact_copies = 0" in exact
    assert f"mia_auc = {report.privacy.mia_auc:.3f}" in mia and "max_mia_auc = 0.6" in mia
    assert "near_copy_rate = 0.3333" in near and "max_near_copy_rate = 0.1" in near
    # loosened limits let the same report through: the checks compare, they do not always fail
    loose = GateThresholds(max_exact_copies=20, max_mia_auc=1.0, max_near_copy_rate=0.5)
    assert check_gate(report, loose).passed


def test_optional_thresholds(clean: tuple[Path, SynthReport]) -> None:
    _, report = clean
    median = report.fidelity.median_correlation
    assert median is not None
    assert check_gate(report, GateThresholds(min_fidelity_correlation=median)).passed
    failed = check_gate(report, GateThresholds(min_fidelity_correlation=min(1.0, median + 0.01)))
    assert not failed.passed and "min_fidelity_correlation" in failed.failures[0]
    assert report.privacy.near_copy_rate == 0.0
    assert check_gate(report, GateThresholds(max_near_copy_rate=0.0)).passed


def test_gate_fails_when_the_attack_was_not_measured(clean: tuple[Path, SynthReport]) -> None:
    _, report = clean
    unmeasured = report.model_copy(
        update={"privacy": report.privacy.model_copy(update={"mia_auc": None})}
    )
    result = check_gate(unmeasured, GateThresholds())
    assert not result.passed and "mia_auc was not measured" in result.failures[0]
    assert check_gate(unmeasured, GateThresholds(max_mia_auc=None)).passed


def test_thresholds_reject_unknown_keys_and_out_of_range_values() -> None:
    with pytest.raises(ValueError):
        GateThresholds(max_copies=1)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        GateThresholds(max_mia_auc=0.3)


# --- release ------------------------------------------------------------------------------------
def test_release_refuses_a_set_with_copied_source_cases(
    leaking: tuple[Path, SynthReport], tmp_path: Path
) -> None:
    synth_dir, report = leaking
    out_dir = tmp_path / "public" / "release"
    before = leftovers(tmp_path)
    with pytest.raises(ReleaseRefusedError) as caught:
        release(synth_dir, report, GateThresholds(), out_dir)
    error = caught.value
    assert isinstance(error, OcaisError) and error.code == "release_refused"
    assert "exact_copies = 20" in str(error) and error.hint
    assert any("exact_copies" in f for f in error.failures)
    assert not out_dir.exists() and not out_dir.parent.exists()
    assert leftovers(tmp_path) == before


def test_release_publishes_a_clean_set_with_card_and_report(
    clean: tuple[Path, SynthReport], tmp_path: Path
) -> None:
    synth_dir, report = clean
    out_dir = tmp_path / "public" / "release"
    result = release(synth_dir, report, GateThresholds(), out_dir)
    assert result.gate.passed
    released = sorted(
        p.relative_to(out_dir).as_posix()
        for p in phenopacket_files(out_dir)
        if p.name != REPORT_FILE
    )
    expected = sorted(p.relative_to(synth_dir).as_posix() for p in phenopacket_files(synth_dir))
    assert released == expected == sorted(result.files) and len(released) == 60
    assert any(name.startswith("more/") for name in released)
    for name in released:
        assert (out_dir / name).read_bytes() == (synth_dir / name).read_bytes()
    assert not (out_dir / MANIFEST_FILE).exists()
    assert SynthReport.model_validate_json((out_dir / REPORT_FILE).read_text()) == report
    card = (out_dir / CARD_FILE).read_text(encoding="utf-8")
    for expected_text in (
        '**generator**: `"from_cases"`',
        "**seed**: `7`",
        '**options**: `{"min_distance": 0.3}`',
        f"membership-inference AUC (0.5 = no leakage) | {report.privacy.mia_auc:.3f}",
        "exact copies of a source case | 0 (0.00%)",
        "max_mia_auc: 0.6",
        "max_near_copy_rate: not checked",
        "**Result: passed**",
        "Not for clinical decisions about individuals",
        "Which diseases are present is not hidden",
    ):
        assert expected_text in card
    assert leftovers(out_dir.parent) == ["release"]  # the staging directory was renamed


def test_release_into_an_existing_empty_directory(
    clean: tuple[Path, SynthReport], tmp_path: Path
) -> None:
    synth_dir, report = clean
    out_dir = tmp_path / "empty"
    out_dir.mkdir()
    release(synth_dir, report, None, out_dir)
    assert (out_dir / CARD_FILE).exists()


def test_release_never_overwrites(clean: tuple[Path, SynthReport], tmp_path: Path) -> None:
    synth_dir, report = clean
    out_dir = tmp_path / "taken"
    out_dir.mkdir()
    (out_dir / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not an empty directory"):
        release(synth_dir, report, GateThresholds(), out_dir)
    assert leftovers(out_dir) == ["keep.txt"]
    assert leftovers(tmp_path) == ["synth", "taken"]


def test_release_refuses_a_report_about_other_files(
    clean: tuple[Path, SynthReport], tmp_path: Path
) -> None:
    synth_dir, report = clean
    (synth_dir / "extra.json").write_text(json.dumps(packet("extra")))
    with pytest.raises(
        ReleaseRefusedError, match="61 phenopacket files but the report measured 60"
    ):
        release(synth_dir, report, GateThresholds(), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_release_checks_the_reported_digest(
    clean: tuple[Path, SynthReport], tmp_path: Path
) -> None:
    synth_dir, report = clean

    def with_digest(digest: str) -> SynthReport:
        parameters = {**report.provenance.parameters, "sources": {"synthetic_sha256": digest}}
        provenance = report.provenance.model_copy(update={"parameters": parameters})
        return report.model_copy(update={"provenance": provenance})

    digest = files_digest(synth_dir, phenopacket_files(synth_dir))
    with pytest.raises(ReleaseRefusedError, match="synthetic_sha256"):
        release(synth_dir, with_digest("0" * 64), GateThresholds(), tmp_path / "wrong")
    assert not (tmp_path / "wrong").exists()
    release(synth_dir, with_digest(digest), GateThresholds(), tmp_path / "right")
    assert (tmp_path / "right" / CARD_FILE).exists()


def test_release_without_manifest_says_so(real_kb: KnowledgeBase, tmp_path: Path) -> None:
    data = sets(real_kb, seed=1, n=20)
    synth_dir = write_set(tmp_path / "synth", data["synthetic"], None)
    report = build_report(
        data["synthetic"], data["source"], data["holdout"], real_kb, utility=False
    )
    release(synth_dir, report, GateThresholds(max_mia_auc=None), tmp_path / "out")
    card = (tmp_path / "out" / CARD_FILE).read_text(encoding="utf-8")
    assert f"No {MANIFEST_FILE} was found" in card and "max_mia_auc: not checked" in card


def test_release_rejects_a_manifest_that_is_not_an_object(
    clean: tuple[Path, SynthReport], tmp_path: Path
) -> None:
    synth_dir, report = clean
    (synth_dir / MANIFEST_FILE).write_text("[1, 2]")
    with pytest.raises(ConfigError, match="not a JSON object"):
        release(synth_dir, report, GateThresholds(), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert leftovers(tmp_path) == ["synth"]
