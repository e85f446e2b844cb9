"""``ocais loop run CONFIG``: one turn of the learning loop (see :mod:`ocais.loop`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from ocais.cli.context import (
    JsonFlag,
    console,
    emit_json,
    fail,
    progress_bar,
    state,
    wants_json,
)
from ocais.errors import OcaisError
from ocais.workflows.learning import run_loop

if TYPE_CHECKING:
    from ocais.loop import LoopResult

app = typer.Typer(
    help="The learning loop: real cases → gated synthetic set → learned model → validation.",
    no_args_is_help=True,
)

STAGES = {
    "read": "Reading cases",
    "split": "Splitting train / holdout",
    "synthesize": "Synthesizing patients",
    "report": "Privacy and fidelity report",
    "release": "Releasing the gated set",
    "fit": "Fitting on synthetic cases",
    "validate": "Validating before → after",
}


def _label(stage: str) -> str:
    return STAGES.get(stage, stage.replace("validate ", "Scoring: "))


def loop_json(result: LoopResult) -> dict[str, Any]:
    """The ``--json`` output: status, figures, gate, timings, files and provenance."""
    data: dict[str, Any] = result.model_dump(mode="json", exclude={"config"})
    return data


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _table(result: LoopResult) -> Table:
    f = result.figures
    table = Table(title="Learning loop", box=box.SIMPLE_HEAD, show_header=False)
    table.add_column("figure", style="bold", no_wrap=True)
    table.add_column("value")
    table.add_row("cases (train / holdout)", f"{f.n_cases:,} ({f.n_train:,} / {f.n_holdout:,})")
    table.add_row("synthetic cases", f"{f.n_synthetic:,}")
    table.add_row("membership-inference AUC", "—" if f.mia_auc is None else f"{f.mia_auc:.3f}")
    table.add_row("exact copies", str(f.exact_copies))
    table.add_row("gate", "passed" if f.gate_passed else "[red]refused[/]")
    table.add_row("top-1 before → after", f"{_ratio(f.top1_before)} → {_ratio(f.top1_after)}")
    table.add_row("top-10 before → after", f"{_ratio(f.top10_before)} → {_ratio(f.top10_after)}")
    if f.top1_difference_ci is not None:
        low, high = f.top1_difference_ci
        table.add_row("top-1 difference, 95% CI", f"[{low:+.1%}, {high:+.1%}]")
    for kind, path in result.files.items():
        table.add_row(kind.replace("_", " "), escape(path))
    return table


@app.command("run")
def run(
    ctx: typer.Context,
    config_path: Annotated[
        Path,
        typer.Argument(
            metavar="CONFIG", help="Loop config (TOML), e.g. configs/loop-example.toml."
        ),
    ],
    json_output: JsonFlag = False,
    overwrite: Annotated[
        bool, typer.Option(help="Replace the outputs of an earlier run in the config's `out`.")
    ] = False,
) -> None:
    """Run the learning loop described by a config file.

    Splits the cases, synthesizes from the training half, gates and releases the set, fits on
    it and validates on the held-out real cases; everything lands in the config's `out`.
    """
    cli = state(ctx)
    as_json = wants_json(cli, json_output)
    try:
        _ = cli.knowledge  # loaded with its spinner, before the progress display
        with progress_bar(as_json, _label) as update:
            result = run_loop(cli.services, config_path, overwrite=overwrite, progress=update)
    except OcaisError as exc:
        raise fail(exc) from exc
    if as_json:
        emit_json(loop_json(result))
        return
    console.print(_table(result))
