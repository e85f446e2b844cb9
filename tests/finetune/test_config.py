"""The fine-tuning config: validated, every problem named, paths resolved against the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocais.errors import ConfigError
from ocais.finetune.config import BUNDLED_GEMMA, load_config

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """\
[base]
model = "models/tiny"

[data]
source = "cases"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "configs" / "ft.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_smoke_recipe_is_valid_and_names_the_bundled_gemma() -> None:
    config = load_config(REPO / "configs" / "finetune-smoke.toml")
    assert config.base.model == BUNDLED_GEMMA  # a package name, not resolved as a path
    assert config.base.chat_template == "gemma"
    assert config.data.source == (REPO.parent / "shared/data/phenopacket-store/dev.tar.gz")
    assert config.data.top_diseases == 20
    assert config.out == REPO / "build" / "finetune-smoke"
    assert config.lora.target_modules == "all-linear"


def test_paths_are_resolved_and_seeds_flow_down(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "seed = 7\n" + MINIMAL))
    assert config.base.model == str(tmp_path / "configs" / "models" / "tiny")
    assert config.data.source == tmp_path / "configs" / "cases"
    assert config.train_seed == 7
    options = config.synth_options()
    assert options.seed == 7 and options.per_disease == config.data.per_disease


def test_every_problem_is_named(tmp_path: Path) -> None:
    text = MINIMAL + "[train]\nlearning_rate = -1\nbatchsize = 4\n[lora]\nr = 0\n"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    message = str(caught.value)
    assert "train.learning_rate" in message
    assert "unknown key 'train.batchsize'" in message
    assert "lora.r" in message


def test_exactly_one_source_of_patients(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="exactly one of"):
        load_config(write(tmp_path, '[base]\nmodel = "m"\n[data]\n'))
    both = MINIMAL + 'synthetic = "synth"\n'
    with pytest.raises(ConfigError, match="exactly one of"):
        load_config(write(tmp_path, both))
    with pytest.raises(ConfigError, match="missing key 'base'"):
        load_config(write(tmp_path, '[data]\nsource = "x"\n'))


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"finetune-smoke\.toml"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[base\n"))
