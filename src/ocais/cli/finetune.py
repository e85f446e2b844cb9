"""``ocais finetune``: LoRA fine-tuning of an open LLM on synthetic patients, and its check
before/after on real held-out cases (the ``train`` extra: ``pip install 'ocais[train]'``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from ocais.cli.context import JsonFlag, console, emit_json, fail, progress_bar, state, wants_json
from ocais.errors import OcaisError

app = typer.Typer(
    help="Fine-tune an open LLM (LoRA) on synthetic patients; evaluate it before/after.",
    no_args_is_help=True,
)

STAGES = {
    "base model": "Locating the base model",
    "patients": "Synthetic patients",
    "examples": "Writing examples",
    "train": "Training (LoRA steps)",
    "evaluate": "Evaluating",
    "load model": "Loading the model",
    "before": "Asking the base model",
    "after": "Asking the tuned model",
}


def _label(stage: str) -> str:
    return STAGES.get(stage, stage)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _ci(figures: dict[str, Any], key: str) -> str:
    ci = figures.get(f"{key}_ci")
    return _pct(figures.get(key)) + (f" [{_pct(ci[0])}, {_pct(ci[1])}]" if ci else "")


def _evaluation_table(report: dict[str, Any]) -> Table:
    table = Table(
        title=f"{escape(report['models']['before'])} → {escape(report['models']['after'])} "
        f"on {report['n']} real cases",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("task")
    table.add_column("before (95% CI)", justify="right")
    table.add_column("after (95% CI)", justify="right")
    for key, label in (
        ("accuracy", "which disease"),
        ("sensitivity", "is it X? sensitivity"),
        ("specificity", "is it X? specificity"),
    ):
        table.add_row(label, _ci(report["before"], key), _ci(report["after"], key))
    return table


@app.command("run")
def run(
    ctx: typer.Context,
    config_path: Annotated[
        Path,
        typer.Argument(metavar="CONFIG", help="Config (TOML), e.g. configs/finetune-smoke.toml."),
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Output (adapter) directory; default: the config's `out`."),
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue an interrupted run from its last checkpoint.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an earlier run's outputs.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Draw synthetic patients, build examples, train a LoRA adapter and evaluate it.

    OUT becomes an adapter directory (PEFT format, tokenizer and chat template, model card,
    ocais-adapter.json) that `ocais llm serve --adapter OUT` and the service load.
    """
    from ocais.workflows.finetuning import run_finetune

    cli = state(ctx)
    as_json = wants_json(cli, json_output)
    try:
        _ = cli.knowledge
        with progress_bar(as_json, _label) as update:
            manifest = run_finetune(
                cli.services,
                config_path,
                out=out,
                resume=resume,
                overwrite=overwrite,
                progress=update,
            )
    except OcaisError as exc:
        raise fail(exc) from exc
    evaluation = manifest.get("evaluation")
    if as_json:
        emit_json({k: v for k, v in manifest.items() if k != "real_cases_used"})
        return
    training = manifest["training"]
    console.print(
        f"Adapter for {len(manifest['diseases'])} diseases: {training['steps']} steps in "
        f"{training['seconds']:.0f} s, final loss {training['train_loss']}"
    )
    if evaluation:
        console.print(_evaluation_table(evaluation))
        console.print(f"Report: {escape(evaluation['files']['html'])}")


@app.command("evaluate")
def evaluate(
    ctx: typer.Context,
    adapter_dir: Annotated[
        Path, typer.Argument(metavar="ADAPTER_DIR", help="An `ocais finetune run` output.")
    ],
    cases_dir: Annotated[
        Path,
        typer.Argument(
            metavar="CASES_DIR", help="Real phenopackets (never those the training came from)."
        ),
    ],
    base: Annotated[
        Path | None,
        typer.Option(help="The base model, where it is not at the recorded path (checked)."),
    ] = None,
    max_per_disease: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Cases per disease at most (a seeded sample); default: the cap of the run "
            "that made the adapter ([eval] max_per_disease, 10 in the smoke recipe).",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Report directory (default: ADAPTER_DIR/evaluation).")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """The same base model without and with the adapter, on the cases whose diagnosis is
    among the adapter's diseases: which disease (accuracy), and "is it X?" (sensitivity,
    specificity), with 95% intervals; JSON and HTML reports."""
    from ocais.workflows.finetuning import evaluate_finetuned

    cli = state(ctx)
    as_json = wants_json(cli, json_output)
    try:
        _ = cli.knowledge
        with progress_bar(as_json, _label) as update:
            report = evaluate_finetuned(
                cli.services,
                adapter_dir,
                cases_dir,
                base=base,
                max_per_disease=max_per_disease,
                out=out,
                progress=update,
            )
    except OcaisError as exc:
        raise fail(exc) from exc
    if as_json:
        emit_json(report)
        return
    console.print(_evaluation_table(report))
    console.print(f"Report: {escape(report['files']['html'])}")
