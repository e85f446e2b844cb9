"""``ocais synth``: synthetic patients from cases or from the knowledge base, their privacy
report and the release gate. Each command is a thin call into :mod:`ocais.synth`."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich import box
from rich.markup import escape
from rich.table import Table

from ocais.cli.context import (
    CliState,
    JsonFlag,
    console,
    emit_json,
    err_console,
    fail,
    progress_bar,
    state,
    wants_json,
)
from ocais.errors import ConfigError, OcaisError, ReleaseRefusedError
from ocais.learn.profiles import cases_sha256
from ocais.synth.phenopackets import check_out_dir
from ocais.workflows.synthesis import (
    read_labelled,
    synthesize_from_cases,
    synthesize_from_knowledge,
)

app = typer.Typer(
    help="Synthetic patients: generate, measure privacy and utility, release.",
    no_args_is_help=True,
)

TASK_LABELS = {
    "read": "Reading cases",
    "synthesize": "Synthesizing patients",
    "fit": "Fitting the model",
}


# --- helpers shared with `ocais learn` -----------------------------------------------------------
def task_label(task: str) -> str:
    return TASK_LABELS.get(task, task)


def _options(**values: Any) -> Any:
    from ocais.synth.generate import SynthOptions

    try:
        return SynthOptions(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid synthesis options: {problems}") from exc


def _summary_table(title: str, rows: Sequence[tuple[str, str]]) -> Table:
    table = Table(title=title, show_header=False, box=box.SIMPLE_HEAD)
    for key, value in rows:
        table.add_row(key, value)
    return table


# --- from-cases --------------------------------------------------------------------------------
@app.command("from-cases")
def from_cases_command(
    ctx: typer.Context,
    source: Annotated[
        Path, typer.Argument(help="Real phenopackets: a folder tree, JSON Lines file or archive.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the synthetic set to.")],
    per_disease: Annotated[
        int | None,
        typer.Option(min=1, help="Patients per disease (default: multiplier × source cases)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same patients).")] = 0,
    epsilon: Annotated[
        float | None,
        typer.Option(help="Differential privacy on the counted profiles (default: off)."),
    ] = None,
    min_cases: Annotated[
        int,
        typer.Option(
            min=1,
            help="Fewest source cases of a disease; smaller groups are drawn from the knowledge "
            "base, or left out when it lacks the disease.",
        ),
    ] = 4,
    multiplier: Annotated[
        float, typer.Option(help="Without --per-disease: patients per source case.")
    ] = 3.0,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out folder.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Synthesize patients from real cases: per-disease profiles counted from SOURCE, never a
    copy of a source patient. Writes Phenopacket v2 files and a manifest."""
    cli = state(ctx)
    as_json = wants_json(cli, json_output)
    try:
        options = _options(
            seed=seed,
            per_disease=per_disease,
            epsilon=epsilon,
            min_cases=min_cases,
            multiplier=multiplier,
        )
        _ = cli.knowledge  # loaded with its spinner, before the progress display
        with progress_bar(as_json, task_label) as update:
            done = synthesize_from_cases(
                cli.services, source, out, options, overwrite=overwrite, progress=update
            )
    except OcaisError as exc:
        raise fail(exc) from exc
    params = done.parameters
    summary = {
        "out": str(out),
        "manifest": str(done.manifest_path),
        "dataset_id": params.get("dataset_id"),
        "n_cases": len(done.cases),
        "n_diseases": len({d.disease_id for c in done.cases for d in c.diagnoses}),
        "n_source_cases": done.n_source_cases,
        "n_skipped": done.n_skipped,
        "cases_per_second": round(len(done.cases) / done.seconds, 1) if done.seconds else None,
        "small_groups_from_knowledge": params.get("small_groups_from_knowledge", 0),
        "small_groups_left_out": params.get("small_groups_left_out", 0),
        "dropped_too_close": params.get("dropped_too_close", 0),
        "epsilon": epsilon,
        "seed": seed,
    }
    _print_summary(summary, as_json, "Synthetic patients from cases")


def _print_summary(summary: dict[str, Any], as_json: bool, title: str) -> None:
    if as_json:
        emit_json(summary)
        return
    rows = [
        (key.replace("_", " "), f"{value:,}" if isinstance(value, int) else escape(str(value)))
        for key, value in summary.items()
        if value is not None
    ]
    console.print(_summary_table(title, rows))


# --- from-knowledge ------------------------------------------------------------------------------
@app.command("from-knowledge")
def from_knowledge_command(
    ctx: typer.Context,
    diseases: Annotated[
        str,
        typer.Option(
            help="Disease ids, comma-separated (OMIM:154700,ORPHA:558), or 'all' for every "
            "annotated OMIM and ORPHA disease."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the synthetic set to.")],
    per_disease: Annotated[int, typer.Option(min=1, help="Patients per disease.")] = 10,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same patients).")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out folder.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Synthesize patients of annotated diseases from the HPO annotations alone (no real case
    involved). Writes Phenopacket v2 files and a manifest."""
    cli = state(ctx)
    as_json = wants_json(cli, json_output)
    every = diseases.strip().lower() == "all"
    chosen = None if every else [d.strip() for d in diseases.split(",") if d.strip()]
    try:
        options = _options(seed=seed, per_disease=per_disease)
        _ = cli.knowledge  # loaded with its spinner, before the progress display
        with progress_bar(as_json, task_label) as update:
            done = synthesize_from_knowledge(
                cli.services, chosen, out, options, overwrite=overwrite, progress=update
            )
    except OcaisError as exc:
        raise fail(exc) from exc
    summary = {
        "out": str(out),
        "manifest": str(done.manifest_path),
        "dataset_id": done.parameters.get("dataset_id"),
        "n_cases": len(done.cases),
        "n_diseases": len(done.disease_ids),
        "cases_per_second": round(len(done.cases) / done.seconds, 1) if done.seconds else None,
        "seed": seed,
    }
    _print_summary(summary, as_json, "Synthetic patients from the knowledge base")


# --- report and release -----------------------------------------------------------------------
def _build_report(
    cli: CliState,
    synth: Path,
    source: Path,
    holdout: Path,
    *,
    utility: bool,
    as_json: bool,
) -> Any:
    """Read the three sets and measure the synthetic one (``SynthReport``)."""
    from ocais.synth.phenopackets import read_manifest
    from ocais.synth.privacy import build_report
    from ocais.synth.release import files_digest, phenopacket_files

    kb = cli.knowledge
    with progress_bar(as_json, task_label) as update:
        synthetic, _ = read_labelled(cli.services, synth, "synthetic set", update)
        real, _ = read_labelled(cli.services, source, "source", update)
        held, _ = read_labelled(cli.services, holdout, "holdout", update)
    sources: dict[str, Any] = {
        "synthetic": str(synth),
        "source": str(source),
        "source_sha256": cases_sha256(real),
        "holdout": str(holdout),
        "holdout_sha256": cases_sha256(held),
    }
    if synth.is_dir():
        sources["synthetic_sha256"] = files_digest(synth, phenopacket_files(synth))
        manifest = read_manifest(synth)
        expected = (manifest.get("source") or {}).get("cases_sha256")
        if expected and expected != sources["source_sha256"]:
            err_console.print(
                "[yellow]warning[/]: the synthetic set's manifest names another source "
                f"(cases sha256 {escape(str(expected))[:16]}…) than {escape(str(source))}"
            )
    status = nullcontext() if as_json else err_console.status("Measuring the synthetic set…")
    with status:
        return build_report(synthetic, real, held, kb, sources=sources, utility=utility)


def _figure(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _report_rows(report: Any) -> list[tuple[str, str]]:
    p, f, u = report.privacy, report.fidelity, report.utility
    rows = [
        (
            "cases (synthetic / source / holdout)",
            f"{p.n_synthetic:,} / {p.n_source:,} / {p.n_holdout:,}",
        ),
        ("exact copies", f"{p.exact_copies} ({p.exact_copy_rate:.2%})"),
        (f"near-copy rate (≤ {p.near_copy_threshold:g})", f"{p.near_copy_rate:.2%}"),
        (
            "DCR median synthetic / holdout",
            f"{_figure(p.dcr_synthetic_median)} / {_figure(p.dcr_holdout_median)}",
        ),
        ("membership-inference AUC", _figure(p.mia_auc)),
        ("fidelity median r", f"{_figure(f.median_correlation)} over {f.n_compared:,} diseases"),
    ]
    if u is not None:
        rows.append(
            (
                "utility top-1 knowledge → learned",
                f"{u.knowledge['top1']:.1%} → {u.learned['top1']:.1%} (on {u.n_test:,} holdout)",
            )
        )
    return rows


@app.command("report")
def report_command(
    ctx: typer.Context,
    synth: Annotated[Path, typer.Argument(help="The synthetic set (folder of phenopackets).")],
    source: Annotated[Path, typer.Option(help="The real cases it was generated from.")],
    holdout: Annotated[
        Path, typer.Option(help="Real cases of the same diseases never used for generation.")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Folder to write report.json and report.html to.")
    ] = None,
    no_utility: Annotated[
        bool, typer.Option("--no-utility", help="Skip the train-on-synthetic fit (faster).")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Privacy (copies, distances, membership inference), fidelity and utility of a synthetic
    set, and the verdict of the default release gate."""
    from ocais.synth.privacy import report_json
    from ocais.synth.release import check_gate
    from ocais.synth.report_html import write_report_html

    cli = state(ctx)
    as_json = wants_json(cli, json_output)
    files: dict[str, str] = {}
    try:
        report = _build_report(cli, synth, source, holdout, utility=not no_utility, as_json=as_json)
        gate = check_gate(report)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "report.json").write_text(report_json(report), encoding="utf-8")
            files["json"] = str(out / "report.json")
            files["html"] = str(write_report_html(report, out / "report.html"))
    except OcaisError as exc:
        raise fail(exc) from exc
    except OSError as exc:
        raise fail(ConfigError(f"cannot write the report: {exc}")) from exc
    if as_json:
        emit_json({**report.model_dump(mode="json"), "gate": gate.model_dump(), "files": files})
        return
    console.print(_summary_table(f"Synthetic set {escape(str(synth))}", _report_rows(report)))
    _print_gate(gate)
    for kind, path in files.items():
        console.print(f"{kind}: {escape(path)}")


def _print_gate(gate: Any) -> None:
    if gate.passed:
        console.print("[green]Release gate: passed[/] (default thresholds)")
        return
    console.print("[red]Release gate: failed[/]")
    for reason in gate.failures:
        console.print(f"  - {escape(reason)}")


@app.command("release")
def release_command(
    ctx: typer.Context,
    synth: Annotated[Path, typer.Argument(help="The synthetic set (folder of phenopackets).")],
    source: Annotated[Path, typer.Option(help="The real cases it was generated from.")],
    holdout: Annotated[
        Path, typer.Option(help="Real cases of the same diseases never used for generation.")
    ],
    out: Annotated[Path, typer.Option("--out", help="New folder to publish the set into.")],
    max_mia_auc: Annotated[
        float, typer.Option(min=0.5, max=1.0, help="Highest membership-inference AUC.")
    ] = 0.6,
    max_exact_copies: Annotated[
        int, typer.Option(min=0, help="Most synthetic cases identical to a source case.")
    ] = 0,
    no_utility: Annotated[
        bool, typer.Option("--no-utility", help="Skip the train-on-synthetic fit (faster).")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Measure the synthetic set and publish it (with report.json and DATASET_CARD.md) only if
    it passes the release gate; a refusal writes nothing and exits with code 1."""
    from ocais.synth.release import GateThresholds, release

    cli = state(ctx)
    as_json = wants_json(cli, json_output)
    try:
        if not synth.is_dir():
            raise ConfigError(f"{synth} is not a folder", hint="release a folder of phenopackets")
        check_out_dir(out, hint="release into a new folder")
        thresholds = GateThresholds(max_mia_auc=max_mia_auc, max_exact_copies=max_exact_copies)
        report = _build_report(cli, synth, source, holdout, utility=not no_utility, as_json=as_json)
        result = release(synth, report, thresholds, out)
    except ReleaseRefusedError as exc:
        if as_json:
            emit_json({"released": False, "failures": exc.failures})
        fail(exc)  # prints the failures; a refusal is a verdict, not bad input: exit code 1
        raise typer.Exit(code=1) from exc
    except OcaisError as exc:
        raise fail(exc) from exc
    if as_json:
        emit_json(
            {
                "released": True,
                "out": result.out_dir,
                "n_files": len(result.files),
                "gate": result.gate.model_dump(),
                "privacy": report.privacy.model_dump(
                    mode="json", exclude={"dcr_histogram", "mia_roc"}
                ),
            }
        )
        return
    console.print(_summary_table(f"Synthetic set {escape(str(synth))}", _report_rows(report)))
    _print_gate(result.gate)
    console.print(f"Released {len(result.files):,} phenopackets into {escape(result.out_dir)}")
