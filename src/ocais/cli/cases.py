"""``ocais cases``: list and show stored cases."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ocais.cli.context import console, emit_json, fail, state
from ocais.errors import OcaisError
from ocais.workflows import OPERATOR
from ocais.workflows import cases as workflows
from ocais.workflows.types import CaseFilter

app = typer.Typer(help="Stored patient cases.", no_args_is_help=True)


@app.command("list")
def list_cases(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Rows per page.")] = 20,
    offset: Annotated[int, typer.Option(min=0, help="Rows to skip.")] = 0,
    source_format: Annotated[
        str | None, typer.Option("--format", help="Only cases from this source format.")
    ] = None,
    site: Annotated[str | None, typer.Option(help="Only cases from this site.")] = None,
    disease: Annotated[str | None, typer.Option(help="Only cases with this diagnosis id.")] = None,
    hpo: Annotated[
        str | None, typer.Option(help="Only cases where this HPO term was observed.")
    ] = None,
    synthetic: Annotated[
        bool | None, typer.Option("--synthetic/--real", help="Only synthetic, or only real.")
    ] = None,
) -> None:
    """List stored cases, newest first, with filters."""
    cli = state(ctx)
    where = CaseFilter(
        source_format=source_format,
        site=site,
        disease_id=disease,
        hpo_id=hpo,
        synthetic=synthetic,
    )
    try:
        page = workflows.list_cases(cli.services, OPERATOR, where, limit=limit, offset=offset)
    except OcaisError as exc:
        raise fail(exc) from exc
    rows, total = page.items, page.total
    if cli.json_output:
        emit_json({"total": total, "cases": [r.model_dump(mode="json") for r in rows]})
        return
    table = Table(
        "id",
        "external id",
        "format",
        "sex",
        "age",
        "observed",
        "excluded",
        "diagnoses",
        title=f"{len(rows)} of {total:,} cases",
    )
    for r in rows:
        table.add_row(
            r.id,
            r.external_id or "",
            r.source_format,
            str(r.sex),
            "" if r.age_years is None else f"{r.age_years:g}",
            str(r.n_observed),
            str(r.n_excluded),
            ", ".join(r.diagnoses),
        )
    console.print(table)


@app.command("show")
def show_case(
    ctx: typer.Context, case_id: Annotated[str, typer.Argument(help="Case id (from cases list).")]
) -> None:
    """Show one case: demographics, phenotypes, findings, diagnoses, provenance."""
    cli = state(ctx)
    try:
        case = workflows.show_case(cli.services, OPERATOR, case_id)
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output:
        emit_json(case.model_dump(mode="json"))
        return
    s = case.subject
    console.print(
        f"[bold]{case.id}[/] ({case.external_id or 'no external id'}) · {s.sex} · "
        f"age {s.age_years if s.age_years is not None else '?'} · site {case.site}"
        + (" · [magenta]synthetic[/]" if case.synthetic else "")
    )
    if case.phenotypes:
        table = Table("HPO id", "phenotype", "status", "onset (years)", title="Phenotypes")
        for p in case.phenotypes:
            table.add_row(
                p.id,
                p.label or "",
                "[red]excluded[/]" if p.excluded else "observed",
                "" if p.onset_age_years is None else f"{p.onset_age_years:g}",
            )
        console.print(table)
    if case.findings:
        table = Table("category", "system", "code", "display", "value", "date", title="Findings")
        for f in case.findings[:50]:
            value = "" if f.value is None else f"{f.value} {f.unit or ''}".strip()
            table.add_row(f.category, f.system, f.code, f.display or "", value, str(f.date or ""))
        console.print(table)
        if len(case.findings) > 50:
            console.print(f"… {len(case.findings) - 50} more findings (use --json).")
    for d in case.diagnoses:
        console.print(f"[bold]Diagnosis[/] {d.disease_id} {d.label or ''} ({d.status})")
    prov = case.provenance
    console.print(
        f"[dim]from {prov.source_format} {prov.source} record {prov.record_id}, "
        f"{prov.created_by}, HPO {prov.knowledge_version or '—'}[/]"
    )
    for issue in prov.parameters.get("issues", []):
        console.print(f"[yellow]• {issue}[/]")


@app.command("share")
def share_cases(
    ctx: typer.Context,
    case_ids: Annotated[list[str], typer.Argument(help="Case ids (from cases list).")],
    unshare: Annotated[
        bool, typer.Option("--unshare", help="Make them private again (owner and admins).")
    ] = False,
) -> None:
    """Share cases as reference cases every clinician may read (or --unshare them)."""
    cli = state(ctx)
    try:
        changed = workflows.share_cases(cli.services, OPERATOR, case_ids, not unshare)
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output:
        emit_json({"changed": changed, "shared": not unshare})
        return
    console.print(f"{'unshared' if unshare else 'shared'} {changed} of {len(case_ids)} cases")
