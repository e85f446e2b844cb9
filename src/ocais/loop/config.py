"""The loop's configuration: one TOML file, validated by pydantic (unknown keys rejected).

Example (``configs/loop-example.toml``)::

    source = "../../shared/data/phenopacket-store/dev.tar.gz"  # relative to this file
    out = "../build/loop-example"
    seed = 0

    [split]
    holdout_fraction = 0.5
    by = "cohort"

    [synth]          # SynthOptions
    multiplier = 3.0

    [gate]           # GateThresholds
    max_mia_auc = 0.6

    [learn]          # LearnOptions
    folds = 2

    [validation]
    diseases = []
    binary_k = 10
    ks = [1, 3, 10]

The top-level ``seed`` seeds the split, and also the generator and the fit unless ``[synth]`` or
``[learn]`` set a ``seed`` of their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ocais.config import read_toml, resolve_against, validation_problems
from ocais.errors import ConfigError
from ocais.learn.model import LearnOptions
from ocais.synth.generate import SynthOptions
from ocais.synth.release import GateThresholds


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitOptions(_Section):
    """How the source cases are split into training and holdout cases."""

    holdout_fraction: float = Field(0.5, gt=0, lt=1, description="Share of cases held out")
    by: Literal["cohort", "case"] = Field(
        "cohort",
        description="cohort: split the cases of each cohort (Case.cohort), so every cohort of "
        "two or more cases is on both sides; case: one seeded shuffle of all cases",
    )


class ValidationOptions(_Section):
    """What the before/after validation reports."""

    diseases: list[str] = Field(
        default_factory=list, description="Diseases for Table 1 besides the most frequent"
    )
    n_diseases: int = Field(10, ge=0, description="Most frequent holdout diagnoses in Table 1")
    binary_k: int = Field(10, ge=1, description="k of the binary test 'X in the top k'")
    ks: list[int] = Field(default_factory=lambda: [1, 3, 10], description="Top-k accuracies")
    n_resamples: int = Field(1000, ge=10, description="Bootstrap resamples for the CIs")


class LoopConfig(_Section):
    """Everything one run of the loop needs; paths relative to the config file's directory."""

    source: Path = Field(description="Phenopackets: folder tree, JSON Lines file or archive")
    out: Path = Field(description="Output directory")
    seed: int = 0
    split: SplitOptions = Field(default_factory=SplitOptions)
    synth: SynthOptions = Field(default_factory=SynthOptions)
    gate: GateThresholds = Field(default_factory=GateThresholds)
    learn: LearnOptions = Field(default_factory=LearnOptions)
    validation: ValidationOptions = Field(default_factory=ValidationOptions)

    def synth_options(self) -> SynthOptions:
        """``[synth]`` with the loop's seed unless the section sets its own."""
        if "seed" in self.synth.model_fields_set:
            return self.synth
        return self.synth.model_copy(update={"seed": self.seed})

    def learn_options(self) -> LearnOptions:
        """``[learn]`` with the loop's seed unless the section sets its own."""
        if "seed" in self.learn.model_fields_set:
            return self.learn
        return self.learn.model_copy(update={"seed": self.seed})


def parse_config(data: dict[str, Any], base_dir: Path | None = None) -> LoopConfig:
    """Validate a config mapping; relative ``source``/``out`` are resolved against ``base_dir``.

    Raises ``ConfigError`` naming every invalid or unknown key.
    """
    try:
        config = LoopConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            "invalid loop config: " + validation_problems(exc),
            hint="see configs/loop-example.toml for every key; [synth], [gate] and [learn] take "
            "the fields of SynthOptions, GateThresholds and LearnOptions",
        ) from exc
    if base_dir is None:
        return config
    return config.model_copy(
        update={
            "source": resolve_against(config.source, base_dir),
            "out": resolve_against(config.out, base_dir),
        }
    )


def load_config(path: str | Path) -> LoopConfig:
    """Read and validate a TOML config file (see the module docstring)."""
    data = read_toml(path, what="loop config", example="configs/loop-example.toml")
    return parse_config(data, Path(path).resolve().parent)
