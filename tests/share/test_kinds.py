"""What each kind of package must pass and what of it travels (ocais.share.kinds)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from ocais.config import load_settings
from ocais.errors import ConfigError, NotFoundError, PackageError
from ocais.knowledge import KnowledgeBase
from ocais.share.kinds import (
    MIN_CELL,
    adapter_payload,
    dataset_payload,
    evaluation_payload,
    model_payload,
    payload_for,
    render_card,
)
from ocais.share.package import build
from ocais.share.registry import Registry
from ocais.share.signing import SiteKey
from ocais.share.trust import TrustStore
from ocais.synth.privacy import build_report
from ocais.synth.release import GateThresholds, files_digest, phenopacket_files, release
from ocais.workflows.sharing import resolve_artifact
from tests.synth.test_release import MANIFEST, sets, write_set


# --- dataset ------------------------------------------------------------------------------------
@pytest.fixture
def released(real_kb: KnowledgeBase, tmp_path: Path) -> tuple[Path, Path]:
    """A synthetic set (unreleased) and its release through the default gate."""
    data = sets(real_kb)
    synth = write_set(tmp_path / "synth", data["synthetic"], MANIFEST)
    sources = {
        "synthetic_sha256": files_digest(synth, phenopacket_files(synth)),
        "source_sha256": "a" * 64,
        "holdout_sha256": "b" * 64,
    }
    report = build_report(
        data["synthetic"],
        data["source"],
        data["holdout"],
        real_kb,
        sources=sources,
        utility=False,
    )
    out = tmp_path / "released"
    release(synth, report, GateThresholds(), out)
    return synth, out


def test_a_released_set_packages_with_its_privacy_report(released: tuple[Path, Path]) -> None:
    _, out = released
    payload = dataset_payload(out)
    assert payload.synthetic is True
    assert payload.summary["n_cases"] == 60
    assert payload.privacy is not None and payload.privacy["gate"]["passed"] is True
    assert payload.privacy["exact_copies"] == 0
    assert "report.json" in payload.files and "DATASET_CARD.md" in payload.files
    roles = {s["role"]: s for s in payload.lineage["sources"]}
    assert roles["source cases (de-identified, real)"] == {
        "role": "source cases (de-identified, real)",
        "sha256": "a" * 64,
        "n": 60,
    }


def test_a_set_not_released_through_the_gate_is_refused(released: tuple[Path, Path]) -> None:
    synth, _ = released
    with pytest.raises(PackageError, match="privacy gate") as refused:
        dataset_payload(synth)
    assert "ocais synth release" in str(refused.value)


def test_a_released_set_changed_afterwards_is_refused(released: tuple[Path, Path]) -> None:
    _, out = released
    victim = next(p for p in phenopacket_files(out) if p.name != "report.json")
    victim.write_text(victim.read_text().replace("HP:", "HP:0", 1), encoding="utf-8")
    with pytest.raises(PackageError, match="not those its report measured"):
        dataset_payload(out)
    (out / "extra.json").write_text(victim.read_text(), encoding="utf-8")
    with pytest.raises(PackageError, match="61 phenopackets"):
        dataset_payload(out)


# --- model --------------------------------------------------------------------------------------
def fake_model(
    folder: Path, *, n_cases: int = 10, n_synthetic: int = 10, objects: bool = False
) -> Path:
    folder.mkdir(parents=True)
    training = {
        "n_cases": n_cases,
        "n_synthetic": n_synthetic,
        "n_diseases": 2,
        "cases_sha256": "c" * 64,
        "sources": [{"path": str(folder.parent / "gone"), "phenopackets_sha256": "d" * 64}],
    }
    (folder / "model.json").write_text(
        json.dumps(
            {
                "format": "ocais-learned-predictor/1",
                "options": {"seed": 3},
                "training": training,
                "provenance": {
                    "source": "S",
                    "created_by": "ocais test",
                    "knowledge_version": "v1",
                },
            }
        ),
        encoding="utf-8",
    )
    if objects:
        np.savez(folder / "profiles.npz", counts=np.array([{"a": 1}], dtype=object))
    else:
        np.savez(folder / "profiles.npz", counts=np.ones((2, 3)))
    (folder / "profiles.json").write_text(json.dumps({"disease_ids": ["OMIM:1", "OMIM:2"]}))
    return folder


def test_a_model_fitted_on_synthetic_patients_packages(tmp_path: Path) -> None:
    payload = model_payload(fake_model(tmp_path / "m"))
    assert sorted(payload.files) == ["model.json", "profiles.json", "profiles.npz"]
    assert payload.summary["diseases"] == ["OMIM:1", "OMIM:2"]
    assert payload.lineage["seed"] == 3 and payload.lineage["training_cases_sha256"] == "c" * 64
    assert payload.lineage["sources"] == [{"role": "training set", "phenopackets_sha256": "d" * 64}]


def test_a_model_fitted_on_real_cases_is_not_shared(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="synthetic patients alone"):
        model_payload(fake_model(tmp_path / "m", n_synthetic=7))


def test_a_model_whose_arrays_hold_objects_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="pickle"):
        model_payload(fake_model(tmp_path / "m", objects=True))


def test_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    with pytest.raises(PackageError, match="ocais learn fit"):
        model_payload(tmp_path / "m")
    with pytest.raises(ConfigError, match="not a folder"):
        payload_for("model", tmp_path / "nothing")
    with pytest.raises(ConfigError, match="unknown package kind"):
        payload_for("weights", tmp_path / "m")


# --- adapter ------------------------------------------------------------------------------------
def fake_adapter(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text('{"r": 8}')
    (folder / "adapter_model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    (folder / "README.md").write_text("---\nlibrary_name: peft\n---\n")
    (folder / "ocais-adapter.json").write_text(
        json.dumps(
            {
                "base_model": {
                    "name": "base-x",
                    "path": "/home/site-a/models/base-x",
                    "sha256": "e" * 64,
                },
                "prompt_version": "finetune-diagnosis.v1",
                "diseases": [{"id": "OMIM:1", "name": "one"}],
                "real_cases_used": ["PMID_123_patient_4", "PMID_99_patient_1"],
                "data": {"files_sha256": {"train": "f" * 64}},
                "config": {"seed": 5},
            }
        )
    )
    for name in (
        "checkpoint-10/optimizer.pt",
        "checkpoint-10/adapter_model.safetensors",
        "data/train.jsonl",
        "training_args.bin",
    ):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x")
    return folder


def test_an_adapter_travels_without_case_ids_paths_or_checkpoints(tmp_path: Path) -> None:
    payload = adapter_payload(fake_adapter(tmp_path / "adapter"))
    assert sorted(payload.files) == [
        "README.md",
        "adapter_config.json",
        "adapter_model.safetensors",
        "ocais-adapter.json",
    ]
    shared = payload.files["ocais-adapter.json"]
    assert isinstance(shared, bytes)
    assert b"PMID_" not in shared and b"/home/site-a" not in shared
    manifest = json.loads(shared)
    digest = hashlib.sha256(b"PMID_123_patient_4\nPMID_99_patient_1").hexdigest()
    assert manifest["real_cases_used"] == {"n": 2, "sha256": digest}
    assert manifest["base_model"]["path"] == "base-x"
    assert payload.summary["base_model"]["sha256"] == "e" * 64


def test_an_adapter_without_its_manifest_or_with_a_pickle_is_refused(tmp_path: Path) -> None:
    folder = fake_adapter(tmp_path / "adapter")
    (folder / "weights.pt").write_bytes(b"x")
    with pytest.raises(PackageError, match="pickle"):
        adapter_payload(folder)
    (folder / "weights.pt").unlink()
    (folder / "ocais-adapter.json").unlink()
    with pytest.raises(PackageError, match=r"ocais-adapter\.json"):
        adapter_payload(folder)


def test_an_installed_adapter_is_found_by_name(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    key = SiteKey.create(settings.resolved_keys_dir, "site-a")
    out = tmp_path / "a.tar.gz"
    build(
        "adapter",
        adapter_payload(fake_adapter(tmp_path / "adapter")),
        name="tuned",
        version="0.1.0",
        license="other",
        description="",
        key=key,
        software="test",
        card="# c",
        out=out,
    )
    registry = Registry(settings.resolved_packages_dir, TrustStore(tmp_path / "t", own=key.info))
    registry.install(out, origin="test")
    path, package = resolve_artifact(settings, "tuned", "adapter")
    assert (path / "adapter_config.json").is_file() and package is not None
    assert package.manifest.ref == "tuned@0.1.0"
    with pytest.raises(NotFoundError, match="not a model"):
        resolve_artifact(settings, "tuned", "model")


# --- evaluation ---------------------------------------------------------------------------------
def test_an_evaluation_travels_as_aggregates(tmp_path: Path) -> None:
    folder = tmp_path / "bench"
    folder.mkdir()
    rows = [
        {"disease_id": "OMIM:1", "name": "a", "n_cases": 2, "coverage": 1, "top1": 1, "top10": 1},
        {
            "disease_id": "OMIM:2",
            "name": "b",
            "n_cases": MIN_CELL,
            "coverage": 1,
            "top1": 0.4,
            "top10": 1,
        },
    ]
    metrics: dict[str, Any] = {
        "source": "/srv/site-a/cases",
        "software": "ocais test",
        "n_cases": 7,
        "knowledge": {"hpo_version": "v1"},
        "skipped": [{"source": "patient-jane-doe.json", "reason": "no diagnosis"}],
        "files": {"cases": "/srv/out/cases.jsonl"},
        "predictors": {
            "learned": {
                "options": {"model_dir": "/srv/site-a/models/m1"},
                "metrics": {"top1": 0.6},
                "per_disease": rows,
            }
        },
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "cases.jsonl").write_text('{"case": "patient-jane-doe"}\n')
    (folder / "report.html").write_text("<p>OMIM:1</p>")
    payload = evaluation_payload(folder)
    assert sorted(payload.files) == ["metrics.json"]  # the report shows the pooled rows
    shared = payload.files["metrics.json"]
    assert isinstance(shared, bytes) and b"jane" not in shared and b"/srv" not in shared
    data = json.loads(shared)
    assert "skipped" not in data and "files" not in data
    assert [r["disease_id"] for r in data["predictors"]["learned"]["per_disease"]] == ["OMIM:2"]
    assert data["predictors"]["learned"]["options"]["model_dir"] == "m1"
    assert payload.summary["diseases_pooled_below_min_cell"] == 1
    with pytest.raises(ConfigError, match="model packages only"):
        payload_for("evaluation", folder, evaluation_dir=folder)


# --- the card -----------------------------------------------------------------------------------
def test_the_card_has_hugging_face_front_matter(tmp_path: Path) -> None:
    payload = adapter_payload(fake_adapter(tmp_path / "adapter"))
    card = render_card(
        "adapter",
        payload,
        name="tuned",
        version="0.1.0",
        license="Apache-2.0",
        description="Tuned on site A's synthetic patients.",
        site="site-a",
        fingerprint="0" * 64,
    )
    _, front, body = card.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert meta["license"] == "apache-2.0" and meta["library_name"] == "peft"
    assert meta["base_model"] == "base-x" and "synthetic" in meta["tags"]
    assert meta["ocais"] == {
        "kind": "adapter",
        "name": "tuned",
        "version": "0.1.0",
        "site": "site-a",
        "signer": "0" * 64,
    }
    assert "## Intended use" in body and "## Lineage" in body and "Tuned on site A" in body
