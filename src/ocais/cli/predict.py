"""``ocais predict``: a ranked differential for one case, with its evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ocais.cli.context import console, emit_json, err_console, fail, state
from ocais.errors import InvalidRecordError, OcaisError
from ocais.ingest import ReaderContext
from ocais.ingest.phenopacket import PhenopacketReader
from ocais.schemas import Case, PhenotypeObservation, Sex
from ocais.workflows.fhir_export import risk_assessment
from ocais.workflows.predicting import (
    patient_genomics,
    predict_case,
    predict_terms,
    predict_text,
    text_observations,
)


def parse_hpo_list(text: str) -> list[PhenotypeObservation]:
    """``HP:0001250,-HP:0000505``: a leading ``-`` marks an excluded (absent) phenotype."""
    observations = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        excluded = item.startswith(("-", "!"))
        term = item.lstrip("-!").strip().upper()
        try:
            observations.append(PhenotypeObservation(id=term, excluded=excluded))
        except ValueError as exc:
            raise InvalidRecordError(
                f"{term!r} is not an HPO id (expected HP:0000000)", source="--hpo", field=term
            ) from exc
    return observations


def _case_from_file(path: Path, context: ReaderContext) -> Case:
    records = list(PhenopacketReader(context).read(path))
    if len(records) != 1:
        raise InvalidRecordError(
            f"expected one phenopacket, found {len(records)}", source=str(path)
        )
    record = records[0]
    if isinstance(record, InvalidRecordError):
        raise record
    return record


def predict(
    ctx: typer.Context,
    case_file: Annotated[
        Path | None, typer.Argument(help="A Phenopacket v2 JSON file with the case.")
    ] = None,
    hpo: Annotated[
        str | None,
        typer.Option(help="HPO ids instead of a file: HP:0001250,-HP:0000505 (- = absent)."),
    ] = None,
    text: Annotated[
        str | None,
        typer.Option(help="A free-text description instead: 'seizures, no microcephaly'."),
    ] = None,
    sex: Annotated[Sex, typer.Option(help="Patient sex (with --hpo or --text).")] = Sex.UNKNOWN,
    age: Annotated[float | None, typer.Option(min=0, max=150, help="Age in years.")] = None,
    top: Annotated[int, typer.Option(min=1, max=500, help="Candidates to show.")] = 10,
    predictor_name: Annotated[
        str | None,
        typer.Option(
            "--predictor",
            help="phenotype (default), genomic (the default with --vcf or --gene), resnik, ...",
        ),
    ] = None,
    vcf: Annotated[
        Path | None,
        typer.Option(
            help="The patient's VCF (.vcf or .vcf.gz; snpEff ANN, VEP CSQ, ClinVar GENEINFO or "
            "GENE annotations; GRCh37/GRCh38). Read, used and not stored.",
        ),
    ] = None,
    sample: Annotated[
        str | None, typer.Option(help="The patient's sample column in a multi-sample VCF.")
    ] = None,
    gene: Annotated[
        list[str] | None,
        typer.Option(
            "--gene",
            help="A candidate gene (symbol, NCBIGene:2200 or HGNC:3603|FBN1); repeat it, or "
            "separate several with commas.",
        ),
    ] = None,
    fhir: Annotated[
        bool,
        typer.Option(
            "--fhir",
            help="Print the differential as a FHIR R4 RiskAssessment (JSON; wins over --json).",
        ),
    ] = False,
) -> None:
    """Rank every known disease for a case and show why each candidate fits."""
    cli = state(ctx)
    if sum(x is not None for x in (case_file, hpo, text)) != 1:
        err_console.print("[red]give one of a case file, --hpo or --text[/]")
        raise typer.Exit(code=2)
    genes = [g for item in gene or [] for g in item.split(",") if g.strip()]
    name = predictor_name or ("genomic" if vcf is not None or genes else "phenotype")
    try:
        kb = cli.knowledge
        predictor = cli.services.predictor(name)
        observations: list[tuple[str, bool]] = []  # (term, excluded): the FHIR basis
        if case_file is not None:
            case = _case_from_file(case_file, ReaderContext(terms=kb))
            if vcf is not None or genes:
                case.genomics = patient_genomics(
                    predictor, vcf=vcf, sample=sample, genes=genes, given=case.genomics
                )
            result = predict_case(predictor, case, top)
            observations = [(p.id, p.excluded) for p in case.phenotypes]
        else:
            genomics = patient_genomics(predictor, vcf=vcf, sample=sample, genes=genes)
            if text is not None:
                result = predict_text(
                    predictor,
                    kb,
                    text,
                    sex=sex,
                    age_years=age,
                    top_k=top,
                    source="cli",
                    genomics=genomics,
                )
                if fhir:
                    observations = text_observations(kb, text)
            else:
                observations = [(o.id, o.excluded) for o in parse_hpo_list(hpo or "")]
                result = predict_terms(
                    predictor,
                    kb,
                    observations,
                    sex=sex,
                    age_years=age,
                    top_k=top,
                    source="cli",
                    genomics=genomics,
                )
        if fhir:  # FHIR is JSON too: --fhir wins over --json
            observed = [t for t, excluded in observations if not excluded]
            excluded = [t for t, excluded in observations if excluded]
            emit_json(risk_assessment(result, knowledge=kb, observed=observed, excluded=excluded))
            return
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output:
        emit_json(json.loads(result.model_dump_json()))
        return
    for warning in result.warnings:
        err_console.print(f"[yellow]• {escape(warning)}[/]")
    genotyped = any("genotype" in c.evidence for c in result.candidates)
    columns = ["#", "disease", "name", "entries", "score", "prob.", "matched"]
    table = Table(*columns, *(["genotype"] if genotyped else []), title="Differential")
    for c in result.candidates:  # one row per disease (MONDO), its entries best first
        matched = ", ".join(m["patient_label"] for m in c.evidence.get("matched", [])[:4])
        prob = "" if c.probability is None else f"{c.probability:.1%}"
        entries = ", ".join(m.id for m in c.members) or c.disease_id
        row = [str(c.rank), c.mondo_id or c.disease_id, escape(c.name), entries]
        row += [f"{c.score:.2f}", prob, escape(matched)]
        if genotyped:
            row.append(escape(str(c.evidence.get("genotype", {}).get("summary", ""))))
        table.add_row(*row)
    console.print(table)
    if any(c.mondo_id for c in result.candidates):
        console.print("[dim]Pages: https://monarchinitiative.org/MONDO:… · omim.org · orpha.net[/]")
    if result.next_phenotypes:
        console.print(
            "[bold]Check next:[/] "
            + "; ".join(f"{q.label} ({q.id})" for q in result.next_phenotypes)
        )
    if result.genes_to_test:
        console.print(
            "[bold]Genes worth testing:[/] "
            + ", ".join(escape(g.symbol) for g in result.genes_to_test)
        )
    console.print(
        f"[dim]{result.predictor} · HPO {result.provenance.knowledge_version} · "
        "supports, does not replace, clinical judgement[/]"
    )
