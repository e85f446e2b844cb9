"""``ocais ingest`` and ``ocais runs``: import sources into the store, and their run reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ocais.cli.context import CliState, console, emit_json, err_console, fail, state
from ocais.errors import ImportAbortedError, OcaisError
from ocais.ingest import ReaderContext, available_readers
from ocais.store.importer import ImportReport, import_path

runs_app = typer.Typer(help="Ingest runs and their rejects reports.", no_args_is_help=True)


def _write_rejects(path: Path, rejects: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for reject in rejects:
            handle.write(json.dumps(reject) + "\n")


def ingest(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="File, directory or archive to import.")],
    source_format: Annotated[
        str,
        typer.Option("--format", "-f", help="auto, phenopacket, fhir or synthea-csv."),
    ] = "auto",
    skip_invalid: Annotated[
        bool,
        typer.Option(help="Import the valid records and list the invalid ones as rejects."),
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option(help="Also write the rejects report here (JSON Lines).")
    ] = None,
) -> None:
    """Import patient cases (Phenopacket v2, FHIR R4 Bundle/NDJSON, Synthea CSV).

    Without --skip-invalid, one invalid record aborts the import and nothing is written.
    Importing the same records again updates them in place (no duplicates).
    """
    cli = state(ctx)
    formats = {"auto", *available_readers()}
    if source_format not in formats:
        err_console.print(f"[red]unknown format {source_format!r}[/]; use one of {sorted(formats)}")
        raise typer.Exit(code=2)
    context = ReaderContext(
        site=cli.settings.site,
        terms=cli.knowledge,
        max_file_bytes=cli.settings.max_file_bytes,
        workers=cli.settings.workers,
    )
    report: ImportReport | None = None
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.completed:,} records · {task.fields[rejected]:,} rejected"),
        TimeElapsedColumn(),
        console=err_console,
        disable=cli.json_output,
    )
    try:
        with progress:
            task = progress.add_task(f"Importing {path.name}", total=None, rejected=0)
            report = import_path(
                cli.repo,
                path.expanduser(),
                context=context,
                source_format=source_format,
                skip_invalid=skip_invalid,
                batch_size=cli.settings.batch_size,
                on_progress=lambda n, r: progress.update(task, completed=n, rejected=r),
            )
    except ImportAbortedError as exc:
        if rejects is not None:
            _write_rejects(rejects, exc.rejects)
        if cli.json_output:
            emit_json({"status": "aborted", "error": str(exc), "rejects": exc.rejects})
        _print_rejects(exc.rejects)
        raise fail(exc) from exc
    except OcaisError as exc:
        raise fail(exc) from exc
    if rejects is not None:
        _write_rejects(rejects, report.rejects)
    indexed = _index_run(cli, report.run_id) if report.n_inserted + report.n_updated else 0
    if cli.json_output:
        emit_json({**report.as_dict(), "indexed": indexed})
        return
    _print_rejects(report.rejects)
    console.print(
        f"[green]{report.status}[/] {report.source_format} import of {report.source}: "
        f"{report.n_read:,} read, {report.n_inserted:,} new, {report.n_updated:,} updated, "
        f"{report.n_unchanged:,} unchanged, {report.n_rejected:,} rejected "
        f"in {report.seconds:.1f} s ({report.cases_per_second:,.0f} records/s); run {report.run_id}"
    )
    if report.n_term_issues:
        console.print(
            f"[yellow]{report.n_term_issues:,} HPO ids were replaced (obsolete) or are unknown "
            f"to HPO {cli.knowledge.version}[/]; see `ocais cases show ID` for each case."
        )


def _index_run(cli: CliState, run_id: str) -> int:
    """Add the run's new and changed cases to the search index."""
    from ocais.cli.search import search_service

    try:
        with err_console.status("Indexing for search…"):
            return search_service(cli).index_run(run_id)
    except OcaisError as exc:
        err_console.print(
            f"[yellow]imported, but not indexed for search: {escape(str(exc))}[/] "
            "(run `ocais reindex`)"
        )
        return 0


def _print_rejects(rejects: list[dict[str, object]], limit: int = 10) -> None:
    if not rejects:
        return
    table = Table("source", "record", "field", "reason", title=f"{len(rejects)} rejected")
    for reject in rejects[:limit]:
        table.add_row(
            escape(str(reject["source"])),
            escape(str(reject["record"] or "")),
            escape(str(reject["field"] or "")),
            escape(str(reject["message"])),
        )
    err_console.print(table)
    if len(rejects) > limit:
        err_console.print(f"… and {len(rejects) - limit} more (use --rejects FILE for all).")


@runs_app.command("list")
def list_runs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="Most recent runs to show.")] = 20,
) -> None:
    """List recent ingest runs."""
    cli = state(ctx)
    runs = cli.repo.list_runs(limit=limit)
    if cli.json_output:
        emit_json([r.model_dump(mode="json") for r in runs])
        return
    table = Table("run", "started", "format", "status", "read", "new", "rejected", "source")
    for r in runs:
        table.add_row(
            r.id[:8],
            str(r.started_at)[:19],
            r.source_format,
            r.status,
            str(r.n_read),
            str(r.n_inserted),
            str(r.n_rejected),
            r.source,
        )
    console.print(table)


@runs_app.command("show")
def show_run(
    ctx: typer.Context, run_id: Annotated[str, typer.Argument(help="Run id (from runs list).")]
) -> None:
    """Show one ingest run with its rejects report."""
    cli = state(ctx)
    try:
        run = cli.repo.get_run(run_id)
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output:
        emit_json(run.model_dump(mode="json"))
        return
    console.print(run.model_dump(mode="json", exclude={"rejects"}))
    _print_rejects(run.rejects, limit=50)
