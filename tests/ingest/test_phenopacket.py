"""Phenopacket v2 reader: mapping, bad input, containers, and the real 4,277-case archive."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from ocais.errors import InputTooLargeError, InvalidRecordError
from ocais.ingest.base import ReaderContext
from ocais.ingest.phenopacket import PhenopacketReader
from ocais.schemas import Case
from tests.helpers import packet


def read_all(path: Path, kb=None) -> list[Case | InvalidRecordError]:  # type: ignore[no-untyped-def]
    return list(PhenopacketReader(ReaderContext(site="test-site", terms=kb)).read(path))


def test_maps_a_packet_to_a_case(tmp_path: Path, tiny_kb) -> None:
    layout = tmp_path / "store" / "notebooks" / "GENE1" / "phenopackets"
    layout.mkdir(parents=True)
    (layout / "p1.json").write_text(json.dumps(packet()))
    [case] = read_all(tmp_path / "store", tiny_kb)
    assert isinstance(case, Case)
    assert case.id == Case.stable_id("phenopacket", "P1") and case.external_id == "P1"
    assert case.subject.sex == "female" and case.subject.age_years == pytest.approx(3.5)
    assert case.observed == ["HP:0001250", "HP:0002069"]
    assert case.excluded == ["HP:0000505"]
    assert case.phenotypes[2].onset_age_years == pytest.approx(0.5)
    assert [(d.disease_id, d.status) for d in case.diagnoses] == [("OMIM:100001", "confirmed")]
    assert case.cohort == "GENE1" and case.site == "test-site"
    prov = case.provenance
    assert prov.source_format == "phenopacket" and prov.record_id == "P1"
    assert prov.knowledge_version == "2099-01-01" and len(prov.record_hash or "") == 64
    assert "issues" not in prov.parameters


def test_public_case_report_ids_are_kept_and_old_ages_top_coded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Packet ids name a publication, not a record: kept verbatim, with no secret needed.
    Ages over 89 still become 90 ("90 or older"), without the birth year, as from any source."""
    monkeypatch.delenv("OCAIS_DEID_SECRET", raising=False)
    pid = "PMID_23495017_Patient_23"
    subject = {
        "id": "proband",
        "sex": "MALE",
        "dateOfBirth": "1928-01-01T00:00:00Z",
        "timeAtLastEncounter": {"age": {"iso8601duration": "P93Y"}},
    }
    features = [{"type": {"id": "HP:0001250"}, "onset": {"age": {"iso8601duration": "P91Y"}}}]
    (tmp_path / "p.json").write_text(
        json.dumps(packet(pid, subject=subject, phenotypicFeatures=features))
    )
    [case] = read_all(tmp_path / "p.json")
    assert isinstance(case, Case)
    assert case.external_id == case.provenance.record_id == pid
    assert case.id == Case.stable_id("phenopacket", pid)
    assert case.subject.age_years == 90.0 and case.subject.birth_year is None
    assert case.phenotypes[0].onset_age_years == 90.0
    assert case.provenance.parameters["age_top_coded"] is True
    (tmp_path / "p2.json").write_text(json.dumps(packet("P2")))  # 3.5 years old
    [young] = read_all(tmp_path / "p2.json")
    assert isinstance(young, Case) and "age_top_coded" not in young.provenance.parameters


def test_obsolete_ids_replaced_unknown_ids_reported(tmp_path: Path, tiny_kb) -> None:
    features = [
        {"type": {"id": "HP:0000999", "label": "Fits"}},
        {"type": {"id": "HP:0001251", "label": "alt id of Seizure"}},
        {"type": {"id": "HP:0004321", "label": "not in this release"}},
    ]
    (tmp_path / "p.json").write_text(json.dumps(packet(phenotypicFeatures=features)))
    [case] = read_all(tmp_path / "p.json", tiny_kb)
    assert isinstance(case, Case)
    # both old ids map to HP:0001250 and are merged; the unknown id is kept and reported
    assert case.observed == ["HP:0001250", "HP:0004321"]
    issues = case.provenance.parameters["issues"]
    assert any("HP:0000999" in i and "replaced by HP:0001250" in i for i in issues)
    assert any("HP:0004321 is not in HPO 2099-01-01" in i for i in issues)


def test_bad_records_are_reported_and_the_rest_read(tmp_path: Path) -> None:
    v1 = packet("V1", metaData={"phenopacketSchemaVersion": "1.0"})
    bad_enum = packet("E1", subject={"id": "s", "sex": "WOMAN"})
    unknown_field = packet("U1", colour="blue")
    no_id = packet("")
    list_subject = packet("L1", subject=[])
    lines = [
        json.dumps(packet("OK1")),
        '{"id": "broken", ',
        json.dumps(v1),
        json.dumps(bad_enum),
        json.dumps(unknown_field),
        "[1, 2]",
        json.dumps(no_id),
        json.dumps(list_subject),
        json.dumps(packet("OK2")),
    ]
    source = tmp_path / "cases.jsonl"
    source.write_text("\n".join(lines) + "\n")
    records = read_all(source)
    cases = [r for r in records if isinstance(r, Case)]
    rejects = [r for r in records if isinstance(r, InvalidRecordError)]
    assert [c.external_id for c in cases] == ["OK1", "OK2"]
    assert len(rejects) == 7
    by_record = {(r.record or "").split(" (")[-1].rstrip(")"): r for r in rejects}
    assert "malformed JSON" in by_record["line 2"].message
    assert by_record["V1"].record == "line 3 (V1)"
    assert "v1" in by_record["V1"].message and "phenopacket-tools" in str(by_record["V1"])
    assert by_record["E1"].field == "subject.sex" and "WOMAN" in by_record["E1"].message
    assert "colour" in by_record["U1"].message
    assert "JSON object" in by_record["line 6"].message
    assert any(r.field == "id" for r in rejects)
    assert by_record["L1"].field == "subject" and "expected an object" in by_record["L1"].message
    assert all(r.source == str(source) for r in rejects)


def test_directory_zip_and_tar_give_the_same_cases(tmp_path: Path) -> None:
    folder = tmp_path / "dir"
    folder.mkdir()
    for i in range(3):
        (folder / f"p{i}.json").write_text(json.dumps(packet(f"P{i}")))
    (folder / "README.md").write_text("not a packet")
    zipped = tmp_path / "packets.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        for file in sorted(folder.glob("*.json")):
            archive.write(file, f"dir/{file.name}")
    tarred = tmp_path / "packets.tar.gz"
    with tarfile.open(tarred, "w:gz") as archive:
        for file in sorted(folder.glob("*.json")):
            data = file.read_bytes()
            info = tarfile.TarInfo(f"dir/{file.name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))

    def hashes(path: Path) -> list[tuple[str, str]]:
        cases = read_all(path)
        assert all(isinstance(c, Case) for c in cases)
        return sorted((c.id, c.content_hash()) for c in cases if isinstance(c, Case))

    assert len(hashes(folder)) == 3
    assert hashes(folder) == hashes(zipped) == hashes(tarred)


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "big.json"
    source.write_text(json.dumps(packet()))
    reader = PhenopacketReader(ReaderContext(max_file_bytes=100))
    with pytest.raises(InputTooLargeError, match="over the limit"):
        list(reader.read(source))


@pytest.mark.slow
def test_real_archive_reads_every_case(real_kb, phenopacket_archive: Path) -> None:
    archive = phenopacket_archive
    expected_cases = 0
    diseases: set[str] = set()
    observed = excluded = 0
    with tarfile.open(archive) as tar:
        for member in tar:
            if not member.name.endswith(".json"):
                continue
            handle = tar.extractfile(member)
            assert handle is not None
            raw = json.load(handle)
            expected_cases += 1
            diseases.update(i["diagnosis"]["disease"]["id"] for i in raw["interpretations"])
            for feature in raw.get("phenotypicFeatures", []):
                if feature.get("excluded"):
                    excluded += 1
                else:
                    observed += 1
    records = read_all(archive, real_kb)
    rejects = [r for r in records if not isinstance(r, Case)]
    assert rejects == []
    cases = [r for r in records if isinstance(r, Case)]
    assert len(cases) == expected_cases == 4277
    assert len({c.id for c in cases}) == expected_cases
    assert {d.disease_id for c in cases for d in c.diagnoses} == diseases
    assert sum(len(c.observed) for c in cases) == observed
    assert sum(len(c.excluded) for c in cases) == excluded


def genomic_packet(packet_id: str = "G1") -> dict:  # type: ignore[type-arg]
    """A packet with a VCF beside it and a genomic interpretation (het pathogenic FBN1)."""
    data = packet(packet_id)
    data["files"] = [
        {
            "uri": "file://g1.vcf.gz",
            "individualToFileIdentifiers": {"proband": "SAMPLE_7"},
            "fileAttributes": {"fileFormat": "vcf", "genomeAssembly": "GRCh38"},
        },
        {"uri": "file://notes.pdf", "fileAttributes": {"fileFormat": "pdf"}},
    ]
    descriptor = {
        "id": "v1",
        "geneContext": {"valueId": "HGNC:3603", "symbol": "FBN1"},
        "expressions": [{"syntax": "hgvs.c", "value": "NM_000138.5:c.1A>T"}],
        "vcfRecord": {
            "genomeAssembly": "hg38",
            "chrom": "chr15",
            "pos": "48700000",
            "ref": "C",
            "alt": "T",
        },
        "allelicState": {"id": "GENO:0000135", "label": "heterozygous"},
    }
    data["interpretations"][0]["diagnosis"]["genomicInterpretations"] = [
        {
            "subjectOrBiosampleId": "proband",
            "interpretationStatus": "CAUSATIVE",
            "variantInterpretation": {
                "acmgPathogenicityClassification": "PATHOGENIC",
                "variationDescriptor": descriptor,
            },
        },
        {
            "subjectOrBiosampleId": "proband",
            "interpretationStatus": "REJECTED",
            "gene": {"valueId": "HGNC:1", "symbol": "NOPE"},
        },
        {
            "subjectOrBiosampleId": "proband",
            "interpretationStatus": "CANDIDATE",
            "gene": {"valueId": "HGNC:2200", "symbol": "COL1A1"},
        },
    ]
    return data


def test_sequencing_results_are_read_not_their_content(tmp_path: Path) -> None:
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "g1.json").write_text(json.dumps(genomic_packet()))
    [case] = read_all(folder)
    assert isinstance(case, Case) and case.genomics is not None
    [vcf] = case.genomics.files  # the PDF is not a VCF
    assert vcf.uri == str((folder / "g1.vcf.gz").resolve()), "relative to the packet's folder"
    assert (vcf.sample, vcf.assembly) == ("SAMPLE_7", "GRCh38")
    [call] = case.genomics.variants
    assert (call.gene, call.gene_id, call.zygosity, call.classification) == (
        "FBN1",
        "HGNC:3603",
        "heterozygous",
        "pathogenic",
    )
    assert call.variant is not None and "c.1A>T" in call.variant
    assert case.genomics.genes == ["HGNC:2200|COL1A1"], "rejected genes are left out"
    plain = read_all(_write(tmp_path / "plain.json", packet("P9")))[0]
    assert isinstance(plain, Case) and plain.genomics is None
    assert "genomics" not in json.dumps(plain.model_dump(mode="json", exclude_none=True))


def _write(path: Path, data: dict) -> Path:  # type: ignore[type-arg]
    path.write_text(json.dumps(data))
    return path


def test_an_absolute_vcf_path_of_a_moved_folder_is_found_beside_the_packet(
    tmp_path: Path,
) -> None:
    data = genomic_packet("G2")
    data["files"][0]["uri"] = "file:///no/such/place/g1.vcf.gz"
    folder = tmp_path / "moved"
    folder.mkdir()
    (folder / "g2.json").write_text(json.dumps(data))
    [case] = read_all(folder)
    assert isinstance(case, Case) and case.genomics is not None
    assert case.genomics.files[0].uri == "file:///no/such/place/g1.vcf.gz", "kept when absent"
    (folder / "g1.vcf.gz").write_bytes(b"")
    [case] = read_all(folder)
    assert isinstance(case, Case) and case.genomics is not None
    assert case.genomics.files[0].uri == str((folder / "g1.vcf.gz").resolve())
