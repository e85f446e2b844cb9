"""``ocais genomic``: genomic data for genotype-aware diagnosis."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ocais.cli.context import JsonFlag, console, emit_json, fail, progress_bar, state, wants_json
from ocais.errors import OcaisError
from ocais.workflows.genomic import simulate_genomic_set

app = typer.Typer(
    help="Genomic data: simulated VCFs beside phenopackets, to benchmark genotype-aware diagnosis.",
    no_args_is_help=True,
)


@app.command("simulate")
def simulate_command(
    ctx: typer.Context,
    source: Annotated[
        Path,
        typer.Argument(help="Phenopackets: a folder, a .json, or a .tar.gz/.tgz/.zip archive."),
    ],
    out: Annotated[Path, typer.Option(help="Folder for <cohort>/<id>.json and .vcf.gz.")],
    decoys: Annotated[
        int,
        typer.Option(min=0, help="Variants of other cohorts' packets, in other genes, per VCF."),
    ] = 100,
    background: Annotated[
        int,
        typer.Option(min=0, help="Random background variants per VCF (50000: exome-sized)."),
    ] = 0,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same files.")] = 0,
    limit: Annotated[
        int | None,
        typer.Option(min=0, help="Only the first K packets by id (decoys still from all)."),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out folder.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Write each phenopacket that has a variant as <cohort>/<id>.json without its genomic
    interpretations (the diagnosis stays: the truth) and, beside it, <id>.vcf.gz (GRCh38,
    snpEff ANN) with its causal variants, decoys and background; ocais-simulation.json holds the
    parameters and counts."""
    as_json = wants_json(state(ctx), json_output)
    try:
        with progress_bar(as_json) as update:
            summary = simulate_genomic_set(
                source,
                out,
                decoys=decoys,
                background=background,
                seed=seed,
                limit=limit,
                overwrite=overwrite,
                progress=lambda done, total: update("Writing packets and VCFs", done, total),
            )
    except OcaisError as exc:
        raise fail(exc) from exc
    if as_json:
        emit_json(summary.model_dump())
        return
    written = summary.packets_written
    console.print(
        f"Read {summary.packets_read:,} phenopackets; wrote {written:,} with their VCFs to "
        f"{escape(summary.out)}"
    )
    for reason, count in summary.packets_skipped.items():
        console.print(f"  skipped {count:>7,}  {escape(reason.replace('_', ' '))}")
    variants = summary.variants_written
    for kind in ("causal", "decoy", "background"):
        per_packet = variants.get(kind, 0) / written if written else 0.0
        console.print(
            f"  {kind:<10} {variants.get(kind, 0):>9,} variants ({per_packet:.1f} per packet)"
        )
    for reason, count in summary.variants_not_written.items():
        console.print(f"  not written {count:>5,}  {escape(reason.replace('_', ' '))}")
    if summary.packets_short_of_decoys:
        console.print(
            f"  {summary.packets_short_of_decoys:,} packets got fewer than {summary.decoys} "
            f"decoys (pool: {summary.decoy_pool:,})"
        )
