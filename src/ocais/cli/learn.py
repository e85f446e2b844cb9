"""``ocais learn``: fit the learned predictor on cases (real or synthetic)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape

from ocais.cli.context import JsonFlag, console, emit_json, fail, progress_bar, state, wants_json
from ocais.cli.synth import task_label
from ocais.errors import ConfigError, OcaisError
from ocais.workflows.learning import fit_model

app = typer.Typer(help="Learn disease profiles and a re-ranker from cases.", no_args_is_help=True)


@app.command("fit")
def fit_command(
    ctx: typer.Context,
    cases_dirs: Annotated[
        list[str],
        typer.Argument(
            help="Phenopackets with confirmed diagnoses (folder, JSONL, archive), or "
            "NAME[@VERSION] of a dataset package in this site's registry; several are combined.",
            metavar="CASES...",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the model to.")],
    prior_strength: Annotated[
        float,
        typer.Option(min=0.0, help="Pseudo-cases of the knowledge base's frequencies (s)."),
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed (folds, term sampling).")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out folder.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Fit the ``learned`` predictor: per-disease profiles (diseases the knowledge base lacks
    included) and a cross-fitted re-ranker. Use it with
    ``ocais benchmark DIR --predictor learned --model MODEL_DIR``."""
    from ocais.learn.model import LearnOptions

    cli = state(ctx)
    as_json = wants_json(cli, json_output)
    try:
        try:
            options = LearnOptions(prior_strength=prior_strength, seed=seed)
        except ValidationError as exc:
            raise ConfigError(f"invalid learning options: {exc}") from exc
        kb = cli.knowledge
        with progress_bar(as_json, task_label) as update:
            fitted = fit_model(
                cli.services, cases_dirs, out, options, overwrite=overwrite, progress=update
            )
    except OcaisError as exc:
        raise fail(exc) from exc
    model, path, n_skipped = fitted.model, fitted.path, fitted.n_skipped
    training = model.training
    summary = {
        "model_dir": str(out),
        "model_file": str(path),
        "n_cases": training["n_cases"],
        "n_skipped": n_skipped,
        "n_diseases": training["n_diseases"],
        "n_new_diseases": training["n_new_diseases"],
        "n_synthetic": training["n_synthetic"],
        "sources": training.get("sources", []),
        "cross_fitted_top1": training["cross_fitted_top1"],
        "temperature": model.temperature,
        "knowledge_version": kb.version,
    }
    if as_json:
        emit_json(summary)
        return
    console.print(
        f"Fitted on {summary['n_cases']:,} cases ({n_skipped:,} skipped): "
        f"{summary['n_diseases']:,} diseases, {summary['n_new_diseases']:,} new to HPO "
        f"{escape(kb.version)}; cross-fitted top-1 {summary['cross_fitted_top1']:.1%}"
    )
    console.print(f"Model: {escape(str(out))}")
