"""Fit a learned predictor on cases (synthetic or real) and save it to a folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocais.errors import ConfigError
from ocais.synth.phenopackets import check_out_dir
from ocais.workflows.services import Services
from ocais.workflows.synthesis import Progress, read_labelled


@dataclass
class Fitted:
    model: Any  # ocais.learn.model.LearnedModel
    path: Path
    n_skipped: int


def fit_model(
    services: Services,
    cases_dir: Path,
    out: Path,
    options: Any,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Fitted:
    """Fit ``ocais.learn`` on the labelled cases under ``cases_dir``; write it to ``out``."""
    from ocais.learn.model import fit

    check_out_dir(out, overwrite=overwrite)
    cases, n_skipped = read_labelled(services, cases_dir, "cases", progress)
    model = fit(cases, services.knowledge, options, source=str(cases_dir), progress=progress)
    try:
        path = model.save(out)
    except OSError as exc:
        raise ConfigError(f"cannot write the model to {out}: {exc}") from exc
    return Fitted(model, path, n_skipped)


def run_loop(
    services: Services,
    config_path: Path,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Any:
    """One turn of the learning loop described by a TOML config (``ocais.loop``): split,
    synthesize, gate, release, fit, validate; returns its ``LoopResult``."""
    from ocais.loop import load_config
    from ocais.loop import run_loop as run

    config = load_config(config_path)
    return run(
        config,
        services.knowledge,
        progress,
        overwrite=overwrite,
        workers=services.settings.workers,
    )
