"""``ocais finetune run`` / ``evaluate`` end to end on the tiny release and a tiny random Llama:
every output is written, the JSON has the contract's shape, the cases behind the training data
are never evaluated on, and a wrong base model or a used output directory is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")
pytest.importorskip("datasets")

from tests.cli.conftest import Cli
from tests.finetune.tiny import tiny_model
from tests.helpers import packet

pytestmark = pytest.mark.text

PROFILES = {  # disease → (label, the terms its cases draw from)
    "OMIM:100001": ("Disease A", ["HP:0001250", "HP:0000505"]),
    "OMIM:100002": ("Disease B", ["HP:0002069", "HP:0000707"]),
}
LABELS = {
    "HP:0001250": "Seizure",
    "HP:0000505": "Visual impairment",
    "HP:0002069": "Bilateral tonic-clonic seizure",
    "HP:0000707": "Abnormality of the nervous system",
}


def write_cases(root: Path, per_disease: int = 12) -> Path:
    rng = np.random.default_rng(0)
    for n, (disease, (label, terms)) in enumerate(PROFILES.items()):
        folder = root / f"COH{n}" / "phenopackets"
        folder.mkdir(parents=True)
        for i in range(per_disease):
            chosen = rng.choice(len(terms), size=int(rng.integers(1, 3)), replace=False)
            record = packet(
                f"COH{n}-{i}",
                phenotypicFeatures=[
                    {"type": {"id": terms[j], "label": LABELS[terms[j]]}} for j in chosen
                ],
                interpretations=[
                    {
                        "id": "i1",
                        "progressStatus": "SOLVED",
                        "diagnosis": {"disease": {"id": disease, "label": label}},
                    }
                ],
            )
            (folder / f"{i}.json").write_text(json.dumps(record), encoding="utf-8")
    return root


CONFIG = """\
seed = 3

[base]
model = "tiny-llama"
chat_template = "gemma"

[data]
source = "cases"
top_diseases = 2
per_disease = 12
binary_fraction = 0.3

[data.synth]
min_distance = 0.0
min_cases = 2

[data.gate]
max_mia_auc = 1.0   # a dozen cases per disease: the AUC is all noise

[lora]
train_embeddings = true

[train]
learning_rate = 3e-3
max_steps = 4
batch_size = 8
save_steps = 2

[eval]
max_per_disease = 4
"""


def test_finetune_run_then_evaluate(cli: Cli, tmp_path: Path) -> None:
    cases = write_cases(tmp_path / "cases")
    words = [label for label, _ in PROFILES.values()] + list(LABELS.values())
    tiny_model(tmp_path / "tiny-llama", [f"A girl with {w.lower()}." for w in words] * 4)
    config = tmp_path / "ft.toml"
    config.write_text(CONFIG, encoding="utf-8")
    out = tmp_path / "adapter"

    result = cli("finetune", "run", str(config), "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert "Adapter for 2 diseases: 4 steps" in result.stdout
    assert "which disease" in result.stdout
    for name in (
        "adapter_config.json",
        "adapter_model.safetensors",
        "chat_template.jinja",
        "tokenizer.json",
        "README.md",
        "ocais-adapter.json",
        "metrics.json",
        "split.json",
        "synthetic-privacy.json",
        "data/train.jsonl",
        "data/heldout.jsonl",
        "data/README.md",
        "data/dataset/dataset_dict.json",
        "synthetic/ocais-manifest.json",
        "evaluation/evaluation.json",
        "evaluation/evaluation.html",
        "evaluation/answers.jsonl",
    ):
        assert (out / name).is_file(), name
    card = (out / "README.md").read_text()
    assert card.startswith("---\nbase_model: ") and "library_name: peft" in card
    assert "model-index:" in card and "| Disease A | OMIM:100001 |" in card
    yaml = pytest.importorskip("yaml")
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["library_name"] == "peft" and front["datasets"][0].startswith("ocais-synthetic-")
    metrics = front["model-index"][0]["results"][0]["metrics"]
    assert [m["type"] for m in metrics] == ["accuracy", "accuracy"]
    manifest = json.loads((out / "ocais-adapter.json").read_text())
    assert [d["id"] for d in manifest["diseases"]] == list(PROFILES)
    assert manifest["data"]["privacy_gate"]["passed"] is True
    used = set(manifest["real_cases_used"])
    split = json.loads((out / "split.json").read_text())
    assert used and used == set(split["used_for_synthesis"]) and not used & set(split["heldout"])
    assert manifest["evaluation"]["n"] == min(8, len(split["heldout"]))  # 4 per disease

    # the contract: ocais --json finetune evaluate ADAPTER CASES
    report = cli.json("finetune", "evaluate", str(out), str(cases), "--max-per-disease", "20")
    assert report["n"] == 24 - len(used)  # the cases behind the training data are left out
    assert report["skipped"]["used_in_training"] == len(used)
    for side in ("before", "after"):
        assert 0.0 <= report[side]["accuracy"] <= 1.0
        assert {"sensitivity", "specificity", "accuracy_ci"} <= set(report[side])
    assert [row["disease_id"] for row in report["per_disease"]] == list(PROFILES)
    assert report["models"]["after"].endswith("+adapter")
    assert Path(report["files"]["html"]).is_file()

    # the adapter is usable at once: by `ocais llm serve --adapter` and by the service
    from fastapi.testclient import TestClient

    from ocais.config import load_settings
    from ocais.workflows.genai import local_llm_app, open_llm

    app, backend = local_llm_app(None, adapter=str(out), context=256)  # the recorded base
    try:
        with TestClient(app) as client:
            models = client.get("/v1/models").json()
        assert models["data"][0]["id"] == "tiny-llama+adapter"
    finally:
        backend.close()
    settings = load_settings(
        data_dir=tmp_path / "data",
        llm_backend="transformers",
        llm_model=str(tmp_path / "tiny-llama"),
        llm_adapter=str(out),
    )
    served = open_llm(settings)
    assert served.model == "tiny-llama+adapter"
    served.close()

    # a different base model is refused; so is a used output directory
    other = tiny_model(tmp_path / "other", ["something else entirely"] * 4)
    refused = cli("finetune", "evaluate", str(out), str(cases), "--base", str(other))
    assert refused.exit_code == 2 and "SHA-256" in refused.stderr
    again = cli("finetune", "run", str(config), "--out", str(out))
    assert again.exit_code == 2 and "--overwrite" in again.stderr
    # --overwrite replaces the run's own outputs (a stale checkpoint too), nothing else
    (out / "checkpoints" / "checkpoint-999").mkdir()
    (out / "my-notes.txt").write_text("kept", encoding="utf-8")
    replaced = cli("finetune", "run", str(config), "--out", str(out), "--overwrite")
    assert replaced.exit_code == 0, replaced.stderr
    assert not (out / "checkpoints" / "checkpoint-999").exists()
    assert (out / "my-notes.txt").read_text() == "kept"
    assert (out / "evaluation" / "evaluation.json").is_file()


def test_finetune_errors_are_clear(cli: Cli, tmp_path: Path) -> None:
    missing = cli("finetune", "run", str(tmp_path / "none.toml"), "--out", str(tmp_path / "o"))
    assert missing.exit_code == 2 and "finetune-smoke.toml" in missing.stderr
    not_adapter = cli("finetune", "evaluate", str(tmp_path), str(tmp_path))
    assert not_adapter.exit_code == 2 and "adapter_config.json" in not_adapter.stderr
