"""Loop config parsing: TOML, relative paths, seeds, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocais.errors import ConfigError
from ocais.loop import load_config, parse_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conf" / "loop.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_relative_paths_are_resolved_against_the_config_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, 'source = "../data/x.tar.gz"\nout = "/abs/out"\n'))
    assert config.source == tmp_path / "data" / "x.tar.gz"
    assert config.out == Path("/abs/out")
    assert config.split.holdout_fraction == 0.5
    assert config.split.by == "cohort"
    assert config.gate.max_exact_copies == 0


def test_sections_take_the_options_of_each_stage(tmp_path: Path) -> None:
    text = (
        'source = "s"\nout = "o"\nseed = 7\n'
        "[synth]\nmultiplier = 2.0\n[learn]\nfolds = 3\nseed = 2\n"
        "[gate]\nmax_mia_auc = 0.7\n[validation]\ndiseases = ['OMIM:1']\nbinary_k = 5\n"
    )
    config = load_config(write(tmp_path, text))
    assert config.synth.multiplier == 2.0
    assert config.synth_options().seed == 7  # the loop's seed unless the section sets one
    assert config.learn_options().seed == 2
    assert config.learn.folds == 3
    assert config.gate.max_mia_auc == 0.7
    assert (config.validation.diseases, config.validation.binary_k) == (["OMIM:1"], 5)


def test_unknown_keys_are_rejected_by_name(tmp_path: Path) -> None:
    text = 'source = "s"\nout = "o"\ncolour = 1\n[synth]\nmultiplyer = 2.0\n'
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    message = str(caught.value)
    assert "unknown key 'colour'" in message
    assert "unknown key 'synth.multiplyer'" in message
    assert "loop-example.toml" in message


def test_missing_source_and_bad_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing key 'source'"):
        load_config(write(tmp_path, 'out = "o"\n'))
    with pytest.raises(ConfigError, match=r"split\.holdout_fraction"):
        parse_config({"source": "s", "out": "o", "split": {"holdout_fraction": 1.0}})
    with pytest.raises(ConfigError, match=r"split\.by"):
        parse_config({"source": "s", "out": "o", "split": {"by": "site"}})


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no loop config"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "source = \n"))
