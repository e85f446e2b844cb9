"""`ocais genomic simulate`: phenopackets rewritten without their genomic interpretations, with a
seeded VCF beside each (causal variants, decoys from other cohorts and genes, background)."""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pysam
import pytest
from google.protobuf.json_format import ParseDict
from phenopackets import Phenopacket
from typer.testing import CliRunner

from ocais.cli import context
from ocais.cli.main import app
from ocais.errors import ConfigError
from ocais.genomic.simulate import (
    ANN_HEADER,
    BACKGROUND_EFFECTS,
    SUMMARY_FILE,
    effect_from_hgvs,
    simulate_set,
)
from tests.cli.conftest import ENV

HET, HOM, HEMI = "GENO:0000135", "GENO:0000136", "GENO:0000134"

# cohort, packet id, subject id, [variant: gene, chrom, pos, ref, alt, state, hgvs.c, hgvs.p]
# (a variant with chrom None has no vcfRecord: a structural variant)
PACKETS: list[tuple[str, str, str, list[tuple[Any, ...]]]] = [
    (
        "COHA",
        "PMID_1_A1",
        "Patient 1",
        [("GENEA", "chr1", 1000, "C", "T", HET, "NM_000001.1:c.100C>T", "NP_1.1:p.(Arg34Ter)")],
    ),
    (
        "COHA",
        "PMID_1_A2",
        "P2",
        [("GENEA2", "11", 5000, "AG", "A", HOM, "NM_000002.2:c.50del", "NP_2.1:p.(Gly17fs)")],
    ),
    (
        "COHB",
        "PMID_2_B1",
        "boy",
        [("GENEB", "chrX", 7000, "G", "A", HEMI, "NM_000003.1:c.10G>A", "NP_3.1:p.(Val4Met)")],
    ),
    (
        "COHB",
        "PMID_2_B2",
        "B2",
        [
            ("GENEB2", "chr2", 300, "G", "T", HET, "NM_000004.1:c.200+1G>T", "NP_4.1:p.?"),
            ("GENEB2", "chr2", 900, "A", "G", HET, "NM_000004.1:c.201-5A>G", None),
        ],
    ),
    (
        "COHC",
        "PMID_3_C1",
        "C1",
        [("GENEC", None, None, None, None, HET, None, None)],  # structural only: skipped
    ),
    (
        "COHC",
        "PMID_3_C2",
        "C2",
        [("genea", "chr3", 4000, "T", "C", HET, "NM_000005.1:c.9T>C", "NP_5.1:p.(Leu3Pro)")],
    ),
]

# (chrom, pos) → (effect, impact, GT) of each causal variant as written
EXPECTED = {
    ("chr1", 1000): ("stop_gained", "HIGH", (0, 1)),
    ("chr11", 5000): ("frameshift_variant", "HIGH", (1, 1)),
    ("chrX", 7000): ("missense_variant", "MODERATE", (1,)),
    ("chr2", 300): ("splice_donor_variant", "HIGH", (0, 1)),
    ("chr2", 900): ("splice_region_variant&intron_variant", "LOW", (0, 1)),
    ("chr3", 4000): ("missense_variant", "MODERATE", (0, 1)),
}


def _descriptor(variant: tuple[Any, ...]) -> dict[str, Any]:
    gene, chrom, pos, ref, alt, state, hgvs_c, hgvs_p = variant
    descriptor: dict[str, Any] = {
        "id": f"var-{gene}-{pos}",
        "geneContext": {"valueId": "HGNC:1", "symbol": gene},
        "moleculeContext": "genomic",
        "allelicState": {"id": state, "label": "x"},
    }
    expressions = [
        {"syntax": syntax, "value": value}
        for syntax, value in (("hgvs.c", hgvs_c), ("hgvs.p", hgvs_p))
        if value
    ]
    if expressions:
        descriptor["expressions"] = expressions
    if chrom is None:
        descriptor["structuralType"] = {"id": "SO:1000029", "label": "chromosomal_deletion"}
    else:
        descriptor["vcfRecord"] = {
            "genomeAssembly": "hg38",
            "chrom": chrom,
            "pos": pos,
            "ref": ref,
            "alt": alt,
        }
    return descriptor


def _packet(packet_id: str, subject: str, variants: list[tuple[Any, ...]]) -> dict[str, Any]:
    return {
        "id": packet_id,
        "subject": {"id": subject, "sex": "FEMALE"},
        "phenotypicFeatures": [{"type": {"id": "HP:0001250", "label": "Seizure"}}],
        "interpretations": [
            {
                "id": f"{packet_id}-i",
                "progressStatus": "SOLVED",
                "diagnosis": {
                    "disease": {"id": "OMIM:600001", "label": "Some disease"},
                    "genomicInterpretations": [
                        {
                            "subjectOrBiosampleId": subject,
                            "interpretationStatus": "CAUSATIVE",
                            "variantInterpretation": {
                                "acmgPathogenicityClassification": "PATHOGENIC",
                                "variationDescriptor": _descriptor(v),
                            },
                        }
                        for v in variants
                    ],
                },
            }
        ],
        "metaData": {
            "created": "2024-01-01T00:00:00Z",
            "createdBy": "test",
            "resources": [],
            "phenopacketSchemaVersion": "2.0",
        },
    }


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    for cohort, packet_id, subject, variants in PACKETS:
        folder = root / cohort / "phenopackets"
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(_packet(packet_id, subject, variants), indent=2)
        (folder / f"{packet_id}.json").write_text(text, encoding="utf-8")
    (root / "broken.json").write_text("{not json", encoding="utf-8")
    (root / "manifest.json").write_text(json.dumps({"name": "not a packet"}), encoding="utf-8")
    return root


def _records(path: Path) -> list[tuple[str, int, str, str, tuple[int, ...], list[str]]]:
    with pysam.VariantFile(str(path)) as vcf:
        (sample,) = list(vcf.header.samples)
        return [
            (
                r.chrom,
                r.pos,
                r.ref,
                r.alts[0],
                tuple(r.samples[sample]["GT"]),
                r.info["ANN"][0].split("|"),
            )
            for r in vcf
        ]


def _chrom(name: str) -> str:
    return name if name.startswith("chr") else f"chr{name}"


def _source_index() -> dict[tuple[str, int], tuple[str, str]]:
    """(chrom, pos) → (cohort, gene) of every causal variant of the source."""
    return {
        (_chrom(chrom), pos): (cohort, gene.upper())
        for cohort, _, _, variants in PACKETS
        for gene, chrom, pos, *_ in variants
        if chrom is not None
    }


def test_packets_and_vcfs_hold_causal_variants_and_decoys(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = simulate_set(source, out, decoys=100, seed=1)

    assert summary.packets_read == 6
    assert summary.packets_written == 5
    assert summary.packets_skipped == {"no_vcf_record": 1, "unreadable": 2}
    assert summary.variants_written["causal"] == 6
    assert summary.variants_written["background"] == 0
    assert summary.variants_not_written == {"no_vcf_record": 1}
    assert json.loads((out / SUMMARY_FILE).read_text())["packets_written"] == 5
    assert not (out / "COHC" / "PMID_3_C1.json").exists()

    places = _source_index()
    decoys_seen = 0
    for cohort, packet_id, subject, variants in PACKETS:
        if variants[0][1] is None:
            continue
        vcf_path = out / cohort / f"{packet_id}.vcf.gz"
        with pysam.VariantFile(str(vcf_path)) as vcf:
            assert list(vcf.header.samples) == [subject]
            assert str(vcf.header).count(ANN_HEADER) == 1
        records = _records(vcf_path)
        genes = {v[0].upper() for v in variants}
        own = {(_chrom(v[1]), v[2]) for v in variants}
        # every causal variant, with its GT and annotation
        for gene, chrom, pos, ref, alt, *_ in variants:
            name = _chrom(chrom)
            (record,) = [r for r in records if (r[0], r[1]) == (name, pos)]
            effect, impact, gt = EXPECTED[(name, pos)]
            ann = record[5]
            assert len(ann) == 16
            assert (record[2], record[3], record[4]) == (ref, alt, gt)
            assert ann[0] == alt and ann[1:5] == [effect, impact, gene, gene]
            assert (
                ann[5] == "transcript" and ann[6].startswith("NM_") and ann[7] == "protein_coding"
            )
            assert ann[9].startswith("c.")
        # decoys: other cohorts' variants in other genes, each exactly as many as available
        available = {
            place
            for place, (other_cohort, gene) in places.items()
            if other_cohort != cohort and gene not in genes
        }
        decoys = {(r[0], r[1]) for r in records} - own
        assert decoys == available
        assert len(records) == len(variants) + min(100, len(available))
        decoys_seen += len(decoys)
        assert records == sorted(records, key=lambda r: (_order(r[0]), r[1]))
    assert decoys_seen == summary.variants_written["decoy"] > 0
    # COHC's packet carries genea (lower case): COHA's GENEA is never its decoy
    c2 = {(r[0], r[1]) for r in _records(out / "COHC" / "PMID_3_C2.vcf.gz")}
    assert ("chr1", 1000) not in c2 and ("chr11", 5000) in c2


def _order(chrom: str) -> int:
    names = [f"chr{n}" for n in range(1, 23)] + ["chrX", "chrY", "chrM"]
    return names.index(chrom)


def test_decoys_are_drawn_seeded_and_capped(source: Path, tmp_path: Path) -> None:
    one = simulate_set(source, tmp_path / "one", decoys=1, seed=5)
    assert one.variants_written["decoy"] == 5
    assert one.packets_short_of_decoys == 0
    records = _records(tmp_path / "one" / "COHA" / "PMID_1_A1.vcf.gz")
    assert len(records) == 2
    places = _source_index()
    (decoy,) = [r for r in records if (r[0], r[1]) != ("chr1", 1000)]
    assert places[(decoy[0], decoy[1])][0] != "COHA"


def test_rewritten_packets_drop_genomic_interpretations_and_point_at_their_vcf(
    source: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    simulate_set(source, out, decoys=3)
    for cohort, packet_id, subject, variants in PACKETS:
        path = out / cohort / f"{packet_id}.json"
        if variants[0][1] is None:
            continue
        packet = json.loads(path.read_text())
        assert "genomicInterpretations" not in json.dumps(packet)
        (interpretation,) = packet["interpretations"]
        assert interpretation["progressStatus"] == "SOLVED"
        assert interpretation["diagnosis"] == {
            "disease": {"id": "OMIM:600001", "label": "Some disease"}
        }
        assert packet["files"] == [
            {
                "uri": f"file://{packet_id}.vcf.gz",
                "individualToFileIdentifiers": {subject: subject},
                "fileAttributes": {"fileFormat": "vcf", "genomeAssembly": "GRCh38"},
            }
        ]
        assert (path.parent / packet["files"][0]["uri"].removeprefix("file://")).is_file()
        ParseDict(packet, Phenopacket())
        assert packet["phenotypicFeatures"][0]["type"]["id"] == "HP:0001250"


def test_the_same_seed_gives_the_same_bytes_from_a_folder_or_an_archive(
    source: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "packets.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        # added in reverse order: the listing order must not matter
        for path in sorted(source.rglob("*.json"), reverse=True):
            tar.add(path, arcname=f"store/{path.relative_to(source).as_posix()}")
    zipped = tmp_path / "packets.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for path in sorted(source.rglob("*.json")):
            zf.write(path, arcname=path.relative_to(source).as_posix())

    def files(out: Path) -> dict[str, bytes]:
        return {
            p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != SUMMARY_FILE
        }

    runs = []
    for name, src in (("a", source), ("b", source), ("c", archive), ("d", zipped)):
        simulate_set(src, tmp_path / name, decoys=2, background=20, seed=7)
        runs.append(files(tmp_path / name))
    assert len(runs[0]) == 10
    assert runs[0] == runs[1] == runs[2] == runs[3]
    simulate_set(source, tmp_path / "e", decoys=2, background=20, seed=8)
    assert files(tmp_path / "e") != runs[0]


def test_a_non_empty_out_is_refused_unless_overwrite(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    simulate_set(source, out, decoys=1)
    with pytest.raises(ConfigError) as refused:
        simulate_set(source, out, decoys=1)
    assert refused.value.hint and "--overwrite" in refused.value.hint
    (out / "COHA" / "stale.json").write_text("{}")
    summary = simulate_set(source, out, decoys=1, limit=2, overwrite=True)
    assert summary.packets_written == 2
    assert summary.packets_skipped["beyond_limit"] == 3
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    # the previous run's files are gone; the first two packets by id are written
    assert written == [
        "COHA/PMID_1_A1.json",
        "COHA/PMID_1_A1.vcf.gz",
        "COHA/PMID_1_A2.json",
        "COHA/PMID_1_A2.vcf.gz",
        SUMMARY_FILE,
    ]
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    with pytest.raises(ConfigError):
        simulate_set(source, other)
    with pytest.raises(ConfigError):
        simulate_set(tmp_path / "missing", tmp_path / "new")


def test_background_adds_the_requested_variants(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = simulate_set(source, out, decoys=0, background=300, seed=3)
    assert summary.variants_written == {"causal": 6, "decoy": 0, "background": 5 * 300}
    records = _records(out / "COHB" / "PMID_2_B2.vcf.gz")
    assert len(records) == 2 + 300
    assert len({(r[0], r[1]) for r in records}) == len(records)
    assert records == sorted(records, key=lambda r: (_order(r[0]), r[1]))
    mix = {(effect, impact) for effect, impact, _ in BACKGROUND_EFFECTS}
    background = [r for r in records if (r[0], r[1]) not in {("chr2", 300), ("chr2", 900)}]
    assert {(r[5][1], r[5][2]) for r in background} <= mix
    assert {r[4] for r in background} == {(0, 1), (1, 1)}
    assert all(r[5][3] not in {"GENEB2", "."} for r in background)
    assert {r[0] for r in background} <= {f"chr{n}" for n in [*range(1, 23), "X"]}


@pytest.mark.parametrize(
    ("hgvs_c", "hgvs_p", "effect", "impact"),
    [
        ("NM_1.1:c.100C>T", "NP_1.1:p.(Arg34Ter)", "stop_gained", "HIGH"),
        ("NM_1.1:c.100C>T", "NP_1.1:p.R34*", "stop_gained", "HIGH"),
        ("NM_1.1:c.50del", "NP_1.1:p.(Gly17AlafsTer4)", "frameshift_variant", "HIGH"),
        ("NM_1.1:c.1A>G", "NP_1.1:p.(Met1?)", "start_lost", "HIGH"),
        ("NM_1.1:c.30C>T", "NP_1.1:p.(Gly10=)", "synonymous_variant", "LOW"),
        ("NM_1.1:c.30C>T", "NP_1.1:p.(=)", "synonymous_variant", "LOW"),
        ("NM_1.1:c.28G>A", "NP_1.1:p.(Val10Met)", "missense_variant", "MODERATE"),
        ("NM_1.1:c.28_30del", "NP_1.1:p.(Val10del)", "conservative_inframe_deletion", "MODERATE"),
        ("NM_1.1:c.28_30dup", "NP_1.1:p.(Val10dup)", "conservative_inframe_insertion", "MODERATE"),
        ("NM_1.1:c.200+1G>T", "NP_1.1:p.?", "splice_donor_variant", "HIGH"),
        ("NM_1.1:c.201-2A>G", None, "splice_acceptor_variant", "HIGH"),
        ("NM_1.1:c.201-7A>G", None, "splice_region_variant&intron_variant", "LOW"),
        ("NM_1.1:c.201-70A>G", None, "intron_variant", "MODIFIER"),
        ("NM_1.1:c.-20A>G", None, "5_prime_UTR_variant", "MODIFIER"),
        ("NM_1.1:c.*20A>G", None, "3_prime_UTR_variant", "MODIFIER"),
        ("NM_1.1:c.100C>T", None, "sequence_variant", "MODERATE"),
        (None, None, "sequence_variant", "MODERATE"),
    ],
)
def test_effects_follow_the_hgvs_rules(
    hgvs_c: str | None, hgvs_p: str | None, effect: str, impact: str
) -> None:
    assert effect_from_hgvs(hgvs_c, hgvs_p) == (effect, impact)


def test_molecular_consequences_and_indel_lengths_refine_the_effect() -> None:
    assert effect_from_hgvs("c.10C>T", "p.(Arg4Ter)", ["missense_variant"]) == (
        "missense_variant",
        "MODERATE",
    )
    assert effect_from_hgvs("NM_1.1:c.50del", None, length_change=-1) == (
        "frameshift_variant",
        "HIGH",
    )
    assert effect_from_hgvs("NM_1.1:c.50_52del", "p.?", length_change=-3) == (
        "conservative_inframe_deletion",
        "MODERATE",
    )


def test_the_cli_writes_the_set_and_prints_its_summary(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    env = {**ENV, "OCAIS_DATA_DIR": str(tmp_path / "data")}
    monkeypatch.setattr(context.console, "_width", 200)  # one line per message
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["genomic", "simulate", str(source), "--out", str(out), "--decoys", "2", "--json"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["packets_written"] == 5
    assert summary["variants_written"]["decoy"] == 10
    assert (out / "COHB" / "PMID_2_B1.vcf.gz").is_file()

    refused = runner.invoke(app, ["genomic", "simulate", str(source), "--out", str(out)], env=env)
    assert refused.exit_code == 2
    assert "--overwrite" in refused.stderr

    again = runner.invoke(
        app, ["genomic", "simulate", str(source), "--out", str(out), "--overwrite"], env=env
    )
    assert again.exit_code == 0, again.output
    assert "wrote 5" in again.stdout
