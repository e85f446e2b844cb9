"""Predictor ``genomic``: phenotype + genotype on the tiny release (genes: A→GENEA, B→GENEB)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ocais.genomic.model import GenotypeModel, GenotypeOptions
from ocais.ingest.base import local_file
from ocais.knowledge.genes import Inheritance, load_gene_table
from ocais.predict.base import create_predictor
from ocais.predict.genomic import GenomicRanker
from ocais.predict.phenotype import PhenotypeRanker
from ocais.schemas import (
    Case,
    Classification,
    GenomicFile,
    Genomics,
    Impact,
    PhenotypeObservation,
    Provenance,
    VariantCall,
    Zygosity,
)
from tests.genomic.vcfs import ann, write_vcf


def case(genomics: Genomics | None = None, *terms: str) -> Case:
    return Case(
        id="c1",
        phenotypes=[PhenotypeObservation(id=t) for t in (terms or ("HP:0002069",))],
        genomics=genomics,
        provenance=Provenance(source="test", source_format="test"),
    )


def call(gene: str, zygosity: Zygosity = Zygosity.HETEROZYGOUS, **kw: object) -> VariantCall:
    return VariantCall(gene=gene, impact=Impact.HIGH, zygosity=zygosity, **kw)  # type: ignore[arg-type]


def test_without_genomic_input_it_ranks_as_phenotype_and_lists_genes(tiny_kb) -> None:  # type: ignore[no-untyped-def]
    genomic, phenotype = GenomicRanker(tiny_kb), PhenotypeRanker(tiny_kb)
    plain = case()
    assert np.array_equal(genomic.score_cases([plain]), phenotype.score_cases([plain]))
    got, want = genomic.predict(plain), phenotype.predict(plain)
    assert [(c.disease_id, c.score) for c in got.candidates] == [
        (c.disease_id, c.score) for c in want.candidates
    ]
    assert got.candidates[0].disease_id == "OMIM:100002"
    panel = {g.symbol: g.candidates for g in got.genes_to_test}
    assert panel["GENEB"] == ["OMIM:100002"] and "GENEA" in panel
    assert got.genes_to_test == want.genes_to_test


def test_a_qualifying_variant_lifts_its_disease(tiny_kb) -> None:  # type: ignore[no-untyped-def]
    ranker = GenomicRanker(tiny_kb)
    prediction = ranker.predict(case(Genomics(variants=[call("GENEA", variant="chr1:5 A>T")])))
    top = prediction.candidates[0]
    assert top.disease_id == "OMIM:100001"
    evidence = top.evidence["genotype"]
    assert evidence["gene"] == "GENEA" and evidence["log_lr"] > 0
    assert evidence["calls"][0]["variant"] == "chr1:5 A>T"
    other = next(c for c in prediction.candidates if c.disease_id == "OMIM:100002")
    assert other.evidence["genotype"]["log_lr"] < 0
    assert "no qualifying variant in GENEB" in other.evidence["genotype"]["summary"]
    assert prediction.genes_to_test == []
    assert prediction.provenance.parameters["genomic_input"]["genes_with_qualifying_variants"] == 1


def test_benign_calls_do_not_count_and_gene_lists_work(tiny_kb) -> None:  # type: ignore[no-untyped-def]
    ranker = GenomicRanker(tiny_kb)
    benign = call("GENEA", classification=Classification.BENIGN)
    prediction = ranker.predict(case(Genomics(variants=[benign])), top_k=3)
    evidence = {c.disease_id: c.evidence["genotype"] for c in prediction.candidates}
    assert "no qualifying variant in GENEA" in evidence["OMIM:100001"]["summary"]
    assert evidence["OMIM:100001"]["log_lr"] == evidence["OMIM:100002"]["log_lr"] < 0
    assert evidence["ORPHA:100003"]["summary"] == "no gene is known for this disease"
    listed = ranker.predict(case(Genomics(genes=["GENEA", "NCBIGene:1001", "NOSUCHGENE"])))
    assert listed.candidates[0].disease_id == "OMIM:100001"
    assert any("NOSUCHGENE" in w for w in listed.warnings)


def test_vcf_files_are_read_at_prediction_time(tiny_kb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    vcf = write_vcf(
        tmp_path / "p.vcf.gz",
        [("chr1", 5, "A", "T", "ANN=" + ann("T", "stop_gained", "HIGH", "GENEA"), ["0/1"])],
        compress="bgzf",
    )
    ranker = GenomicRanker(tiny_kb)
    uri = f"file://{vcf}"
    assert local_file(uri) == vcf
    prediction = ranker.predict(case(Genomics(files=[GenomicFile(uri=uri)])))
    assert prediction.candidates[0].disease_id == "OMIM:100001"
    summary = prediction.provenance.parameters["genomic_input"]["files"][0]
    assert summary["carried"] == 1 and summary["annotation"] == "ANN"
    assert "chr1" not in json.dumps(prediction.provenance.parameters), "no variant in provenance"
    missing = ranker.predict(case(Genomics(files=[GenomicFile(uri=str(tmp_path / "no.vcf"))])))
    assert any("VCF was not used" in w for w in missing.warnings)
    assert missing.candidates[0].disease_id == "OMIM:100002", "falls back to phenotypes"
    remote = ranker.predict(case(Genomics(files=[GenomicFile(uri="https://x/p.vcf")])))
    assert any("only local VCFs" in w for w in remote.warnings)


def test_options_are_validated(tiny_kb) -> None:  # type: ignore[no-untyped-def]
    ranker = create_predictor("genomic", tiny_kb, miss_lr=0.01, specificity_penalty=5.0)
    assert isinstance(ranker, GenomicRanker)
    assert ranker.described_options["miss_lr"] == 0.01
    assert ranker.described_options["specificity_penalty"] == 5.0
    with pytest.raises(TypeError):
        GenomicRanker(tiny_kb, miss_lr=2.0)
    with pytest.raises(TypeError, match="no_such"):
        GenomicRanker(tiny_kb, phenotype_overrides={"no_such": 1.0})


def test_inheritance_compares_zygosity_with_the_mode(real_kb) -> None:  # type: ignore[no-untyped-def]
    genes = load_gene_table(real_kb)
    model = GenotypeModel(real_kb, genes, real_kb.disease_ids, GenotypeOptions())
    cf = real_kb.disease_ids.index("OMIM:219700")  # cystic fibrosis, CFTR, recessive
    assert Inheritance.AUTOSOMAL_RECESSIVE in model.modes[cf]

    def lr(*calls: VariantCall) -> float:
        profile = model.profile(list(calls), [], has_genotypes=True)
        return float(model.score(profile).log_lr[cf])

    single = lr(call("CFTR"))
    both = lr(call("CFTR", Zygosity.HOMOZYGOUS))
    compound = lr(call("CFTR"), call("CFTR"))
    nothing = lr(call("FBN1"))
    assert both == pytest.approx(compound) and both > single > nothing
    marfan = real_kb.disease_ids.index("OMIM:154700")  # FBN1, dominant
    profile = model.profile([call("FBN1")], [], has_genotypes=True)
    assert model.score(profile).log_lr[marfan] > single


def test_genes_linked_to_no_disease_are_reported_only_when_they_matter(
    tiny_kb, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    ranker = GenomicRanker(tiny_kb)
    reported = ranker.predict(case(Genomics(variants=[call("GENEA"), call("NOTAGENE")])))
    assert any("NOTAGENE" in w for w in reported.warnings)
    exome = write_vcf(
        tmp_path / "e.vcf",
        [
            ("chr1", 5, "A", "T", "ANN=" + ann("T", "stop_gained", "HIGH", "GENEA"), ["0/1"]),
            ("chr1", 9, "A", "T", "ANN=" + ann("T", "stop_gained", "HIGH", "OTHER1"), ["0/1"]),
        ],
    )
    quiet = ranker.predict(case(Genomics(files=[GenomicFile(uri=str(exome))])))
    assert not any("linked" in w for w in quiet.warnings), "non-disease genes are normal"
    assert quiet.provenance.parameters["genomic_input"]["genes_not_linked"] == 1
    old = write_vcf(
        tmp_path / "o.vcf",
        [("chr1", 5, "A", "T", "ANN=" + ann("T", "stop_gained", "HIGH", "OLDSYMBOL"), ["0/1"])],
    )
    stale = ranker.predict(case(Genomics(files=[GenomicFile(uri=str(old))])))
    assert any("old gene symbols" in w for w in stale.warnings)
