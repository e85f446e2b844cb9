"""Format detection of folders: file by file, one reader per format, every unread file listed.

The mixed folder of these tests::

    mixed/
      KCNT1/phenopackets/A.json   phenopacket  -> phenopacket reader (cohort KCNT1)
      B.json                      phenopacket  -> phenopacket reader
      bundle.json                 FHIR Bundle  -> FHIR reader (one Patient)
      data.bin                    skipped: unsupported file type
      other.json                  skipped: JSON no reader recognises
      README.md                   skipped: notes beside structured records
      packets.zip                 skipped: archives inside a folder are not opened
      .DS_Store, .git/config      ignored, not listed (hidden)
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from ocais.errors import InvalidRecordError, UnsupportedFormatError
from ocais.ingest import ReaderContext, detect_reader
from ocais.ingest.base import Record
from ocais.ingest.folder import FolderReader
from ocais.ingest.phenopacket import PhenopacketReader
from ocais.schemas import Case
from tests.helpers import fhir_bundle, packet


@pytest.fixture(autouse=True)
def site_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCAIS_DEID_SECRET", "a-long-random-test-secret-for-folders")


def write_packets(folder: Path) -> None:
    cohort = folder / "KCNT1" / "phenopackets"
    cohort.mkdir(parents=True)
    (cohort / "A.json").write_text(json.dumps(packet("A")))
    (folder / "B.json").write_text(json.dumps(packet("B")))


def mixed_folder(root: Path) -> Path:
    folder = root / "mixed"
    write_packets(folder)
    (folder / "bundle.json").write_text(json.dumps(fhir_bundle("patient-1")))
    (folder / "data.bin").write_bytes(b"\x00\x01\x02")
    (folder / "other.json").write_text(json.dumps({"hello": "world"}))
    (folder / "README.md").write_text("# Cases from the clinic\n")
    with zipfile.ZipFile(folder / "packets.zip", "w") as archive:
        archive.writestr("C.json", json.dumps(packet("C")))
    (folder / ".DS_Store").write_bytes(b"\x00")
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("[core]\n")
    return folder


def split(records: list[Record]) -> tuple[list[Case], list[InvalidRecordError]]:
    cases = [r for r in records if isinstance(r, Case)]
    return cases, [r for r in records if isinstance(r, InvalidRecordError)]


def test_mixed_folder_is_read_file_by_file(tmp_path: Path) -> None:
    folder = mixed_folder(tmp_path)
    reader = detect_reader(folder, ReaderContext())
    assert isinstance(reader, FolderReader) and reader.name == "mixed"
    cases, rejects = split(list(reader.read(folder)))
    assert rejects == []
    by_format = {c.external_id: c.provenance.source_format for c in cases}
    assert sorted(by_format.values()) == ["fhir", "phenopacket", "phenopacket"]
    assert by_format["A"] == by_format["B"] == "phenopacket"
    cohorts = {c.external_id: c.cohort for c in cases if c.provenance.source_format != "fhir"}
    assert cohorts == {"A": "KCNT1", "B": None}  # the path under the folder still names it
    reasons = {Path(s["path"]).name: s["reason"] for s in reader.skipped}
    assert set(reasons) == {"data.bin", "other.json", "README.md", "packets.zip"}
    assert reasons["data.bin"] == "unsupported file type '.bin'"
    assert reasons["other.json"].startswith("no reader recognises this JSON")
    assert "--format text" in reasons["README.md"]
    assert "import it on its own" in reasons["packets.zip"]


def test_folder_of_one_format_keeps_its_name_and_lists_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "packets"
    write_packets(folder)
    (folder / "README.txt").write_text("not a phenopacket")
    (folder / "ocais-manifest.json").write_text(json.dumps({"generator": "ocais.synth"}))
    reader = detect_reader(folder, ReaderContext())
    assert isinstance(reader, FolderReader) and reader.name == "phenopacket"
    cases, rejects = split(list(reader.read(folder)))
    assert [c.external_id for c in cases] == ["B", "A"] and rejects == []  # B.json < KCNT1/
    assert [(Path(s["path"]).name, s["reason"]) for s in reader.skipped] == [
        (
            "README.txt",
            "notes beside structured records are not read; import them with --format text",
        ),
        ("ocais-manifest.json", "a synthetic set's manifest, not a record"),
    ]


def test_folder_of_notes_is_a_notes_source(tmp_path: Path) -> None:
    (tmp_path / "visit.txt").write_text("Seizures since 2019.")
    (tmp_path / "scan.png").write_bytes(b"\x89PNG")
    reader = detect_reader(tmp_path, ReaderContext())
    assert reader.name == "text"
    assert isinstance(reader, FolderReader) and [s["reason"] for s in reader.skipped] == [
        "unsupported file type '.png'"
    ]


def test_synthea_export_folder_is_one_source(tmp_path: Path) -> None:
    csv_dir = tmp_path / "export" / "csv"
    csv_dir.mkdir(parents=True)
    (csv_dir / "patients.csv").write_text("Id\n")
    (tmp_path / "export" / "notes.bin").write_bytes(b"\x00")
    assert detect_reader(tmp_path / "export", ReaderContext()).name == "synthea-csv"


def test_folder_without_records_says_so(tmp_path: Path) -> None:
    (tmp_path / "data.bin").write_bytes(b"\x00")
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(UnsupportedFormatError, match="none of its 2 files") as error:
        detect_reader(tmp_path, ReaderContext())
    assert "--format" in (error.value.hint or "")


def test_phenopackets_of_a_folder_are_parsed_in_workers_as_before(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    write_packets(folder)
    for number in range(3):
        (folder / f"P{number}.json").write_text(json.dumps(packet(f"P{number}")))
    (folder / "other.json").write_text("{}")
    serial, [reject] = split(list(PhenopacketReader(ReaderContext()).read(folder)))
    assert Path(reject.source).name == "other.json"  # given the whole folder, it is a reject
    reader = detect_reader(folder, ReaderContext(workers=2))
    assert isinstance(reader, FolderReader) and reader.name == "phenopacket"
    cases, rejects = split(list(reader.read(folder)))
    same = {"provenance": {"created_at"}}
    assert [c.model_dump(exclude=same) for c in cases] == [
        c.model_dump(exclude=same) for c in serial
    ]
    assert rejects == [] and [Path(s["path"]).name for s in reader.skipped] == ["other.json"]


def test_vcfs_and_a_simulation_summary_beside_packets_are_listed_not_read(
    tmp_path: Path,
) -> None:
    from ocais.ingest.base import ReaderContext
    from ocais.ingest.registry import detect_reader
    from tests.helpers import packet

    (tmp_path / "p1.json").write_text(json.dumps(packet("P1")))
    (tmp_path / "p1.vcf.gz").write_bytes(b"\x1f\x8b")
    (tmp_path / "ocais-simulation.json").write_text("{}")
    reader = detect_reader(tmp_path, ReaderContext())
    reasons = {Path(s["path"]).name: s["reason"] for s in reader.skipped}
    assert "sequencing file" in reasons["p1.vcf.gz"]
    assert "simulated set" in reasons["ocais-simulation.json"]
    assert [r.external_id for r in reader.read(tmp_path)] == ["P1"]
