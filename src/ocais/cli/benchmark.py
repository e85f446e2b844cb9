"""``ocais benchmark``: rank the confirmed diagnosis of every phenopacket, for each predictor."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

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
from ocais.errors import ConfigError, OcaisError
from ocais.evaluate import BenchmarkResult, PredictorResult, predictor_options, run_benchmark
from ocais.workflows.sharing import package_reference, resolve_artifact
from ocais.workflows.types import Predictor, available_predictors

DEFAULT_PREDICTORS = ("phenotype", "resnik")


def takes_model(name: str) -> bool:
    """Does the registered predictor ``name`` accept ``model_dir`` (a fitted model)?"""
    factory = available_predictors().get(name)
    if factory is None:
        return False
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False
    return "model_dir" in parameters


def _predictor_json(result: PredictorResult) -> dict[str, Any]:
    return {
        **result.metrics,
        "ms_per_case": result.ms_per_case,
        "mode": result.mode,
        "covered": result.covered,
        **({"llm": result.llm} if result.llm is not None else {}),
    }


def benchmark_json(result: BenchmarkResult) -> dict[str, Any]:
    """The ``--json`` output: the first predictor's overall metrics at the top level, plus
    ``predictor``, ``covered`` (its covered-only metrics) and ``predictors`` (all of them)."""
    first = result.predictor_names[0]
    return {
        "predictor": first,
        **_predictor_json(result.predictors[first]),
        "n_skipped": result.n_skipped,
        "source": result.source,
        "knowledge": result.knowledge,
        "files": result.files,
        "predictors": {name: _predictor_json(p) for name, p in result.predictors.items()},
    }


def _label(task: str) -> str:
    return "Reading cases" if task == "read" else f"Predicting: {task}"


def _table(result: BenchmarkResult) -> Table:
    title = (
        f"Benchmark on {escape(result.source)} (HPO {result.knowledge.get('hpo_version')}; "
        "all/covered: one row per MONDO disease, strict: the exact entry)"
    )
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("predictor", no_wrap=True)
    table.add_column("cases", no_wrap=True)
    for header in ("n", "top1", "top3", "top5", "top10", "MRR", "coverage", "ms/case"):
        table.add_column(header, justify="right", no_wrap=True)
    for name, predictor in result.predictors.items():
        scopes = [("all", predictor.metrics), ("covered", predictor.covered)]
        if predictor.strict:  # the true entry itself among all entries: nothing flatters
            scopes.append(("strict", predictor.strict))
        for scope, metrics in scopes:
            table.add_row(
                escape(name) if scope == "all" else "",
                scope,
                f"{int(metrics['n_cases']):,}",
                *(f"{metrics[k]:.1%}" for k in ("top1", "top3", "top5", "top10")),
                f"{metrics['mrr']:.3f}",
                f"{metrics['coverage']:.1%}",
                f"{predictor.ms_per_case:.2f}" if scope == "all" else "",
                style=None if scope == "all" else "dim",
            )
    return table


def benchmark(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Argument(help="Phenopackets: a folder tree, JSON Lines file or archive.")
    ],
    predictor: Annotated[
        list[str] | None,
        typer.Option(
            "--predictor",
            "-p",
            help="Predictor to benchmark; repeat for several (default: phenotype and resnik).",
        ),
    ] = None,
    top_k: Annotated[int, typer.Option(min=1, max=50, help="Candidates per case to report.")] = 10,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for cases.jsonl, metrics.json and report.html."),
    ] = None,
    namespaces: Annotated[
        str, typer.Option(help="Disease namespaces to rank, comma-separated.")
    ] = "OMIM,ORPHA",
    model: Annotated[
        str | None,
        typer.Option(
            help="Fitted model for predictors that load one: a folder (`ocais learn fit`) or "
            "NAME[@VERSION] of a model package in this site's registry (`ocais package pull`)."
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Benchmark predictors on phenopackets: top-k accuracy, MRR, coverage, subgroups.

    Truth is each case's confirmed diagnosis; invalid records are skipped and counted.
    Ties are ranked pessimistically; uncovered diagnoses count as misses (also shown apart).
    """
    cli = state(ctx)
    names = list(dict.fromkeys(predictor or DEFAULT_PREDICTORS))
    chosen = tuple(n.strip() for n in namespaces.split(",") if n.strip())
    options: dict[str, dict[str, Any]] = {}
    built: dict[str, Predictor] = {}
    kb = cli.knowledge
    try:
        loaders = [n for n in names if takes_model(n)] if model is not None else []
        if model is not None and not loaders:
            raise ConfigError(
                f"--model is given but none of {', '.join(names)} loads a fitted model",
                hint="add --predictor learned, or drop --model",
            )
        model_dir, package = (
            resolve_artifact(cli.services, model, "model") if model is not None else (None, None)
        )
        for name in names:
            configured = cli.services.settings.predictor_options.get(name, {})
            options[name] = {**configured, "namespaces": list(chosen)}
            if name in loaders:
                options[name]["model_dir"] = str(model_dir)
                if package is not None:
                    options[name]["package"] = package_reference(package)
                built[name] = cli.services.predictor(name, namespaces=chosen, model_dir=model_dir)
            else:
                built[name] = cli.services.predictor(name, namespaces=chosen)
            options[name] = {**predictor_options(built[name]), **options[name]}
        with progress_bar(wants_json(cli, json_output), _label) as update:
            result = run_benchmark(
                directory,
                built,
                knowledge=kb,
                top_k=top_k,
                out_dir=out,
                progress=update,
                options=options,
                workers=cli.settings.workers,
            )
    except OcaisError as exc:
        raise fail(exc) from exc
    if wants_json(cli, json_output):
        emit_json(benchmark_json(result))
        return
    console.print(_table(result))
    if result.n_skipped:
        console.print(f"{result.n_skipped:,} records skipped (invalid or no confirmed diagnosis).")
    for label, predictor_result in result.predictors.items():
        reading = predictor_result.genomic
        if reading:
            failed = ", ".join(f"{n} {why}" for why, n in reading["vcfs_not_used"].items())
            console.print(
                f"{label}: {reading['cases_with_genomics']:,} cases with genomic evidence, "
                f"{reading['vcfs_read']:,} VCFs read"
                + (f"; [yellow]not used: {escape(failed)}[/]" if failed else "")
            )
    for kind, path in result.files.items():
        console.print(f"{kind}: {escape(path)}")
