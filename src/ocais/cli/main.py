"""The ``ocais`` command: noun–verb subcommands, ``--json`` where output is data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ocais import __version__
from ocais.cli import (
    cases,
    finetune,
    genomic,
    keys,
    knowledge,
    learn,
    llm,
    notes,
    package,
    phenotypes,
    serve,
    study,
    synth,
    users,
)
from ocais.cli.benchmark import benchmark
from ocais.cli.context import CliState, console, emit_json, err_console, fail, state
from ocais.cli.ingest import ingest, ingest_app, runs_app
from ocais.cli.loop import app as loop_app
from ocais.cli.predict import predict
from ocais.cli.search import reindex, search
from ocais.config import load_settings
from ocais.errors import OcaisError
from ocais.workflows.indexing import store_stats

app = typer.Typer(
    name="ocais",
    help="OCAIS — Open Clinical AI Science: clinical case store and diagnosis support.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(knowledge.app, name="knowledge")
app.add_typer(cases.app, name="cases")
app.add_typer(phenotypes.app, name="phenotypes")
app.add_typer(users.app, name="users")
app.add_typer(serve.report_app, name="report")
app.add_typer(runs_app, name="runs")
app.add_typer(synth.app, name="synth")
app.add_typer(learn.app, name="learn")
app.add_typer(loop_app, name="loop")
app.add_typer(llm.app, name="llm")
app.add_typer(finetune.app, name="finetune")
app.add_typer(notes.app, name="notes")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(keys.trust_app, name="trust")
app.add_typer(package.app, name="package")
app.add_typer(study.app, name="study")
app.add_typer(genomic.app, name="genomic")
app.add_typer(ingest_app, name="ingest")
app.command("predict")(predict)
app.command("benchmark")(benchmark)
app.command("search")(search)
app.command("reindex")(reindex)
app.command("serve")(serve.serve)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ocais {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print data as JSON (for scripts).")
    ] = False,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory (env OCAIS_DATA_DIR).")
    ] = None,
    store_url: Annotated[
        str | None, typer.Option(help="Store URL (SQLite or PostgreSQL) (env OCAIS_STORE_URL).")
    ] = None,
    hpo_dir: Annotated[
        Path | None, typer.Option(help="HPO release directory (env OCAIS_HPO_DIR).")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    overrides = {
        k: v
        for k, v in {"data_dir": data_dir, "store_url": store_url, "hpo_dir": hpo_dir}.items()
        if v is not None
    }
    try:
        settings = load_settings(**overrides)
    except OcaisError as exc:
        raise fail(exc) from exc
    ctx.obj = CliState(settings=settings, json_output=json_output)
    ctx.call_on_close(ctx.obj.close)


@app.command("stats")
def stats(ctx: typer.Context) -> None:
    """Counts of what the store holds, and how many cases the search index holds."""
    cli = state(ctx)
    try:
        data = store_stats(cli.services)
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output:
        emit_json(data)
        return
    table = Table(title="Store", show_header=False)
    for key, value in data.items():
        table.add_row(key.replace("_", " "), str(value))
    console.print(table)


@app.command("demo")
def demo(
    ctx: typer.Context,
    source: Annotated[
        Path,
        typer.Argument(help="Phenopackets to import (file, directory or archive)."),
    ] = Path("../shared/data/phenopacket-store/dev.tar.gz"),
) -> None:
    """Import a phenopacket collection (published case reports, shared with every clinician)
    into the embedded store and print store statistics."""
    cli = state(ctx)
    if not source.exists():
        err_console.print(
            f"[red]{escape(str(source))} does not exist[/]: pass a phenopacket file or folder."
        )
        raise typer.Exit(code=2)
    info = cli.knowledge.info()
    err_console.print(
        f"HPO {info.hpo_version}: {info.n_terms:,} terms, "
        f"{sum(info.n_diseases.values()):,} diseases (loaded in {info.load_seconds:.2f} s)"
    )
    # published case reports: reference cases every clinician may read
    ctx.invoke(
        ingest, ctx=ctx, path=source, source_format="phenopacket", skip_invalid=True, shared=True
    )
    ctx.invoke(stats, ctx=ctx)
    err_console.print(f"Store: {cli.settings.resolved_store_url}")


def main() -> None:
    app()
