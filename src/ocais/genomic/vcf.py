"""Read a patient's VCF into gene-level variant calls, with pysam (htslib).

Decision 0017 measured the three maintained readers on a 50,000-variant exome: pysam 0.32 s,
cyvcf2 0.35 s, vcfpy 1.23 s; pysam has no dependencies and can silence htslib, whose warnings
name variant positions (logs must hold no variant).

What is read:

* VCF 4.1–4.3, plain, gzip or BGZF (``.vcf``, ``.vcf.gz``); BCF also works.
* **Assembly**: ``##reference=`` / ``##assembly=`` / the contigs' ``assembly=`` tags (GRCh37,
  hg19, b37, hs37d5, GRCh38, hg38, …), else the declared length of chromosome 1. An assembly
  other than GRCh37 or GRCh38 is refused; an undeclared one is a warning (the gene annotations
  are used as the annotator wrote them).
* **Genotype** of one sample (``GT``): the alternate alleles it carries; two copies =
  homozygous, one copy on a haploid call (``1``: X or Y of a male) = hemizygous. Records the
  sample does not carry, and records whose ``FILTER`` is not ``PASS``/``.``, are skipped.
* **Gene annotations**, whichever the file has, per alternate allele: snpEff ``ANN``
  (``Allele|Annotation|Annotation_Impact|Gene_Name|Gene_ID|…|HGVS.c|HGVS.p``), VEP ``CSQ``
  (fields named by the header's ``Format:``; ``SYMBOL``, ``Consequence``, ``IMPACT``,
  ``HGNC_ID``, ``CLIN_SIG``), ClinVar-style ``GENEINFO`` (``SYMBOL:NCBI_ID|…``) with ``CLNSIG``
  and ``MC``, or a plain ``GENE`` key (symbols separated by ``,``, ``|`` or ``&``). For each
  (allele, gene) the most severe annotation is kept.

Nothing read here is written anywhere: the calls live in memory for one prediction (see
:mod:`ocais.predict.genomic`).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocais.errors import GenomicInputError, InputTooLargeError
from ocais.schemas import Classification, Impact, VariantCall, Zygosity

#: the largest VCF read by default (a whole-genome VCF is bigger: pass an exome, or raise it)
DEFAULT_MAX_VCF_BYTES = 1 << 30

ANNOTATION_KEYS = ("ANN", "CSQ", "GENEINFO", "GENE")

IMPACT_ORDER = {Impact.HIGH: 3, Impact.MODERATE: 2, Impact.LOW: 1, Impact.MODIFIER: 0}

#: Sequence Ontology consequence → impact (snpEff/VEP's classes), for sources that give an
#: effect but no impact (ClinVar ``MC``, phenopackets, a plain ``GENE`` key gives neither).
EFFECT_IMPACT: dict[str, Impact] = {
    "transcript_ablation": Impact.HIGH,
    "splice_acceptor_variant": Impact.HIGH,
    "splice_donor_variant": Impact.HIGH,
    "stop_gained": Impact.HIGH,
    "frameshift_variant": Impact.HIGH,
    "stop_lost": Impact.HIGH,
    "start_lost": Impact.HIGH,
    "exon_loss_variant": Impact.HIGH,
    "nonsense": Impact.HIGH,
    "inframe_insertion": Impact.MODERATE,
    "inframe_deletion": Impact.MODERATE,
    "conservative_inframe_insertion": Impact.MODERATE,
    "conservative_inframe_deletion": Impact.MODERATE,
    "disruptive_inframe_insertion": Impact.MODERATE,
    "disruptive_inframe_deletion": Impact.MODERATE,
    "missense_variant": Impact.MODERATE,
    "protein_altering_variant": Impact.MODERATE,
    "splice_region_variant": Impact.LOW,
    "synonymous_variant": Impact.LOW,
    "stop_retained_variant": Impact.LOW,
    "start_retained_variant": Impact.LOW,
    "initiator_codon_variant": Impact.LOW,
    "5_prime_UTR_variant": Impact.MODIFIER,
    "3_prime_UTR_variant": Impact.MODIFIER,
    "intron_variant": Impact.MODIFIER,
    "upstream_gene_variant": Impact.MODIFIER,
    "downstream_gene_variant": Impact.MODIFIER,
    "intergenic_region": Impact.MODIFIER,
    "intergenic_variant": Impact.MODIFIER,
    "non_coding_transcript_exon_variant": Impact.MODIFIER,
}

#: ClinVar CLNSIG / VEP CLIN_SIG words → class (conflicting or other values → none)
CLINVAR_CLASSES: dict[str, Classification] = {
    "pathogenic": Classification.PATHOGENIC,
    "likely_pathogenic": Classification.LIKELY_PATHOGENIC,
    "pathogenic/likely_pathogenic": Classification.LIKELY_PATHOGENIC,
    "uncertain_significance": Classification.UNCERTAIN,
    "likely_benign": Classification.LIKELY_BENIGN,
    "benign": Classification.BENIGN,
    "benign/likely_benign": Classification.LIKELY_BENIGN,
}

_GRCH37 = re.compile(r"grch37|hg19|\bb37\b|hs37|g1k_v37|human_g1k|grch37|37\.p\d+", re.I)
_GRCH38 = re.compile(r"grch38|hg38|\bb38\b|hs38|gca_000001405\.15|38\.p\d+", re.I)
_OTHER = re.compile(r"ncbi36|hg18|ncbi35|hg17|chm13|t2t|grcm|mm10|mm9", re.I)
_CHR1_LENGTH = {249250621: "GRCh37", 248956422: "GRCh38"}
_GENE_SPLIT = re.compile(r"[,|&;]")

_silenced = False


@dataclass
class VcfCalls:
    """What one sample of one VCF carries, gene by gene (see the module docstring)."""

    sample: str
    assembly: str | None
    variants: list[VariantCall] = field(default_factory=list)
    records: int = 0  # data lines read
    carried: int = 0  # records where the sample carries an alternate allele
    unannotated: int = 0  # carried records without any gene annotation
    filtered: int = 0  # records skipped for their FILTER
    annotation: str | None = None  # the annotation key used (ANN, CSQ, GENEINFO, GENE)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Counts only (no variant), for logs and provenance."""
        return {
            "assembly": self.assembly,
            "records": self.records,
            "carried": self.carried,
            "unannotated": self.unannotated,
            "filtered": self.filtered,
            "annotation": self.annotation,
            "calls": len(self.variants),
            "genes": len({v.gene for v in self.variants}),
        }


def _silence_htslib() -> Any:
    """Import pysam with htslib's messages off (they quote variant positions)."""
    global _silenced
    try:
        import pysam
    except ImportError as exc:  # a core dependency; only a broken install lacks it
        raise GenomicInputError(
            "reading VCFs needs pysam", hint="pip install pysam (a dependency of ocais)"
        ) from exc
    if not _silenced:
        pysam.set_verbosity(0)
        _silenced = True
    return pysam


def _is_bgzf(head: bytes) -> bool:
    return len(head) >= 16 and head[:2] == b"\x1f\x8b" and head[3] & 4 == 4 and head[12:14] == b"BC"


def _open(path: Path, pysam: Any) -> Any:
    with path.open("rb") as handle:
        head = handle.read(18)
    try:
        if head[:2] == b"\x1f\x8b" and not _is_bgzf(head):
            # plain gzip: htslib cannot seek in it by path, but reads it as a stream
            return pysam.VariantFile(gzip.open(path, "rb"))
        return pysam.VariantFile(str(path))
    except (ValueError, OSError) as exc:
        raise GenomicInputError(
            f"{path.name} is not a readable VCF ({type(exc).__name__})",
            hint="give a VCF 4.x file (.vcf or .vcf.gz) as written by a variant caller",
        ) from exc


def declared_assembly(header: Any) -> str | None:
    """GRCh37 / GRCh38 as the header declares it; ``None`` when it does not say."""
    texts = [
        str(record.value)
        for record in header.records
        if record.key in ("reference", "assembly", "genome", "genomeBuild") and record.value
    ]
    for contig in header.contigs.values():
        tags = dict(contig.header_record.items())
        if tags.get("assembly"):
            texts.append(str(tags["assembly"]))
    for text in texts:
        if _GRCH38.search(text):
            return "GRCh38"
        if _GRCH37.search(text):
            return "GRCh37"
        if _OTHER.search(text):
            raise GenomicInputError(
                f"the VCF declares the assembly {text!r}, which OCAIS does not read",
                hint="lift the calls over to GRCh38 (or GRCh37) and annotate them again",
            )
    for name in ("1", "chr1"):
        contig = header.contigs.get(name)
        if contig is not None and contig.length in _CHR1_LENGTH:
            return _CHR1_LENGTH[contig.length]
    return None


def _choose_sample(samples: Sequence[str], sample: str | None, name: str) -> str:
    if sample is not None:
        if sample not in samples:  # names compared without surrounding blanks, as stored
            stripped = [s for s in samples if s.strip() == sample.strip()]
            if len(stripped) == 1:
                return stripped[0]
            raise GenomicInputError(
                f"sample {sample!r} is not in {name}",
                hint=f"the file has {len(samples)} sample column(s); name one of them",
            )
        return sample
    if len(samples) == 1:
        return samples[0]
    if not samples:
        raise GenomicInputError(
            f"{name} has no sample column (no genotypes)",
            hint="give a VCF with FORMAT/GT for the patient (a sites-only VCF says nothing "
            "about the patient)",
        )
    raise GenomicInputError(
        f"{name} has {len(samples)} samples; which one is the patient?",
        hint="name the sample (--sample, or individualToFileIdentifiers in the phenopacket)",
    )


@dataclass
class _Annotation:
    gene: str
    gene_id: str | None
    effect: str | None
    impact: Impact | None
    classification: Classification | None
    hgvs: str | None


def _impact(text: str | None, effect: str | None) -> Impact | None:
    if text:
        try:
            return Impact(text.strip().upper())
        except ValueError:
            pass
    if effect:
        impacts = [EFFECT_IMPACT.get(e) for e in re.split(r"[&,]", effect)]
        known = [i for i in impacts if i is not None]
        if known:
            return max(known, key=IMPACT_ORDER.__getitem__)
    return None


def _classification(text: str | None) -> Classification | None:
    if not text:
        return None
    words = [w.strip().lower() for w in re.split(r"[,&|]", text) if w.strip()]
    classes = [CLINVAR_CLASSES[w] for w in words if w in CLINVAR_CLASSES]
    if not classes:
        return None
    order = list(Classification)
    return min(classes, key=order.index)  # the most pathogenic statement


def _values(info: Any, key: str) -> list[str]:
    try:
        value = info.get(key)
    except (ValueError, KeyError):
        return []
    if value is None:
        return []
    if isinstance(value, (tuple, list)):
        return [str(v) for v in value if v is not None]
    return [str(value)]


class _Annotator:
    """Per-allele gene annotations of one file's records."""

    def __init__(self, header: Any) -> None:
        info = header.info
        self.key = next((k for k in ANNOTATION_KEYS if k in info), None)
        self.csq_fields: dict[str, int] = {}
        if self.key == "CSQ":
            description = str(info["CSQ"].description or "")
            _, _, spec = description.partition("Format:")
            names = [n.strip().strip("\"' ") for n in spec.split("|")]
            self.csq_fields = {n: i for i, n in enumerate(names) if n}
            if "SYMBOL" not in self.csq_fields:
                raise GenomicInputError(
                    "the VCF's CSQ header names no SYMBOL field",
                    hint="run VEP with --symbol (and --everything for impacts and ClinVar)",
                )

    def annotations(self, record: Any, allele: str, allele_number: int) -> list[_Annotation]:
        info = record.info
        # the first annotation the record has (undeclared keys too: htslib reads them as
        # strings); a CSQ is readable only with its header's field list
        key = next(
            (k for k in ANNOTATION_KEYS if k in info and (k != "CSQ" or self.csq_fields)), None
        )
        if key == "ANN":
            return self._ann(_values(info, "ANN"), allele)
        if key == "CSQ":
            return self._csq(_values(info, "CSQ"), allele, allele_number, len(record.alts or ()))
        if key == "GENEINFO":
            classification = _classification(",".join(_values(info, "CLNSIG")))
            effects = [part.split("|")[-1] for part in _values(info, "MC")]
            effect = "&".join(effects) or None
            out = []
            for item in "|".join(_values(info, "GENEINFO")).split("|"):
                symbol, _, gene_id = item.partition(":")
                if symbol:
                    out.append(
                        _Annotation(
                            gene=symbol,
                            gene_id=f"NCBIGene:{gene_id}" if gene_id.isdigit() else None,
                            effect=effect,
                            impact=_impact(None, effect),
                            classification=classification,
                            hgvs=None,
                        )
                    )
            return out
        if key == "GENE":
            symbols = {s.strip() for v in _values(info, "GENE") for s in _GENE_SPLIT.split(v)}
            return [_Annotation(s, None, None, None, None, None) for s in sorted(symbols) if s]
        return []

    @staticmethod
    def _ann(entries: list[str], allele: str) -> list[_Annotation]:
        parsed = [entry.split("|") for entry in entries]
        parsed = [p for p in parsed if len(p) >= 4 and p[3]]
        mine = [p for p in parsed if p[0] == allele] or parsed
        out = []
        for p in mine:
            hgvs = " ".join(
                x for x in (p[9] if len(p) > 9 else "", p[10] if len(p) > 10 else "") if x
            )
            gene_id = p[4] if len(p) > 4 and p[4] else None
            out.append(
                _Annotation(
                    gene=p[3],
                    gene_id=f"NCBIGene:{gene_id}" if gene_id and gene_id.isdigit() else None,
                    effect=p[1] or None,
                    impact=_impact(p[2], p[1]),
                    classification=None,
                    hgvs=hgvs or None,
                )
            )
        return out

    def _csq(
        self, entries: list[str], allele: str, allele_number: int, n_alts: int
    ) -> list[_Annotation]:
        f = self.csq_fields

        def get(parts: list[str], name: str) -> str:
            i = f.get(name)
            return parts[i] if i is not None and i < len(parts) else ""

        parsed = [entry.split("|") for entry in entries]
        parsed = [p for p in parsed if get(p, "SYMBOL")]
        if "ALLELE_NUM" in f:
            mine = [p for p in parsed if get(p, "ALLELE_NUM") == str(allele_number)]
        elif n_alts > 1:  # VEP trims indel alleles; match what can be matched
            mine = [p for p in parsed if get(p, "Allele") in (allele, allele[1:] or "-")]
        else:
            mine = parsed
        out = []
        for p in mine or parsed:
            effect = get(p, "Consequence") or None
            hgnc = get(p, "HGNC_ID")
            out.append(
                _Annotation(
                    gene=get(p, "SYMBOL"),
                    gene_id=(hgnc if hgnc.startswith("HGNC:") else f"HGNC:{hgnc}")
                    if hgnc
                    else None,
                    effect=effect,
                    impact=_impact(get(p, "IMPACT"), effect),
                    classification=_classification(get(p, "CLIN_SIG")),
                    hgvs=" ".join(x for x in (get(p, "HGVSc"), get(p, "HGVSp")) if x) or None,
                )
            )
        return out


def _best_per_gene(annotations: list[_Annotation]) -> list[_Annotation]:
    best: dict[str, _Annotation] = {}
    for a in annotations:
        kept = best.get(a.gene)
        rank = IMPACT_ORDER.get(a.impact, -1) if a.impact else -1
        if kept is None or rank > (IMPACT_ORDER.get(kept.impact, -1) if kept.impact else -1):
            best[a.gene] = a
    return list(best.values())


def _short(sequence: str, keep: int = 12) -> str:
    """A long allele shortened for display: ``GAAACAGGTTCA…(45 bp)``."""
    return sequence if len(sequence) <= keep + 8 else f"{sequence[:keep]}…({len(sequence)} bp)"


def _carried(genotype: Sequence[int | None]) -> Iterator[tuple[int, Zygosity]]:
    """(alternate allele number, zygosity) for each alternate allele in a GT."""
    called = [g for g in genotype if g is not None]
    for allele in sorted({g for g in called if g > 0}):
        copies = called.count(allele)
        if len(genotype) == 1:
            yield allele, Zygosity.HEMIZYGOUS
        elif copies >= 2 and copies == len(called):
            yield allele, Zygosity.HOMOZYGOUS
        else:
            yield allele, Zygosity.HETEROZYGOUS


def read_vcf(
    path: Path,
    *,
    sample: str | None = None,
    max_bytes: int = DEFAULT_MAX_VCF_BYTES,
    keep_impacts: frozenset[Impact] = frozenset({Impact.HIGH, Impact.MODERATE, Impact.LOW}),
) -> VcfCalls:
    """The gene-level calls of ``sample`` (the only sample when ``None``) in the VCF at ``path``.

    Calls whose impact is not in ``keep_impacts`` (MODIFIER: intronic, UTR, intergenic) are left
    out unless a ClinVar/ACMG class says pathogenic or likely pathogenic, or the annotation gives
    no impact at all (a plain ``GENE`` key). Raises :class:`GenomicInputError` (unreadable, wrong
    assembly, no annotations, unknown sample) or :class:`InputTooLargeError`.
    """
    if not path.is_file():
        raise GenomicInputError(f"VCF {path} does not exist", hint="check the path or the URI")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputTooLargeError(
            f"{path.name} is {size / 1e6:.0f} MB, over the {max_bytes / 1e6:.0f} MB limit",
            hint="pass an exome or a region-filtered VCF (bcftools view -R), or build the "
            "genomic predictor with a larger max_vcf_mb",
        )
    pysam = _silence_htslib()
    vcf = _open(path, pysam)
    try:
        header = vcf.header
        chosen = _choose_sample(list(header.samples), sample, path.name)
        result = VcfCalls(sample=chosen, assembly=declared_assembly(header))
        if result.assembly is None:
            result.warnings.append(
                f"{path.name} does not declare its assembly (GRCh37 or GRCh38): its gene "
                "annotations were used as written"
            )
        annotator = _Annotator(header)
        result.annotation = annotator.key
        ann_tags = (
            tuple(f"|{impact.value}|" for impact in keep_impacts)
            if annotator.key == "ANN"
            else None
        )
        classified = {Classification.PATHOGENIC, Classification.LIKELY_PATHOGENIC}
        try:
            column = list(header.samples).index(chosen)
            for record in vcf:
                result.records += 1
                genotype = record.samples[column]["GT"]
                if not genotype or not any(genotype):  # no call, or reference only
                    continue
                carried = list(_carried(genotype))
                if not carried:
                    continue
                if len(record.filter) and list(record.filter.keys()) != ["PASS"]:
                    result.filtered += 1
                    continue
                result.carried += 1
                if ann_tags is not None and "ANN" in record.info:
                    # snpEff ANN carries no class: no kept impact anywhere → nothing to keep
                    raw = _values(record.info, "ANN")
                    if raw and not any(tag in entry for entry in raw for tag in ann_tags):
                        continue
                alts = record.alts or ()
                annotated = False
                for allele_number, zygosity in carried:
                    if allele_number > len(alts):
                        continue
                    allele = alts[allele_number - 1]
                    found = annotator.annotations(record, allele, allele_number)
                    annotated = annotated or bool(found)
                    for a in _best_per_gene(found):
                        if (
                            a.impact is not None
                            and a.impact not in keep_impacts
                            and a.classification not in classified
                        ):
                            continue
                        position = (
                            f"{record.chrom}:{record.pos} {_short(record.ref)}>{_short(allele)}"
                        )
                        shown = f"{position} {a.hgvs}" if a.hgvs else position
                        result.variants.append(
                            VariantCall.model_construct(  # typed values built here
                                gene=a.gene[:100],
                                gene_id=a.gene_id[:100] if a.gene_id else None,
                                variant=shown if len(shown) <= 500 else shown[:499] + "…",
                                effect=a.effect[:200] if a.effect else None,
                                impact=a.impact,
                                classification=a.classification,
                                zygosity=zygosity,
                            )
                        )
                if not annotated:
                    result.unannotated += 1
        except (ValueError, OSError) as exc:
            raise GenomicInputError(
                f"{path.name} could not be read to the end after {result.records} records "
                f"({type(exc).__name__})",
                hint="the file may be truncated or malformed; check it with bcftools view",
            ) from exc
    finally:
        vcf.close()
    if result.carried and result.unannotated == result.carried:
        raise GenomicInputError(
            f"{path.name} has no gene annotation (no ANN, CSQ, GENEINFO or GENE key)",
            hint="annotate it with snpEff (ANN) or VEP (CSQ) first",
        )
    if result.unannotated:
        result.warnings.append(
            f"{result.unannotated} of the {result.carried} variants the patient carries in "
            f"{path.name} had no gene annotation and were not used"
        )
    return result
