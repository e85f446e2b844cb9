"""``ocais ingest`` and ``ocais runs``: import sources into the store, and their run reports.

``ocais ingest`` is a group whose default command is ``path``: ``ocais ingest PATH [OPTIONS]``
runs ``ocais ingest path PATH [OPTIONS]`` (as it always did), and ``ocais ingest fhir-server URL
--patient ID`` pulls one patient's record from an EHR's FHIR server (:class:`_IngestGroup`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

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
from ocais.errors import ImportAbortedError, OcaisError
from ocais.ingest import available_readers
from ocais.workflows.fhir_intake import import_from_fhir_server, read_token
from ocais.workflows.indexing import ImportOutcome, import_and_index

runs_app = typer.Typer(help="Ingest runs and their rejects reports.", no_args_is_help=True)


class _IngestGroup(TyperGroup):
    """A group with a default command: arguments that do not start with one of its command
    names (``ocais ingest data.json --shared``, ``ocais ingest --format fhir data.json``, or
    none at all) go to :attr:`default_command`, so ``ocais ingest PATH`` keeps working beside
    ``ocais ingest fhir-server URL``. ``ocais ingest --help`` shows the group's help."""

    default_command = "path"

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args and ctx.resilient_parsing:  # shell completion: offer the command names
            return super().parse_args(ctx, args)
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return ["PATH [OPTIONS] | COMMAND [ARGS]..."]


ingest_app = typer.Typer(
    cls=_IngestGroup,
    name="ingest",
    help="""Import patient cases into the store, from files or from an EHR's FHIR server.

    ocais ingest PATH [OPTIONS] imports a file, folder or archive (Phenopacket v2, FHIR R4
    Bundle/NDJSON, Synthea CSV, free-text notes): it runs the path command below (options:
    ocais ingest path --help; a file named like a command is given as ./NAME).

    ocais ingest fhir-server URL --patient ID [--token-env VAR] imports one patient's record
    from an EHR's FHIR R4 server, de-identified like every import (options: ocais ingest
    fhir-server --help).""",
)


def _write_rejects(path: Path, rejects: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for reject in rejects:
            handle.write(json.dumps(reject) + "\n")


@ingest_app.command("path")
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
    shared: Annotated[
        bool,
        typer.Option(
            "--shared",
            help="Reference cases every clinician may read (published case reports, released "
            "synthetic sets). Without it, clinicians see only the cases they created.",
        ),
    ] = False,
    keep_genomics: Annotated[
        bool,
        typer.Option(
            "--keep-genomics",
            help="Also store the cases' genomic evidence (variants, VCF paths, candidate "
            "genes). Without it, it is dropped: genotypes identify a person.",
        ),
    ] = False,
) -> None:
    """Import patient cases from a file, folder or archive (Phenopacket v2, FHIR R4
    Bundle/NDJSON, Synthea CSV, notes); the default: ocais ingest PATH runs this command.

    Without --skip-invalid, one invalid record aborts the import and nothing is written.
    Importing the same records again updates them in place (no duplicates).
    """
    cli = state(ctx)
    formats = {"auto", *available_readers()}
    if source_format not in formats:
        err_console.print(f"[red]unknown format {source_format!r}[/]; use one of {sorted(formats)}")
        raise typer.Exit(code=2)
    _ = cli.knowledge  # loaded with its spinner, before the progress display starts
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.completed:,} records · {task.fields[rejected]:,} rejected"),
        TextColumn("· {task.fields[indexed]:,} indexed"),
        TimeElapsedColumn(),
        console=err_console,
        disable=cli.json_output,
    )
    try:
        with progress:
            task = progress.add_task(f"Importing {path.name}", total=None, rejected=0, indexed=0)
            outcome = import_and_index(
                cli.services,
                path.expanduser(),
                source_format=source_format,
                skip_invalid=skip_invalid,
                on_progress=lambda n, r: progress.update(task, completed=n, rejected=r),
                on_indexed=lambda n: progress.update(task, indexed=n),
                shared=shared,
                keep_genomics=keep_genomics,
            )
    except ImportAbortedError as exc:
        raise _aborted(exc, rejects, as_json=cli.json_output) from exc
    except OcaisError as exc:
        raise fail(exc) from exc
    _report_outcome(
        cli, outcome, rejects, as_json=cli.json_output, source=str(outcome.report.source)
    )


@ingest_app.command("fhir-server")
def ingest_fhir_server(
    ctx: typer.Context,
    url: Annotated[
        str,
        typer.Argument(
            metavar="URL", help="The FHIR server's base URL, e.g. https://ehr.example.org/fhir."
        ),
    ],
    patient: Annotated[
        str,
        typer.Option(
            "--patient",
            metavar="ID",
            help="The patient's FHIR resource id on that server (Patient.id, not an MRN).",
        ),
    ],
    token_env: Annotated[
        str | None,
        typer.Option(
            "--token-env",
            metavar="VAR",
            help="Environment variable that holds the bearer access token (e.g. from SMART "
            "backend services); without it no token is sent. OCAIS does not store the token.",
        ),
    ] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option(help="Import the valid resources and list the invalid ones as rejects."),
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option(help="Also write the rejects report here (JSON Lines).")
    ] = None,
    shared: Annotated[
        bool,
        typer.Option(
            "--shared", help="A reference case every clinician may read (see ocais ingest path)."
        ),
    ] = False,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for each answer of the server.")
    ] = 30,
    json_flag: JsonFlag = False,
) -> None:
    """Import one patient's record from an EHR's FHIR R4 server.

    Reads Patient/ID and searches its Condition, Observation, MedicationRequest, Procedure and
    Encounter resources (all pages) with the bearer token from --token-env, then imports them
    as ocais ingest does with a FHIR Bundle: de-identified before storage (the Patient id kept
    only as a keyed hash; no names, identifiers or birth dates). The fetched record passes
    through a private temporary file, removed after the import; the token is never stored.
    """
    cli = state(ctx)
    as_json = wants_json(cli, json_flag)
    try:
        token = read_token(token_env)
    except OcaisError as exc:
        raise fail(exc) from exc
    _ = cli.knowledge  # loaded with its spinner, before the progress display starts
    steps = {"import": "Importing", "index": "Indexing"}
    try:
        with progress_bar(as_json, lambda task: steps.get(task, f"Fetching {task}")) as update:
            outcome = import_from_fhir_server(
                cli.services,
                url,
                patient,
                token=token,
                shared=shared,
                skip_invalid=skip_invalid,
                timeout=timeout,
                on_fetch=update,
                on_progress=lambda n, _rejected: update("import", n, None),
                on_indexed=lambda n: update("index", n, None),
            )
    except ImportAbortedError as exc:
        raise _aborted(exc, rejects, as_json=as_json) from exc
    except OcaisError as exc:
        raise fail(exc) from exc
    if not as_json:
        fetched = ", ".join(f"{n:,} {kind}" for kind, n in outcome.fetched.items())
        err_console.print(f"fetched {escape(fetched)} from {escape(outcome.fhir_server)}")
    source = f"the requested patient from {outcome.fhir_server}"
    _report_outcome(cli, outcome, rejects, as_json=as_json, source=source)


def _aborted(error: ImportAbortedError, rejects: Path | None, *, as_json: bool) -> typer.Exit:
    """Report an aborted import (its rejects) and return the exit to raise."""
    if rejects is not None:
        _write_rejects(rejects, error.rejects)
    if as_json:
        emit_json({"status": "aborted", "error": str(error), "rejects": error.rejects})
    _print_rejects(error.rejects)
    return fail(error)


def _report_outcome(
    cli: CliState, outcome: ImportOutcome, rejects: Path | None, *, as_json: bool, source: str
) -> None:
    report = outcome.report
    if rejects is not None:
        _write_rejects(rejects, report.rejects)
    if outcome.index_error:
        err_console.print(
            f"[yellow]imported, but indexing for search stopped: {escape(outcome.index_error)}[/]"
            " — the next ocais command that searches (or ocais stats) finishes it"
        )
    if as_json:
        emit_json(outcome.as_dict())
        return
    _print_rejects(report.rejects)
    _print_skipped(report.skipped)
    console.print(
        f"[green]{report.status}[/] {report.source_format} import of {escape(source)}: "
        f"{report.n_read:,} read, {report.n_inserted:,} new, {report.n_updated:,} updated, "
        f"{report.n_unchanged:,} unchanged, {report.n_rejected:,} rejected "
        f"in {report.seconds:.1f} s ({report.cases_per_second:,.0f} records/s); run {report.run_id}"
    )
    if report.n_term_issues:
        console.print(
            f"[yellow]{report.n_term_issues:,} HPO ids were replaced (obsolete) or are unknown "
            f"to HPO {cli.knowledge.version}[/]; see `ocais cases show ID` for each case."
        )


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


def _print_skipped(skipped: list[dict[str, str]], limit: int = 10) -> None:
    """Files of a folder that no reader read (not rejects), with the reason."""
    if not skipped:
        return
    files = f"{len(skipped)} file" + ("s" if len(skipped) > 1 else "")
    table = Table("file", "reason", title=f"{files} skipped")
    for entry in skipped[:limit]:
        table.add_row(escape(entry["path"]), escape(entry["reason"]))
    err_console.print(table)
    if len(skipped) > limit:
        err_console.print(
            f"… and {len(skipped) - limit} more (`ocais --json runs show RUN` lists all)."
        )


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
    """Show one ingest run with its rejects report and the files it skipped."""
    cli = state(ctx)
    try:
        run = cli.repo.get_run(run_id)
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output:
        emit_json(run.model_dump(mode="json"))
        return
    shown = run.model_dump(mode="json", exclude={"rejects"})
    skipped = shown["settings"].pop("skipped", [])
    console.print(shown)
    _print_rejects(run.rejects, limit=50)
    _print_skipped(skipped, limit=50)
