"""Simulate "phenopackets with VCFs beside them" from a phenopacket collection, seeded, to
benchmark a genotype-aware disease ranker.

Input: GA4GH Phenopacket v2 JSON — a folder (``*.json`` at any depth), one ``.json`` file, or an
archive (``.tar.gz``, ``.tgz``, ``.tar``, ``.zip``) of them, such as phenopacket-store's
``<cohort>/phenopackets/<id>.json``. Each packet's variants are the ``variationDescriptor`` of
every ``interpretations[].diagnosis.genomicInterpretations[].variantInterpretation``.

Output (``out``)::

    out/ocais-simulation.json                 parameters and counts (SimulationSummary)
    out/<cohort>/<packet id>.json       the packet without its genomicInterpretations …
    out/<cohort>/<packet id>.vcf.gz     … and its variants, with decoys and background, here

``<cohort>`` is the path component before ``phenopackets`` (phenopacket-store's layout), else
``no-cohort``; names are reduced to ``[A-Za-z0-9._-]``.

**The rewritten packet** is the source packet with every ``genomicInterpretations`` list
removed (each interpretation keeps its ``diagnosis.disease`` — the benchmark's truth — and its
``progressStatus``) and with a ``files`` entry for the VCF (earlier VCF entries are dropped)::

    {"uri": "file://<packet id>.vcf.gz",            # relative to the packet's own folder
     "individualToFileIdentifiers": {"<subject.id>": "<sample>"},
     "fileAttributes": {"fileFormat": "vcf", "genomeAssembly": "GRCh38"}}

The sample is the subject's id (tabs and line breaks replaced by ``_``), else ``SAMPLE``
(and then ``individualToFileIdentifiers`` is left out). Packets that do not parse as a
Phenopacket v2 are skipped (``invalid_phenopacket``), so every written packet parses.

**The VCF** (VCFv4.2, BGZF, one sample; every GRCh38 contig declared with its length) holds,
sorted by chromosome (chr1–chr22, chrX, chrY, chrM) and position, one record per distinct
``CHROM/POS/REF/ALT`` (``ID`` and ``QUAL`` ``.``, ``FILTER`` ``PASS``), and one snpEff ``ANN``
entry per record::

    ALT|effect|impact|SYMBOL|SYMBOL|transcript|<transcript>|<biotype>|.|<c.>|<p.>||||.|

``<transcript>`` is the accession before ``:`` in ``hgvs.c``; ``<c.>``/``<p.>`` are the parts
after it (``.`` when absent); the biotype is ``protein_coding`` for ``c.``, ``non_coding`` for
``n.``, else ``.``. Characters a VCF INFO value cannot hold are written as ``%XX``
(``p.(Gln12=)`` as ``p.(Gln12Gln)``, snpEff's way).

Genotype (``GT``) from ``allelicState``: heterozygous (GENO:0000135) ``0/1``, homozygous
(GENO:0000136) ``1/1``, hemizygous (GENO:0000134) ``1`` (a haploid call), homoplasmic
(GENO:0000602) ``1``, anything else ``0/1``.

**Effect and impact** (:func:`effect_from_hgvs`): ``molecularConsequences`` labels that snpEff
knows win (joined with ``&``, the most severe impact); otherwise the protein change
(``hgvs.p``), when it is usable:

* ``=`` (``p.(=)``, ``p.(Gln12=)``) or the same residue (``p.Gln12Gln``) →
  synonymous_variant LOW
* ``fs`` → frameshift_variant HIGH
* ``Met1``/``M1`` changed → start_lost HIGH
* the stop codon changed (``Ter12…``, ``*12…``) → stop_lost HIGH
* a new stop (``Ter``/``*``) → stop_gained HIGH
* ``dup``/``ins`` → conservative_inframe_insertion MODERATE; ``del``/``delins`` →
  conservative_inframe_deletion MODERATE
* a substitution (``Arg12Trp``, ``R12W``) → missense_variant MODERATE

Unusable protein changes (absent, ``p.?``, ``p.0``, anything else) fall to the cDNA change
(``hgvs.c``, also ``n.``): an intronic offset of ±1/±2 — or a range that spans the exon
boundary there — gives splice_donor_variant (``+``) / splice_acceptor_variant (``-``) HIGH;
an offset of 3–10 gives ``splice_region_variant&intron_variant`` LOW; deeper (all positions
intronic) intron_variant MODIFIER; a range from ``c.-N`` into the coding sequence start_lost
HIGH, from it into ``c.*N`` stop_lost HIGH; ``c.-N`` 5_prime_UTR_variant MODIFIER; ``c.*N``
3_prime_UTR_variant MODIFIER; a coding exonic ``c.`` change whose VCF alleles differ in length
frameshift_variant HIGH (not a multiple of 3) or conservative_inframe_insertion/deletion
MODERATE (a multiple of 3); anything else (a coding substitution with no protein change,
``n.`` and ``m.`` changes, no HGVS) ``sequence_variant`` MODERATE.

**Causal variants**: all the packet's variants with a usable ``vcfRecord`` (GRCh38/hg38,
``chrN``/``N``/``MT`` chromosomes normalised to ``chrN``/``chrM``, bases ``ACGTN``, a position
inside the contig). Variants without one (structural variants) cannot be written and are
counted; so are those on another assembly or malformed. A variant listed twice is written
once (the first).

**Decoys** (``decoys``, default 100): drawn, seeded and without replacement, from the distinct
causal variants of the *other* packets (every packet read, also those beyond ``limit``), keeping
their own annotation and allelic state (those of the first packet, by id, that has the
variant). A decoy's gene is none of this packet's genes (symbols compared case-insensitively,
genes of variants without a ``vcfRecord`` and gene-only interpretations included); it is not
seen in any packet of this packet's cohort (packets with no cohort are each their own cohort);
a variant with no gene symbol is never a decoy. When fewer are available, all are used and the
packet is counted as short.

**Background** (``background``, default 0: for speed tests; 50,000 gives an exome-sized VCF):
random variants on chr1–chr22 and chrX (chosen in proportion to their length) at positions that
collide with no other record, random ``REF``/``ALT`` bases (not the reference genome's), in a
gene drawn from all the gene symbols of the source packets except this packet's own genes (the
gene is not the one at that position), with an exome-like mix of effects: intron_variant
MODIFIER 45%, synonymous_variant LOW 25%, missense_variant MODERATE 20%, 3_prime_UTR_variant
MODIFIER 5%, 5_prime_UTR_variant MODIFIER 3%, splice_region_variant LOW 2%; ``GT`` ``0/1`` 70%,
``1/1`` 30%. Their ``HGVS.c``/``HGVS.p``/transcript are ``.``.

**Seeded**: every packet has its own ``random.Random(f"{seed}:{cohort}/{packet id}")``, and
packets, pools and genes are iterated in sorted order, so the same source and options give
byte-identical packets and VCFs (BGZF's gzip headers carry no time), whatever the listing order
of the files. ``limit`` keeps the first ``K`` packets, by id, that have a variant to write.

Nothing here logs a variant; only counts leave this module.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import json
import random
import re
import shutil
import tarfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel

from ocais import __version__
from ocais.errors import ConfigError

__all__ = [
    "ANN_HEADER",
    "ASSEMBLY",
    "BACKGROUND_EFFECTS",
    "CONTIGS",
    "SUMMARY_FILE",
    "SimulationSummary",
    "effect_from_hgvs",
    "simulate_set",
]

ASSEMBLY = "GRCh38"
SUMMARY_FILE = "ocais-simulation.json"
NO_COHORT = "no-cohort"
DEFAULT_SAMPLE = "SAMPLE"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")

#: GRCh38 primary contigs, in the order records are sorted, with their lengths
CONTIGS: dict[str, int] = {
    "chr1": 248956422,
    "chr2": 242193529,
    "chr3": 198295559,
    "chr4": 190214555,
    "chr5": 181538259,
    "chr6": 170805979,
    "chr7": 159345973,
    "chr8": 145138636,
    "chr9": 138394717,
    "chr10": 133797422,
    "chr11": 135086622,
    "chr12": 133275309,
    "chr13": 114364328,
    "chr14": 107043718,
    "chr15": 101991189,
    "chr16": 90338345,
    "chr17": 83257441,
    "chr18": 80373285,
    "chr19": 58617616,
    "chr20": 64444167,
    "chr21": 46709983,
    "chr22": 50818468,
    "chrX": 156040895,
    "chrY": 57227415,
    "chrM": 16569,
}
_CONTIG_ORDER = {name: index for index, name in enumerate(CONTIGS)}
_BACKGROUND_CONTIGS = [name for name in CONTIGS if name not in ("chrY", "chrM")]
_BACKGROUND_CUM_WEIGHTS = list(itertools.accumulate(CONTIGS[c] for c in _BACKGROUND_CONTIGS))

#: snpEff's own ANN header line
ANN_HEADER = (
    "##INFO=<ID=ANN,Number=.,Type=String,Description=\"Functional annotations: 'Allele | "
    "Annotation | Annotation_Impact | Gene_Name | Gene_ID | Feature_Type | Feature_ID | "
    "Transcript_BioType | Rank | HGVS.c | HGVS.p | cDNA.pos / cDNA.length | CDS.pos / CDS.length"
    " | AA.pos / AA.length | Distance | ERRORS / WARNINGS / INFO'\">"
)

#: (effect, impact, weight) of background variants: an exome-like mix
BACKGROUND_EFFECTS: tuple[tuple[str, str, float], ...] = (
    ("intron_variant", "MODIFIER", 0.45),
    ("synonymous_variant", "LOW", 0.25),
    ("missense_variant", "MODERATE", 0.20),
    ("3_prime_UTR_variant", "MODIFIER", 0.05),
    ("5_prime_UTR_variant", "MODIFIER", 0.03),
    ("splice_region_variant", "LOW", 0.02),
)
_BACKGROUND_CUM = list(itertools.accumulate(w for _, _, w in BACKGROUND_EFFECTS))
_BACKGROUND_HOM = 0.30

#: allelicState → GT; anything else is ``0/1``
GENOTYPES = {
    "GENO:0000135": "0/1",  # heterozygous
    "GENO:0000136": "1/1",  # homozygous
    "GENO:0000134": "1",  # hemizygous: a haploid call
    "GENO:0000602": "1",  # homoplasmic
    "GENO:0000603": "0/1",  # heteroplasmic
}
DEFAULT_GT = "0/1"

#: Sequence Ontology labels snpEff writes, with their impact (for ``molecularConsequences``)
EFFECT_IMPACT: dict[str, str] = {
    "transcript_ablation": "HIGH",
    "exon_loss_variant": "HIGH",
    "splice_acceptor_variant": "HIGH",
    "splice_donor_variant": "HIGH",
    "stop_gained": "HIGH",
    "frameshift_variant": "HIGH",
    "stop_lost": "HIGH",
    "start_lost": "HIGH",
    "inframe_insertion": "MODERATE",
    "inframe_deletion": "MODERATE",
    "conservative_inframe_insertion": "MODERATE",
    "conservative_inframe_deletion": "MODERATE",
    "disruptive_inframe_insertion": "MODERATE",
    "disruptive_inframe_deletion": "MODERATE",
    "missense_variant": "MODERATE",
    "protein_altering_variant": "MODERATE",
    "sequence_variant": "MODERATE",
    "splice_region_variant": "LOW",
    "synonymous_variant": "LOW",
    "stop_retained_variant": "LOW",
    "start_retained_variant": "LOW",
    "5_prime_UTR_variant": "MODIFIER",
    "3_prime_UTR_variant": "MODIFIER",
    "intron_variant": "MODIFIER",
    "non_coding_transcript_exon_variant": "MODIFIER",
    "upstream_gene_variant": "MODIFIER",
    "downstream_gene_variant": "MODIFIER",
    "intergenic_region": "MODIFIER",
}
_IMPACT_RANK = {"HIGH": 3, "MODERATE": 2, "LOW": 1, "MODIFIER": 0}

_HG38 = {"hg38", "grch38", "grch38.p13", "grch38.p14", "hg38.p13", "hg38.p14"}
_CHROMS = {str(n) for n in range(1, 23)} | {"X", "Y"}
_BASES = re.compile(r"[ACGTN]+")
_BASES_ALT = {b: [o for o in "ACGT" if o != b] for b in "ACGT"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_UNSAFE_INFO = re.compile(r"[%;=,|\s]")
_SYNONYMOUS_SHORT = re.compile(r"((?:[A-Z][a-z]{2})|[A-Z*])(\d+)=")
_SUBSTITUTION = re.compile(r"(?:[A-Z][a-z]{2}|[A-Z*])\d+(?:[A-Z][a-z]{2}|[A-Z*])")
_SAME_RESIDUE = re.compile(r"([A-Z][a-z]{2}|[A-Z*])\d+([A-Z][a-z]{2}|[A-Z*])")
_START = re.compile(r"(?:Met|M)1(?!\d)")
_POSITION = re.compile(r"\(?([-*]?)(\d+)(?:([+-])(\d+))?\)?")
_C_POSITIONS = re.compile(r"[cn]\.\(?([-*+\d_?()]+)")

Progress = Callable[[int, int], None]


class SimulationSummary(BaseModel):
    """What ``ocais-simulation.json`` holds: the parameters and the counts of one run."""

    source: str
    out: str
    seed: int
    decoys: int
    background: int
    limit: int | None
    assembly: str = ASSEMBLY
    ocais_version: str = __version__
    created: str
    packets_read: int
    """Packets that parsed (``unreadable`` files are not packets)."""
    packets_written: int
    packets_skipped: dict[str, int]
    """Reason → packets: unreadable, invalid_phenopacket, no_vcf_record, duplicate_id,
    beyond_limit."""
    variants_written: dict[str, int]
    """causal, decoy, background."""
    variants_not_written: dict[str, int]
    """Variants of the packets read that no VCF holds as causal: no_vcf_record (structural
    variants), other_assembly, invalid_vcf_record, duplicate (listed twice in a packet)."""
    decoy_pool: int
    """Distinct causal variants with a gene symbol (the decoys' source)."""
    packets_short_of_decoys: int
    """Written packets that got fewer decoys than asked for."""


@dataclass(frozen=True, slots=True)
class _Variant:
    chrom: str
    pos: int
    ref: str
    alt: str
    gene: str
    gt: str
    effect: str
    impact: str
    transcript: str = "."
    biotype: str = "."
    hgvs_c: str = "."
    hgvs_p: str = "."

    @property
    def key(self) -> tuple[int, int, str, str]:
        return (_CONTIG_ORDER[self.chrom], self.pos, self.ref, self.alt)

    def line(self) -> str:
        fields = [
            self.alt,
            self.effect,
            self.impact,
            self.gene or ".",
            self.gene or ".",
            "transcript",
            self.transcript,
            self.biotype,
            ".",
            self.hgvs_c,
            self.hgvs_p,
            "",
            "",
            "",
            ".",
            "",
        ]
        ann = "|".join(_info_safe(f) for f in fields)
        columns = (self.chrom, str(self.pos), ".", self.ref, self.alt, ".", "PASS", f"ANN={ann}")
        return "\t".join((*columns, "GT", self.gt))


@dataclass
class _Packet:
    member: str
    cohort: str
    packet_id: str
    data: dict[str, Any]
    variants: list[_Variant]
    genes: frozenset[str]
    not_written: Counter[str]

    @property
    def rng_key(self) -> str:
        return f"{self.cohort}/{self.packet_id}"

    @property
    def sort_key(self) -> tuple[str, str, str]:
        return (self.packet_id, self.cohort, self.member)


# --- effect rules ----------------------------------------------------------------------------


def _info_safe(value: str) -> str:
    """An ANN field as a VCF INFO value may hold it (``%XX`` for ``%;=,|`` and whitespace)."""
    return _UNSAFE_INFO.sub(lambda m: f"%{ord(m[0]):02X}", value)


def _protein_effect(hgvs_p: str) -> tuple[str, str] | None:
    body = hgvs_p.split(":", 1)[-1].strip()
    if not body.startswith("p."):
        return None
    body = body[2:]
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1]
    if not body or body in ("?", "0"):
        return None
    same = _SAME_RESIDUE.fullmatch(body)
    if body.endswith("=") or (same is not None and same[1] == same[2]):
        return "synonymous_variant", "LOW"
    if "fs" in body:
        return "frameshift_variant", "HIGH"
    if _START.match(body):
        return "start_lost", "HIGH"
    if body.startswith(("Ter", "*")):
        return "stop_lost", "HIGH"
    if "Ter" in body or "*" in body or re.fullmatch(r"[A-Z]\d+X", body):
        return "stop_gained", "HIGH"
    if "delins" not in body and ("dup" in body or "ins" in body):
        return "conservative_inframe_insertion", "MODERATE"
    if "del" in body:
        return "conservative_inframe_deletion", "MODERATE"
    if _SUBSTITUTION.fullmatch(body):
        return "missense_variant", "MODERATE"
    return None


def _cdna_effect(hgvs_c: str, length_change: int) -> tuple[str, str] | None:
    change = hgvs_c.split(":", 1)[-1].strip()
    match = _C_POSITIONS.match(change)
    if match is None:
        return None
    positions: list[tuple[tuple[str, int], int | None]] = []
    for part in match[1].split("_"):
        pos = _POSITION.fullmatch(part)
        if pos is None:
            continue
        offset = None if pos[3] is None else int(pos[4]) * (1 if pos[3] == "+" else -1)
        positions.append(((pos[1], int(pos[2])), offset))
    if not positions:
        return None
    offsets = [o for _, o in positions if o is not None]
    donor = any(o in (1, 2) for o in offsets)
    acceptor = any(o in (-1, -2) for o in offsets)
    if len(positions) == 2:  # a range that crosses an exon boundary takes its ±1 base with it
        (base1, off1), (base2, off2) = positions
        if off1 is not None and off1 < 0 and (base2 != base1 or off2 is None or off2 >= 0):
            acceptor = True
        if off2 is not None and off2 > 0 and (base1 != base2 or off1 is None or off1 <= 0):
            donor = True
    if donor:
        return "splice_donor_variant", "HIGH"
    if acceptor:
        return "splice_acceptor_variant", "HIGH"
    if any(3 <= abs(o) <= 10 for o in offsets):
        return "splice_region_variant&intron_variant", "LOW"
    if offsets and len(offsets) == len(positions):
        return "intron_variant", "MODIFIER"
    signs = [sign for (sign, _), _ in positions]
    if signs == ["-", ""]:  # from the 5' UTR into the coding sequence: the start codon
        return "start_lost", "HIGH"
    if signs == ["", "*"]:  # from the coding sequence into the 3' UTR: the stop codon
        return "stop_lost", "HIGH"
    sign = signs[0]
    if sign == "-":
        return "5_prime_UTR_variant", "MODIFIER"
    if sign == "*":
        return "3_prime_UTR_variant", "MODIFIER"
    coding = change.startswith("c.") and all(s == "" for s in signs)
    if coding and length_change % 3:
        return "frameshift_variant", "HIGH"
    if coding and length_change:
        if length_change > 0:
            return "conservative_inframe_insertion", "MODERATE"
        return "conservative_inframe_deletion", "MODERATE"
    return None


def effect_from_hgvs(
    hgvs_c: str | None,
    hgvs_p: str | None,
    consequences: Sequence[str] = (),
    *,
    length_change: int = 0,
) -> tuple[str, str]:
    """(snpEff effect, impact) of a variant from its ``molecularConsequences`` labels, its
    protein change, else its cDNA change and ``length_change`` (``len(ALT) - len(REF)``) — the
    rules are in the module's docstring; ``sequence_variant`` MODERATE when none of them says."""
    known = [c for c in consequences if c in EFFECT_IMPACT]
    if known:
        impact = max((EFFECT_IMPACT[c] for c in known), key=_IMPACT_RANK.__getitem__)
        return "&".join(dict.fromkeys(known)), impact
    if hgvs_p and (effect := _protein_effect(hgvs_p)) is not None:
        return effect
    if hgvs_c and (effect := _cdna_effect(hgvs_c, length_change)) is not None:
        return effect
    return "sequence_variant", "MODERATE"


# --- reading ---------------------------------------------------------------------------------


def _is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _cohort(parts: Sequence[str]) -> str:
    """phenopacket-store layout: ``.../<cohort>/phenopackets/<file>.json``."""
    if len(parts) >= 3 and parts[-2] == "phenopackets":
        return parts[-3]
    return NO_COHORT


def _entries(source: Path) -> Iterator[tuple[str, tuple[str, ...], bytes]]:
    """(member name, path parts, bytes) of every ``.json`` in ``source``, sorted by name."""
    if not source.exists():
        raise ConfigError(
            f"{source} does not exist", hint="pass a phenopacket folder, .json or archive"
        )
    if source.is_dir():
        files = sorted(
            (f.relative_to(source).as_posix(), f) for f in source.rglob("*.json") if f.is_file()
        )
        for name, file in files:
            yield name, file.resolve().parts, file.read_bytes()
    elif source.name.lower().endswith(".zip"):
        with zipfile.ZipFile(source) as archive:
            infos = sorted(
                (i for i in archive.infolist() if not i.is_dir() and i.filename.endswith(".json")),
                key=lambda i: i.filename,
            )
            for info in infos:
                yield info.filename, PurePosixPath(info.filename).parts, archive.read(info)
    elif _is_archive(source):
        found: list[tuple[str, bytes]] = []
        with tarfile.open(source, "r:*") as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".json"):
                    handle = tar.extractfile(member)
                    if handle is not None:
                        found.append((member.name, handle.read()))
        for name, data in sorted(found, key=lambda item: item[0]):
            yield name, PurePosixPath(name).parts, data
    elif source.suffix.lower() == ".json":
        yield source.name, source.resolve().parts, source.read_bytes()
    else:
        raise ConfigError(
            f"{source} is not a phenopacket source",
            hint="pass a folder, a .json file, or a .tar.gz/.tgz/.tar/.zip archive of them",
        )


_PACKET_KEYS = ("subject", "phenotypicFeatures", "interpretations", "diseases", "metaData")


def _looks_like_packet(data: Any) -> bool:
    """A JSON object with an id and one of a packet's own top-level fields."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("id"), str)
        and data["id"].strip() != ""
        and any(key in data for key in _PACKET_KEYS)
    )


def _is_valid_packet(data: dict[str, Any]) -> bool:
    from google.protobuf.json_format import ParseDict, ParseError
    from phenopackets import Phenopacket

    try:
        ParseDict(data, Phenopacket())
    except (ParseError, ValueError, TypeError, AttributeError):
        return False
    return True


def _genomic_interpretations(packet: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for interpretation in packet.get("interpretations") or []:
        diagnosis = interpretation.get("diagnosis") or {}
        for gi in diagnosis.get("genomicInterpretations") or []:
            if isinstance(gi, dict):
                yield gi


def _chrom(value: Any) -> str | None:
    name = str(value).strip()
    if name.lower().startswith("chr"):
        name = name[3:]
    if name.upper() in ("M", "MT"):
        return "chrM"
    name = name.upper() if name in ("x", "y") else name
    return f"chr{name}" if name in _CHROMS else None


def _expressions(descriptor: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for expression in descriptor.get("expressions") or []:
        syntax, value = expression.get("syntax"), expression.get("value")
        if isinstance(syntax, str) and isinstance(value, str) and syntax not in found:
            found[syntax] = value
    return found


def _variant(descriptor: dict[str, Any], not_written: Counter[str]) -> _Variant | None:
    """The descriptor's VCF record with its annotation, or None (counted in ``not_written``)."""
    record = descriptor.get("vcfRecord")
    if not isinstance(record, dict):
        not_written["no_vcf_record"] += 1
        return None
    assembly = str(record.get("genomeAssembly", "")).strip().lower()
    if assembly and assembly not in _HG38:
        not_written["other_assembly"] += 1
        return None
    chrom = _chrom(record.get("chrom", ""))
    ref = str(record.get("ref", "")).upper()
    alt = str(record.get("alt", "")).upper()
    try:
        pos = int(record.get("pos", 0))
    except (TypeError, ValueError):
        pos = 0
    if (
        chrom is None
        or not 0 < pos <= CONTIGS[chrom]
        or not _BASES.fullmatch(ref)
        or not _BASES.fullmatch(alt)
        or ref == alt
    ):
        not_written["invalid_vcf_record"] += 1
        return None
    expressions = _expressions(descriptor)
    hgvs_c, hgvs_p = expressions.get("hgvs.c"), expressions.get("hgvs.p")
    consequences = [str(c.get("label", "")) for c in descriptor.get("molecularConsequences") or []]
    effect, impact = effect_from_hgvs(
        hgvs_c, hgvs_p, consequences, length_change=len(alt) - len(ref)
    )
    transcript, c_part = ".", "."
    if hgvs_c:
        head, _, tail = hgvs_c.strip().rpartition(":")
        transcript, c_part = head or ".", tail or "."
    p_part = "."
    if hgvs_p:  # snpEff writes a synonymous change as p.Gln12Gln, not p.Gln12=
        p_part = hgvs_p.strip().rpartition(":")[2] or "."
        p_part = _SYNONYMOUS_SHORT.sub(lambda m: f"{m[1]}{m[2]}{m[1]}", p_part)
    biotype = {"c.": "protein_coding", "n.": "non_coding"}.get(c_part[:2], ".")
    gene = str((descriptor.get("geneContext") or {}).get("symbol", "")).strip()
    state = (descriptor.get("allelicState") or {}).get("id")
    return _Variant(
        chrom=chrom,
        pos=pos,
        ref=ref,
        alt=alt,
        gene=gene,
        gt=GENOTYPES.get(str(state), DEFAULT_GT),
        effect=effect,
        impact=impact,
        transcript=transcript,
        biotype=biotype,
        hgvs_c=c_part,
        hgvs_p=p_part,
    )


def _read_packet(member: str, parts: Sequence[str], data: dict[str, Any]) -> _Packet:
    not_written: Counter[str] = Counter()
    variants: dict[tuple[int, int, str, str], _Variant] = {}
    genes: set[str] = set()
    for gi in _genomic_interpretations(data):
        gene_descriptor = gi.get("gene")
        if isinstance(gene_descriptor, dict) and gene_descriptor.get("symbol"):
            genes.add(str(gene_descriptor["symbol"]).strip().upper())
        descriptor = (gi.get("variantInterpretation") or {}).get("variationDescriptor")
        if not isinstance(descriptor, dict):
            continue
        symbol = (descriptor.get("geneContext") or {}).get("symbol")
        if symbol:
            genes.add(str(symbol).strip().upper())
        variant = _variant(descriptor, not_written)
        if variant is None:
            continue
        if variant.key in variants:
            not_written["duplicate"] += 1
        else:
            variants[variant.key] = variant
    return _Packet(
        member=member,
        cohort=_SAFE_NAME.sub("_", _cohort(parts)).strip("._") or NO_COHORT,
        packet_id=data["id"],
        data=data,
        variants=sorted(variants.values(), key=lambda v: v.key),
        genes=frozenset(genes),
        not_written=not_written,
    )


# --- writing ---------------------------------------------------------------------------------


def _file_name(packet_id: str) -> str:
    return (_SAFE_NAME.sub("_", packet_id).strip("._") or "packet")[:200]


def _sample_name(packet: dict[str, Any]) -> str | None:
    subject = packet.get("subject")
    subject_id = subject.get("id") if isinstance(subject, dict) else None
    if not isinstance(subject_id, str) or not subject_id.strip():
        return None
    return re.sub(r"[\t\r\n]", "_", subject_id)


def _rewrite(packet: dict[str, Any], vcf_name: str) -> dict[str, Any]:
    """The packet without genomicInterpretations, with a ``files`` entry for its VCF."""
    rewritten = dict(packet)  # the source packet is left as it is
    if isinstance(packet.get("interpretations"), list):
        rewritten["interpretations"] = [
            {
                **interpretation,
                "diagnosis": {
                    key: value
                    for key, value in interpretation["diagnosis"].items()
                    if key != "genomicInterpretations"
                },
            }
            if isinstance(interpretation, dict)
            and isinstance(interpretation.get("diagnosis"), dict)
            else interpretation
            for interpretation in packet["interpretations"]
        ]
    entry: dict[str, Any] = {"uri": f"file://{vcf_name}"}
    sample = _sample_name(packet)
    if sample is not None:
        entry["individualToFileIdentifiers"] = {packet["subject"]["id"]: sample}
    entry["fileAttributes"] = {"fileFormat": "vcf", "genomeAssembly": ASSEMBLY}
    kept = [
        f
        for f in rewritten.get("files") or []
        if str((f.get("fileAttributes") or {}).get("fileFormat", "")).lower() != "vcf"
    ]
    rewritten["files"] = [entry, *kept]
    return rewritten


_META = "\n".join(
    [
        "##fileformat=VCFv4.2",
        f"##reference={ASSEMBLY}",
        "##source=ocais genomic simulate",
        *(f"##contig=<ID={c},length={n},assembly={ASSEMBLY}>" for c, n in CONTIGS.items()),
        ANN_HEADER,
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"]),
    ]
)


def _write_vcf(path: Path, sample: str, lines: Iterable[str]) -> None:
    """BGZF ``path``: the header, then ``lines`` as they come, compressed by htslib (the same
    bytes as ``pysam.tabix_compress`` of the text, without a temporary file)."""
    import pysam

    text = "\n".join([f"{_META}\t{sample}", *lines]) + "\n"
    with pysam.BGZFile(str(path), "wb", index=None) as handle:
        handle.write(text.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class _PoolVariant:
    variant: _Variant
    gene: str  # upper case
    cohorts: frozenset[str]
    line: str  # the VCF record, written once for all the packets that draw it


def _decoy_pool(packets: Sequence[_Packet]) -> list[_PoolVariant]:
    """Distinct causal variants with a gene symbol, in position order; each with the
    annotation of the first packet (by id) that has it and the cohorts that have it."""
    first: dict[tuple[int, int, str, str], _Variant] = {}
    cohorts: dict[tuple[int, int, str, str], set[str]] = {}
    for packet in packets:
        token = _cohort_token(packet)
        for variant in packet.variants:
            if not variant.gene:
                continue
            first.setdefault(variant.key, variant)
            cohorts.setdefault(variant.key, set()).add(token)
    return [
        _PoolVariant(
            first[key], first[key].gene.upper(), frozenset(cohorts[key]), first[key].line()
        )
        for key in sorted(first)
    ]


def _cohort_token(packet: _Packet) -> str:
    # packets with no cohort are each their own cohort
    return f"\0{packet.member}" if packet.cohort == NO_COHORT else packet.cohort


class _DecoyDrawer:
    def __init__(self, pool: list[_PoolVariant]) -> None:
        self.pool = pool
        self.by_gene: dict[str, set[int]] = {}
        self.by_cohort: dict[str, set[int]] = {}
        self.by_key: dict[tuple[int, int, str, str], int] = {}
        for index, item in enumerate(pool):
            self.by_gene.setdefault(item.gene, set()).add(index)
            for cohort in item.cohorts:
                self.by_cohort.setdefault(cohort, set()).add(index)
            self.by_key[item.variant.key] = index

    def draw(self, packet: _Packet, n: int, rng: random.Random) -> list[_PoolVariant]:
        """``n`` decoys (fewer when the pool has fewer), uniformly without replacement: a
        random ordered sample of the pool large enough to hold ``n`` after the excluded ones
        are removed keeps the candidates' random order."""
        if n <= 0 or not self.pool:
            return []
        excluded = set(self.by_cohort.get(_cohort_token(packet), ()))
        for gene in packet.genes:
            excluded |= self.by_gene.get(gene, set())
        for variant in packet.variants:
            if (index := self.by_key.get(variant.key)) is not None:
                excluded.add(index)
        k = min(len(self.pool), n + len(excluded))
        drawn = [i for i in rng.sample(range(len(self.pool)), k) if i not in excluded][:n]
        return [self.pool[i] for i in drawn]


def _background(
    n: int,
    rng: random.Random,
    genes: Sequence[str],
    taken: set[tuple[str, int]],
) -> list[_Variant]:
    """``n`` random background variants (see the module docstring) off the ``taken`` places."""
    if n <= 0:
        return []
    genes = genes or [""]
    found: list[_Variant] = []
    total = _BACKGROUND_CUM_WEIGHTS[-1]
    while len(found) < n:
        chrom = _BACKGROUND_CONTIGS[
            bisect.bisect_right(_BACKGROUND_CUM_WEIGHTS, rng.random() * total)
        ]
        pos = rng.randint(1, CONTIGS[chrom])
        if (chrom, pos) in taken:
            continue
        taken.add((chrom, pos))
        ref = rng.choice("ACGT")
        alt = rng.choice(_BASES_ALT[ref])
        effect, impact, _ = BACKGROUND_EFFECTS[
            bisect.bisect_right(_BACKGROUND_CUM, rng.random() * _BACKGROUND_CUM[-1])
        ]
        gt = "1/1" if rng.random() < _BACKGROUND_HOM else "0/1"
        gene = genes[rng.randrange(len(genes))]
        found.append(
            _Variant(chrom, pos, ref, alt, gene, gt, effect, impact, biotype="protein_coding")
        )
    return found


def _check_out(out: Path, overwrite: bool) -> None:
    """Refuse an ``out`` that is a file, or a non-empty folder unless ``overwrite``."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is not a folder", hint="pass a new --out folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"{out} exists and is not empty", hint="pass --overwrite or a new --out")


def _prepare_out(out: Path) -> None:
    """Create ``out``; a previous simulation's packets and VCFs there are removed first, so the
    folder holds exactly this run's set (other files are left as they are)."""
    if (out / SUMMARY_FILE).is_file():
        for folder in sorted(p for p in out.iterdir() if p.is_dir()):
            for file in folder.iterdir():
                if file.is_file() and file.name.endswith((".json", ".vcf.gz")):
                    file.unlink()
            if not any(folder.iterdir()):
                shutil.rmtree(folder)
        (out / SUMMARY_FILE).unlink()
    out.mkdir(parents=True, exist_ok=True)


def simulate_set(
    source: Path,
    out: Path,
    *,
    decoys: int = 100,
    background: int = 0,
    seed: int = 0,
    limit: int | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> SimulationSummary:
    """Write each phenopacket of ``source`` that has a variant to write as
    ``out/<cohort>/<id>.json`` with its VCF ``<id>.vcf.gz`` beside it (causal variants,
    ``decoys`` decoys, ``background`` random variants), and ``out/ocais-simulation.json``; see the
    module docstring for the rules. ``progress(done, total)`` is called after each packet."""
    if decoys < 0 or background < 0 or (limit is not None and limit < 0):
        raise ConfigError("decoys, background and limit cannot be negative", hint="pass 0 or more")
    _check_out(out, overwrite)
    skipped: Counter[str] = Counter()
    packets: list[_Packet] = []
    for member, parts, raw in _entries(source):
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            skipped["unreadable"] += 1
            continue
        if not _looks_like_packet(data):
            skipped["unreadable"] += 1
            continue
        if not _is_valid_packet(data):
            skipped["invalid_phenopacket"] += 1
            continue
        packets.append(_read_packet(member, parts, data))
    _prepare_out(out)
    packets.sort(key=lambda p: p.sort_key)
    packets_read = len(packets)

    with_variants = [p for p in packets if p.variants]
    skipped["no_vcf_record"] += packets_read - len(with_variants)
    chosen: list[_Packet] = []
    names: set[tuple[str, str]] = set()
    for packet in with_variants:
        name = (packet.cohort.lower(), _file_name(packet.packet_id).lower())
        if name in names:
            skipped["duplicate_id"] += 1
            continue
        names.add(name)
        chosen.append(packet)
    if limit is not None and len(chosen) > limit:
        skipped["beyond_limit"] += len(chosen) - limit
        chosen = chosen[:limit]

    pool = _decoy_pool(with_variants)
    drawer = _DecoyDrawer(pool)
    all_genes = sorted({v.gene for p in with_variants for v in p.variants if v.gene})
    written: Counter[str] = Counter(causal=0, decoy=0, background=0)
    not_written: Counter[str] = Counter()
    for packet in packets:
        not_written.update(packet.not_written)
    short = 0
    for done, packet in enumerate(chosen, start=1):
        rng = random.Random(f"{seed}:{packet.rng_key}")
        drawn = drawer.draw(packet, decoys, rng)
        short += len(drawn) < decoys
        records = [(v.key, v.line()) for v in packet.variants]
        records += [(d.variant.key, d.line) for d in drawn]
        noise: list[_Variant] = []
        if background:
            taken = {(v.chrom, v.pos) for v in packet.variants}
            taken |= {(d.variant.chrom, d.variant.pos) for d in drawn}
            genes = [g for g in all_genes if g.upper() not in packet.genes]
            noise = _background(background, rng, genes, taken)
            records += [(v.key, v.line()) for v in noise]
        records.sort()

        folder = out / packet.cohort
        folder.mkdir(parents=True, exist_ok=True)
        stem = _file_name(packet.packet_id)
        vcf_name = f"{stem}.vcf.gz"
        sample = _sample_name(packet.data) or DEFAULT_SAMPLE
        _write_vcf(folder / vcf_name, sample, (line for _, line in records))
        rewritten = _rewrite(packet.data, vcf_name)
        (folder / f"{stem}.json").write_text(json.dumps(rewritten, indent=2) + "\n", "utf-8")

        written["causal"] += len(packet.variants)
        written["decoy"] += len(drawn)
        written["background"] += len(noise)
        if progress is not None:
            progress(done, len(chosen))

    summary = SimulationSummary(
        source=str(source),
        out=str(out),
        seed=seed,
        decoys=decoys,
        background=background,
        limit=limit,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        packets_read=packets_read,
        packets_written=len(chosen),
        packets_skipped={reason: n for reason, n in sorted(skipped.items()) if n},
        variants_written=dict(written),
        variants_not_written=dict(sorted(not_written.items())),
        decoy_pool=len(pool),
        packets_short_of_decoys=short,
    )
    (out / SUMMARY_FILE).write_text(summary.model_dump_json(indent=2) + "\n", "utf-8")
    return summary
