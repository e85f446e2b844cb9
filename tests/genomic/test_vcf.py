"""The VCF reader: annotations (ANN, CSQ, GENEINFO, GENE), genotypes, compression, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocais.errors import GenomicInputError, InputTooLargeError
from ocais.genomic.vcf import read_vcf
from ocais.schemas import Classification, Impact, Zygosity
from tests.genomic.vcfs import CSQ_HEADER, ann, write_vcf

RECORDS = [
    (
        "chr15",
        48700000,
        "C",
        "T",
        "ANN=" + ann("T", "stop_gained", "HIGH", "FBN1", "c.1A>T", "p.Arg1*"),
        ["0/1"],
    ),
    (
        "chr7",
        117500000,
        "G",
        "A",
        "ANN=" + ann("A", "missense_variant", "MODERATE", "CFTR"),
        ["1/1"],
    ),
    ("chrX", 31000000, "A", "G", "ANN=" + ann("G", "frameshift_variant", "HIGH", "DMD"), ["1"]),
    ("chr1", 1000, "A", "T", "ANN=" + ann("T", "intron_variant", "MODIFIER", "GENEX"), ["0/1"]),
    ("chr1", 2000, "A", "T", "ANN=" + ann("T", "synonymous_variant", "LOW", "GENEY"), ["0/0"]),
    ("chr1", 3000, "A", "T", "LOWQUAL;ANN=" + ann("T", "stop_gained", "HIGH", "GENEZ"), ["0/1"]),
    ("chr2", 4000, "A", "T", "", ["0/1"]),
]


@pytest.mark.parametrize("compress", [None, "gzip", "bgzf"])
def test_reads_snpeff_calls_of_the_sample(tmp_path: Path, compress: str | None) -> None:
    suffix = ".vcf" if compress is None else ".vcf.gz"
    path = write_vcf(tmp_path / f"p{suffix}", RECORDS, compress=compress)
    calls = read_vcf(path)
    by_gene = {c.gene: c for c in calls.variants}
    assert set(by_gene) == {"FBN1", "CFTR", "DMD"}  # MODIFIER, 0/0, filtered and bare left out
    assert by_gene["FBN1"].zygosity is Zygosity.HETEROZYGOUS
    assert by_gene["FBN1"].impact is Impact.HIGH and by_gene["FBN1"].effect == "stop_gained"
    assert "p.Arg1*" in (by_gene["FBN1"].variant or "")
    assert by_gene["CFTR"].zygosity is Zygosity.HOMOZYGOUS
    assert by_gene["DMD"].zygosity is Zygosity.HEMIZYGOUS
    assert calls.assembly == "GRCh38"
    assert (calls.records, calls.filtered, calls.unannotated) == (7, 1, 1)
    assert calls.annotation == "ANN"
    assert any("no gene annotation" in w for w in calls.warnings)


def test_multiallelic_sites_take_each_alleles_annotation(tmp_path: Path) -> None:
    info = "ANN=" + ",".join(
        [
            ann("T", "missense_variant", "MODERATE", "GENE1"),
            ann("G", "stop_gained", "HIGH", "GENE2"),
        ]
    )
    path = write_vcf(tmp_path / "m.vcf", [("chr3", 10, "A", "T,G", info, ["1/2"])])
    calls = read_vcf(path)
    assert sorted((c.gene, c.impact, c.zygosity) for c in calls.variants) == [
        ("GENE1", Impact.MODERATE, Zygosity.HETEROZYGOUS),
        ("GENE2", Impact.HIGH, Zygosity.HETEROZYGOUS),
    ]


def test_vep_csq_fields_are_read_by_name(tmp_path: Path) -> None:
    csq = "CSQ=T|missense_variant|MODERATE|FBN1|ENSG1|HGNC:3603|pathogenic|c.1A>T|p.K1N"
    path = write_vcf(
        tmp_path / "v.vcf",
        [("15", 5, "A", "T", csq, ["0/1"])],
        info_headers=[CSQ_HEADER],
        reference="GRCh37",
    )
    (call,) = read_vcf(path).variants
    assert (call.gene, call.gene_id, call.classification) == (
        "FBN1",
        "HGNC:3603",
        Classification.PATHOGENIC,
    )
    assert read_vcf(path).assembly == "GRCh37"


def test_clinvar_geneinfo_and_plain_gene_keys(tmp_path: Path) -> None:
    records = [
        (
            "1",
            5,
            "A",
            "T",
            "GENEINFO=FBN1:2200;CLNSIG=Likely_pathogenic;MC=SO:0001583|missense_variant",
            ["0/1"],
        ),
        ("1", 9, "A", "T", "GENE=COL1A1", ["1/1"]),
    ]
    headers = [
        '##INFO=<ID=GENEINFO,Number=1,Type=String,Description="g">',
        '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="c">',
        '##INFO=<ID=MC,Number=.,Type=String,Description="m">',
    ]
    path = write_vcf(tmp_path / "c.vcf", records, info_headers=headers)
    calls = {c.gene: c for c in read_vcf(path).variants}
    assert calls["FBN1"].gene_id == "NCBIGene:2200"
    assert calls["FBN1"].classification is Classification.LIKELY_PATHOGENIC
    assert calls["FBN1"].impact is Impact.MODERATE
    assert calls["COL1A1"].impact is None and calls["COL1A1"].zygosity is Zygosity.HOMOZYGOUS


def test_undeclared_gene_key_still_read_and_htslib_kept_quiet(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = write_vcf(
        tmp_path / "u.vcf", [("chr1", 123456, "A", "T", "GENE=FBN1", ["0/1"])], info_headers=[]
    )
    (call,) = read_vcf(path).variants
    assert call.gene == "FBN1"
    captured = capfd.readouterr()
    assert "123456" not in captured.err + captured.out, "no variant position on stderr"


def test_samples_are_chosen_by_name(tmp_path: Path) -> None:
    records = [
        ("chr1", 5, "A", "T", "ANN=" + ann("T", "stop_gained", "HIGH", "G1"), ["0/1", "0/0"])
    ]
    path = write_vcf(tmp_path / "trio.vcf", records, samples=("CHILD", "MOTHER"))
    assert len(read_vcf(path, sample="CHILD").variants) == 1
    assert read_vcf(path, sample="MOTHER").variants == []
    with pytest.raises(GenomicInputError, match="which one is the patient"):
        read_vcf(path)
    with pytest.raises(GenomicInputError, match="not in"):
        read_vcf(path, sample="FATHER")


def test_assembly_from_contig_length_and_refused_assemblies(tmp_path: Path) -> None:
    records = [("1", 5, "A", "T", "GENE=G1", ["0/1"])]
    path = write_vcf(tmp_path / "l.vcf", records, reference=None, contigs=[("1", 249250621)])
    assert read_vcf(path).assembly == "GRCh37"
    undeclared = write_vcf(tmp_path / "n.vcf", records, reference=None)
    calls = read_vcf(undeclared)
    assert calls.assembly is None and any("declare" in w for w in calls.warnings)
    old = write_vcf(tmp_path / "o.vcf", records, reference="NCBI36")
    with pytest.raises(GenomicInputError, match="NCBI36"):
        read_vcf(old)


def test_bad_files_get_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(GenomicInputError, match="does not exist"):
        read_vcf(tmp_path / "missing.vcf")
    junk = tmp_path / "junk.vcf"
    junk.write_text("this is not a vcf\n", encoding="utf-8")
    with pytest.raises(GenomicInputError, match="not a readable VCF"):
        read_vcf(junk)
    bare = write_vcf(tmp_path / "bare.vcf", [("chr1", 5, "A", "T", "", ["0/1"])], info_headers=[])
    with pytest.raises(GenomicInputError, match="no gene annotation"):
        read_vcf(bare)
    sites = write_vcf(tmp_path / "sites.vcf", [("chr1", 5, "A", "T", "GENE=G", [])], samples=())
    with pytest.raises(GenomicInputError, match="no sample"):
        read_vcf(sites)
    big = write_vcf(tmp_path / "big.vcf", RECORDS)
    with pytest.raises(InputTooLargeError, match="limit"):
        read_vcf(big, max_bytes=100)
    truncated = write_vcf(tmp_path / "t.vcf.gz", RECORDS, compress="bgzf")
    truncated.write_bytes(truncated.read_bytes()[:-40])
    with pytest.raises(GenomicInputError):
        read_vcf(truncated)
