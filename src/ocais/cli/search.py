"""``ocais search``: semantic + contextual search over stored cases; ``ocais reindex``.

The command acts as the local operator (``ocais.workflows.access.OPERATOR``): whoever can run it
on the store's machine can read the database anyway.
"""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from ocais.cli.context import console, emit_json, err_console, fail, state
from ocais.cli.predict import parse_hpo_list
from ocais.errors import InvalidRecordError, OcaisError
from ocais.schemas import Sex
from ocais.workflows import OPERATOR
from ocais.workflows.cases import search_cases
from ocais.workflows.indexing import reindex as reindex_cases
from ocais.workflows.types import SearchFilters, SearchQuery


def _split(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def search(
    ctx: typer.Context,
    text: Annotated[str | None, typer.Argument(help="Free-text description to search for.")] = None,
    hpo: Annotated[str | None, typer.Option(help="HPO ids to search for: HP:..,HP:..")] = None,
    like: Annotated[str | None, typer.Option(help="Find cases similar to this case id.")] = None,
    sex: Annotated[Sex | None, typer.Option(help="Only this sex.")] = None,
    age_min: Annotated[float | None, typer.Option(help="Minimum age (years).")] = None,
    age_max: Annotated[float | None, typer.Option(help="Maximum age (years).")] = None,
    diagnosis: Annotated[str | None, typer.Option(help="Any of these disease ids.")] = None,
    has: Annotated[str | None, typer.Option(help="Observed (or a subtype): HP:..,HP:..")] = None,
    lacks: Annotated[str | None, typer.Option(help="Explicitly excluded: HP:..,HP:..")] = None,
    source_format: Annotated[str | None, typer.Option("--format", help="Source format.")] = None,
    site: Annotated[str | None, typer.Option(help="Only this site.")] = None,
    synthetic: Annotated[
        bool | None, typer.Option("--synthetic/--real", help="Only synthetic, or only real.")
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=1000, help="Number of results.")] = 10,
) -> None:
    """Search stored cases by meaning (text, HPO terms or a similar case) and by filters."""
    cli = state(ctx)
    try:
        query = SearchQuery(
            text=text,
            hpo=[o.id for o in parse_hpo_list(hpo)] if hpo else [],
            like_case=like,
            k=k,
            filters=SearchFilters(
                sex=sex,
                age_min=age_min,
                age_max=age_max,
                diagnoses=_split(diagnosis),
                phenotypes_present=_split(has),
                phenotypes_absent=_split(lacks),
                source_format=source_format,
                site=site,
                synthetic=synthetic,
            ),
        )
    except ValidationError as exc:
        raise fail(InvalidRecordError(str(exc), source="search options")) from exc
    except OcaisError as exc:
        raise fail(exc) from exc
    try:
        result = search_cases(cli.services, OPERATOR, query)
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output:
        emit_json(result.model_dump(mode="json"))
        return
    if result.query_phenotypes:
        names = ", ".join(cli.knowledge.name(t) for t in result.query_phenotypes)
        err_console.print(f"[dim]query phenotypes: {escape(names)}[/]")
    table = Table("case", "external id", "score", "sex", "age", "diagnoses", "why")
    for hit in result.hits:
        table.add_row(
            hit.case_id,
            escape(hit.external_id or ""),
            "" if hit.score is None else f"{hit.score:.3f}",
            hit.sex,
            "" if hit.age_years is None else f"{hit.age_years:g}",
            ", ".join(hit.diagnoses),
            escape("; ".join(hit.reasons)),
        )
    console.print(table)
    console.print(f"[dim]{len(result.hits)} results in {result.took_ms:.1f} ms[/]")


def reindex(ctx: typer.Context) -> None:
    """(Re)build the search index of every stored case."""
    cli = state(ctx)
    try:
        with err_console.status("Indexing cases…"):
            n = reindex_cases(cli.services)
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output:
        emit_json({"indexed": n})
    else:
        console.print(f"indexed {n:,} cases")
