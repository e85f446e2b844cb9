"""Small VCFs written in code, for the reader and predictor tests."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path

ANN_HEADER = (
    "##INFO=<ID=ANN,Number=.,Type=String,Description=\"Functional annotations: 'Allele | "
    "Annotation | Annotation_Impact | Gene_Name | Gene_ID | Feature_Type | Feature_ID | "
    "Transcript_BioType | Rank | HGVS.c | HGVS.p | cDNA.pos / cDNA.length | CDS.pos / "
    "CDS.length | AA.pos / AA.length | Distance | ERRORS / WARNINGS / INFO' \">"
)
CSQ_HEADER = (
    '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl '
    'VEP. Format: Allele|Consequence|IMPACT|SYMBOL|Gene|HGNC_ID|CLIN_SIG|HGVSc|HGVSp">'
)


def ann(alt: str, effect: str, impact: str, gene: str, hgvs_c: str = "", hgvs_p: str = "") -> str:
    """One snpEff ANN entry (16 fields)."""
    fields = [
        alt,
        effect,
        impact,
        gene,
        gene,
        "transcript",
        "NM_1.1",
        "protein_coding",
        "1/2",
        hgvs_c,
        hgvs_p,
        "",
        "",
        "",
        "",
        "",
    ]
    return "|".join(fields)


def write_vcf(
    path: Path,
    records: Sequence[tuple[str, int, str, str, str, Sequence[str]]],
    *,
    samples: Sequence[str] = ("P1",),
    reference: str | None = "GRCh38",
    info_headers: Sequence[str] = (ANN_HEADER,),
    compress: str | None = None,
    contigs: Sequence[tuple[str, int]] = (),
) -> Path:
    """``records``: (chrom, pos, ref, alt, info, genotypes per sample). ``compress``: None,
    ``"gzip"`` (plain) or ``"bgzf"``."""
    lines = ["##fileformat=VCFv4.2"]
    if reference:
        lines.append(f"##reference={reference}")
    chroms = dict.fromkeys(r[0] for r in records)
    for name, length in contigs:
        lines.append(f"##contig=<ID={name},length={length}>")
    lines += [f"##contig=<ID={c}>" for c in chroms if c not in dict(contigs)]
    lines += ['##FILTER=<ID=LowQual,Description="Low quality">', *info_headers]
    lines.append('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
    columns = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    lines.append("\t".join(columns + (["FORMAT", *samples] if samples else [])))
    for chrom, pos, ref, alt, info, genotypes in records:
        filt = "LowQual" if info.startswith("LOWQUAL;") else "PASS"
        info = info.removeprefix("LOWQUAL;")
        row = [chrom, str(pos), ".", ref, alt, ".", filt, info or "."]
        lines.append("\t".join(row + (["GT", *genotypes] if samples else [])))
    text = "\n".join(lines) + "\n"
    if compress is None:
        path.write_text(text, encoding="utf-8")
    elif compress == "gzip":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        import pysam

        plain = path.with_suffix(".tmp")
        plain.write_text(text, encoding="utf-8")
        pysam.tabix_compress(str(plain), str(path), force=True)
        plain.unlink()
    return path
