"""A fine-tuning run's configuration: one TOML file, validated by pydantic (unknown keys
rejected, every problem named at once). See ``configs/finetune-smoke.toml`` for every key.

Relative paths (``[base] model``, ``[data] source``/``synthetic``/``cases``, ``out``) are resolved
against the config file's directory. ``seed`` seeds the split, the synthetic patients, the
examples and the trainer unless a section sets its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ocais.config import read_toml, resolve_against, validation_problems
from ocais.errors import ConfigError
from ocais.llm.adapters import BUNDLED_GEMMA
from ocais.synth.generate import SynthOptions
from ocais.synth.release import GateThresholds


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseModelOptions(_Section):
    """The model the adapter is trained on. Nothing is downloaded: a local path or the bundled
    Gemma package."""

    model: str = Field(
        description="A model directory (config.json, weights, tokenizer), a .gguf file "
        f"(dequantized on load), or {BUNDLED_GEMMA!r} (the bundled Gemma 3 270M)"
    )
    revision: str | None = Field(
        None, description="The base model's revision (commit, tag or release), for the card"
    )
    chat_template: Literal["gemma", "model"] = Field(
        "gemma",
        description="gemma: set Gemma's turn format explicitly (a GGUF base has no template); "
        "model: the tokenizer's own chat template",
    )
    device: str = Field("cpu", description="torch device: cpu, cuda, cuda:0, mps")
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="Weights' dtype while training (float32 on CPU)"
    )
    quantize_4bit: bool = Field(
        False, description="QLoRA: load the base in 4 bits (needs bitsandbytes and a CUDA GPU)"
    )


class DataOptions(_Section):
    """Where the training patients come from and which diseases are tuned."""

    source: Path | None = Field(
        None,
        description="Real (de-identified) phenopackets: split by case/cohort; synthetic "
        "patients are drawn from the training part only, the rest is held out",
    )
    synthetic: Path | None = Field(
        None, description="Instead of source: a folder written by `ocais synth` (its manifest)"
    )
    diseases: list[str] = Field(
        default_factory=list, description="Diseases to tune (ids); default: the most frequent"
    )
    top_diseases: int = Field(20, ge=1, description="Without diseases: the n most frequent")
    holdout_fraction: float = Field(0.5, gt=0, lt=1, description="Share of real cases held out")
    split_by: Literal["cohort", "case"] = Field("cohort", description="How real cases are split")
    per_disease: int = Field(40, ge=1, description="Synthetic training patients per disease")
    eval_fraction: float = Field(
        0.1, ge=0, lt=1, description="Share of synthetic patients kept out of training (by case)"
    )
    binary_fraction: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Share of patients asked 'is the diagnosis X?' instead of 'which disease', "
        "twice: about their own disease (yes) and another tuned one (no)",
    )
    max_findings: int = Field(8, ge=1, description="Findings written per case (most specific)")
    max_excluded: int = Field(2, ge=0, description="Excluded findings written per case")
    synth: SynthOptions = Field(
        default_factory=SynthOptions, description="How the synthetic patients are drawn"
    )
    gate: GateThresholds = Field(
        default_factory=GateThresholds,
        description="The privacy gate the synthetic patients must pass (from real cases)",
    )

    @model_validator(mode="after")
    def _one_source(self) -> DataOptions:
        if (self.source is None) == (self.synthetic is None):
            raise ValueError("give exactly one of [data] source (real cases) or synthetic")
        return self


class LoraOptions(_Section):
    """The LoRA adapter (PEFT)."""

    r: int = Field(8, ge=1, description="Rank")
    alpha: int = Field(16, ge=1, description="Scale numerator (scale = alpha / r)")
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: str | list[str] = Field(
        "all-linear", description="'all-linear' or module names, e.g. ['q_proj', 'v_proj']"
    )
    train_embeddings: bool = Field(
        False,
        description="Also train the token embeddings and output layer in full (a randomly "
        "initialized model needs it; a pretrained one does not)",
    )


class TrainOptions(_Section):
    """The optimizer and loop (TRL SFTTrainer)."""

    learning_rate: float = Field(2e-4, gt=0)
    epochs: float = Field(1.0, gt=0, description="Passes over the training examples")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many steps")
    batch_size: int = Field(8, ge=1)
    gradient_accumulation: int = Field(1, ge=1)
    max_length: int = Field(160, ge=16, description="Tokens per example (longer are cut)")
    completion_only_loss: bool = Field(True, description="Loss on the answer tokens only")
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    logging_steps: int = Field(5, ge=1)
    save_steps: int = Field(25, ge=1, description="Checkpoint every n steps (for --resume)")
    threads: int | None = Field(None, ge=1, description="CPU threads (default: torch's)")
    seed: int | None = Field(None, description="Default: the run's seed")


class EvalOptions(_Section):
    """The before/after check at the end of a run (on the held-out real cases, if any)."""

    cases: Path | None = Field(
        None, description="Real cases to evaluate on (default: the held-out part of source)"
    )
    max_per_disease: int = Field(10, ge=1, description="Held-out cases per disease at most")
    skip: bool = Field(False, description="Train only (evaluate later with `finetune evaluate`)")


class FinetuneConfig(_Section):
    """Everything one run needs."""

    out: Path | None = Field(None, description="Output directory (or --out)")
    seed: int = 0
    base: BaseModelOptions
    data: DataOptions
    lora: LoraOptions = Field(default_factory=LoraOptions)
    train: TrainOptions = Field(default_factory=TrainOptions)
    eval: EvalOptions = Field(default_factory=EvalOptions)

    def synth_options(self) -> SynthOptions:
        """``[data.synth]`` with the run's seed (unless it sets one) and ``per_disease``."""
        update: dict[str, Any] = {"per_disease": self.data.per_disease}
        if "seed" not in self.data.synth.model_fields_set:
            update["seed"] = self.seed
        return self.data.synth.model_copy(update=update)

    @property
    def train_seed(self) -> int:
        return self.seed if self.train.seed is None else self.train.seed


def parse_config(data: dict[str, Any], base_dir: Path | None = None) -> FinetuneConfig:
    """Validate a config mapping; relative paths are resolved against ``base_dir``.

    Raises ``ConfigError`` naming every invalid or unknown key."""
    try:
        config = FinetuneConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            "invalid fine-tuning config: " + validation_problems(exc),
            hint="see configs/finetune-smoke.toml for every key",
        ) from exc
    if base_dir is None:
        return config
    base = config.base
    if base.model != BUNDLED_GEMMA:
        base = base.model_copy(update={"model": str(resolve_against(Path(base.model), base_dir))})
    data_options = config.data.model_copy(
        update={
            key: resolve_against(value, base_dir)
            for key in ("source", "synthetic")
            if (value := getattr(config.data, key)) is not None
        }
    )
    evaluation = config.eval
    if evaluation.cases is not None:
        evaluation = evaluation.model_copy(
            update={"cases": resolve_against(evaluation.cases, base_dir)}
        )
    update: dict[str, Any] = {"base": base, "data": data_options, "eval": evaluation}
    if config.out is not None:
        update["out"] = resolve_against(config.out, base_dir)
    return config.model_copy(update=update)


def load_config(path: str | Path) -> FinetuneConfig:
    """Read and validate a TOML config file (see the module docstring)."""
    data = read_toml(path, what="fine-tuning config", example="configs/finetune-smoke.toml")
    return parse_config(data, Path(path).resolve().parent)
