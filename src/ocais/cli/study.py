"""``ocais study``: comparative-effectiveness studies on this site's records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from ocais.cli.context import JsonFlag, console, emit_json, fail, progress_bar, state, wants_json
from ocais.errors import OcaisError
from ocais.workflows.research import run_study_file

app = typer.Typer(
    help="Observational studies (new-user cohorts, propensity scores, Cox) with a diagnostics "
    "gate that withholds a biased answer.",
    no_args_is_help=True,
)


def _hr(value: dict[str, Any] | None) -> str:
    if not value:
        return "—"
    lo, hi = value["ci"]
    return f"HR {value['hr']:.2f} (95% CI {lo:.2f}–{hi:.2f})"


@app.command("run")
def run_command(
    ctx: typer.Context,
    definition: Annotated[
        Path, typer.Argument(help="The study (YAML; configs/study-example.yaml).")
    ],
    out: Annotated[Path, typer.Option(help="Folder for result.json and report.html.")],
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out folder.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Extract the cohorts from the store, adjust for confounding, estimate the hazard ratio,
    and check the study's diagnostics (balance, equipoise, power, systematic error): when one
    fails the estimate is withheld (null) and the reasons are listed."""
    cli = state(ctx)
    as_json = wants_json(cli, json_output)
    try:
        with progress_bar(as_json) as update:
            done = run_study_file(
                cli.services, definition, out, overwrite=overwrite, progress=update
            )
    except OcaisError as exc:
        raise fail(exc) from exc
    result = done.result
    if as_json:
        emit_json({**result, "files": done.files})
        return
    diagnostics = result.get("diagnostics") or {}
    console.print(f"[bold]{escape(done.study.name)}[/] ({done.study.method})")
    for step in result["attrition"]:
        console.print(f"  {step['persons']:>8,}  {escape(step['step'])}")
    console.print(f"Naive:    {_hr(result.get('naive'))}")
    if result.get("estimate"):
        console.print(f"Adjusted: [green]{_hr(result['estimate'])}[/] — diagnostics passed")
    else:
        console.print("Adjusted: [red]withheld[/] — the study cannot support an estimate:")
        for reason in diagnostics.get("reasons", []):
            console.print(f"  - {escape(reason)}")
    for kind, path in done.files.items():
        console.print(f"{kind}: {escape(path)}")
