"""LoRA SFT end to end on a tiny random Llama built here (no hub, no download): it learns a small
synthetic diagnosis task, only the adapter changes, and the saved adapter reloads to the same
answers through the ``transformers`` backend."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")
pytest.importorskip("datasets")


from ocais.finetune.config import parse_config
from ocais.finetune.evaluate import evaluate_adapter
from ocais.finetune.examples import RenderOptions, build_examples, to_datasets
from ocais.finetune.train import train_adapter
from ocais.knowledge import KnowledgeBase
from ocais.llm.base import ChatMessage
from ocais.llm.grounding import DiseaseGrounder
from ocais.llm.transformers_backend import TransformersBackend
from ocais.synth.generate import SynthOptions, from_knowledge
from tests.finetune.tiny import tiny_model

pytestmark = pytest.mark.text

NAMES = {"OMIM:100001": "Disease A", "OMIM:100002": "Disease B", "ORPHA:100003": "Disease C"}
CLEAN = {"noise_rate": 0.0, "ancestor_rate": 0.0}


def digest(directory: Path) -> str:
    return hashlib.sha256((directory / "model.safetensors").read_bytes()).hexdigest()


def test_a_tiny_model_learns_a_synthetic_diagnosis_task(
    tiny_kb: KnowledgeBase, tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    training = from_knowledge(list(NAMES), tiny_kb, SynthOptions(per_disease=40, seed=0, **CLEAN))
    heldout = from_knowledge(list(NAMES), tiny_kb, SynthOptions(per_disease=8, seed=99, **CLEAN))
    render = RenderOptions()
    examples = build_examples(training, tiny_kb, NAMES, binary_fraction=0.2, render=render, seed=0)
    texts = [e.prompt + " " + e.completion for e in examples.train] * 2 + list(NAMES.values())
    base = tiny_model(tmp_path / "tiny-llama", texts)
    base_digest = digest(base)
    config = parse_config(
        {
            "base": {"model": str(base), "chat_template": "gemma"},
            "data": {"synthetic": str(tmp_path)},
            "lora": {"r": 8, "alpha": 16, "dropout": 0.0, "train_embeddings": True},
            "train": {
                "learning_rate": 3e-3,
                "epochs": 12,
                "batch_size": 16,
                "max_length": 96,
                "warmup_ratio": 0.0,
                "logging_steps": 5,
                "save_steps": 1000,
            },
        }
    )
    out = tmp_path / "adapter"
    result = train_adapter(config, base, to_datasets(examples), out)
    assert result.steps > 50 and result.train_loss is not None
    assert result.log and result.log[-1]["loss"] < result.log[0]["loss"]
    assert (out / "adapter_config.json").is_file() and (out / "chat_template.jinja").is_file()

    # only the adapter changed: the base's weights on disk are untouched, LoRA's B matrices
    # (initialized to zero) are not zero any more
    assert digest(base) == base_digest
    weights = load_file(str(out / "adapter_model.safetensors"))
    lora_b = [w for name, w in weights.items() if "lora_B" in name]
    assert lora_b and all(float(w.abs().sum()) > 0 for w in lora_b)

    backend = TransformersBackend(str(base), adapter=str(out), max_context=256)
    try:
        report = evaluate_adapter(
            backend, heldout, tiny_kb, NAMES, grounder=DiseaseGrounder(tiny_kb), render=render
        )
        prompts = [a for a in report["answers"] if a["kind"] == "diagnosis"]
        # with the adapter off, the in-memory base is the saved base
        backend.use_adapter(False)
        plain = TransformersBackend(str(base), max_context=256)
        plain.render = backend.render  # type: ignore[method-assign]  # same template
        ask = [ChatMessage("user", "A girl with seizure.\nWhat is the most likely diagnosis?")]
        assert backend.complete(ask, max_tokens=8).text == plain.complete(ask, max_tokens=8).text
        plain.close()
        backend.use_adapter(True)
    finally:
        backend.close()
    assert report["n"] == 24
    before, after = report["before"]["accuracy"], report["after"]["accuracy"]
    assert before <= 0.2
    assert after >= 0.6 and after >= before + 0.4, report["after"]

    # the adapter reloads and gives the same answers
    again = TransformersBackend(str(base), adapter=str(out), max_context=256)
    try:
        repeat = evaluate_adapter(
            again, heldout, tiny_kb, NAMES, grounder=DiseaseGrounder(tiny_kb), render=render
        )
    finally:
        again.close()
    assert [a["after"] for a in repeat["answers"]] == [a["after"] for a in report["answers"]]
    assert prompts


def test_resume_needs_a_checkpoint(tiny_kb: KnowledgeBase, tmp_path: Path) -> None:
    from ocais.errors import ConfigError

    training = from_knowledge(list(NAMES), tiny_kb, SynthOptions(per_disease=4, seed=0, **CLEAN))
    examples = build_examples(training, tiny_kb, NAMES, seed=0)
    base = tiny_model(tmp_path / "tiny", [e.prompt for e in examples.train])
    config = parse_config(
        {
            "base": {"model": str(base)},
            "data": {"synthetic": str(tmp_path)},
            "train": {"max_steps": 2, "batch_size": 4, "save_steps": 1},
        }
    )
    with pytest.raises(ConfigError, match="nothing to resume"):
        train_adapter(config, base, to_datasets(examples), tmp_path / "a", resume=True)
    first: Any = train_adapter(config, base, to_datasets(examples), tmp_path / "b")
    assert first.steps == 2 and (tmp_path / "b" / "checkpoints" / "checkpoint-2").is_dir()
    longer = config.model_copy(update={"train": config.train.model_copy(update={"max_steps": 3})})
    resumed = train_adapter(longer, base, to_datasets(examples), tmp_path / "b", resume=True)
    assert resumed.resumed_from is not None and resumed.resumed_from.endswith("checkpoint-2")
    assert resumed.steps == 3
