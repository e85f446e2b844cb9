"""Import-and-index as one unit, and the repairs: dead runs, unfinished indexing, old formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ocais.config import Settings
from ocais.schemas import Case, PhenotypeObservation, Provenance
from ocais.search.service import SearchFilters, SearchQuery
from ocais.store import CaseFilter
from ocais.workflows import OPERATOR, Services, build_services
from ocais.workflows.cases import search_cases
from ocais.workflows.indexing import (
    INDEX_PENDING,
    import_and_index,
    owner_stamp,
    process_alive,
    reindex,
    store_stats,
)
from tests.helpers import fhir_bundle, packet

ALL_EXCLUDED = [
    {"type": {"id": "HP:0001250", "label": "Seizure"}, "excluded": True},
    {"type": {"id": "HP:0000505", "label": "Visual impairment"}, "excluded": True},
]


def write_packets(
    folder: Path, n: int, *, all_excluded: tuple[int, ...] = (), prefix: str = "P"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        extra = {"phenotypicFeatures": ALL_EXCLUDED} if i in all_excluded else {}
        (folder / f"p{i}.json").write_text(json.dumps(packet(f"{prefix}{i}", **extra)))
    return folder


def test_a_case_without_present_findings_is_indexed_and_never_blocks_the_index(
    services: Services, tmp_path: Path
) -> None:
    source = write_packets(tmp_path / "in", 5, all_excluded=(0, 3))
    outcome = import_and_index(services, source, skip_invalid=True)
    assert outcome.report.n_inserted == 5 and outcome.index_error is None
    assert outcome.indexed == 5
    stats = store_stats(services)
    assert stats["cases"] == stats["indexed_cases"] == 5
    assert reindex(services) == 5  # `ocais reindex` succeeds on them too
    # semantic search skips the profile-less cases; filter-only search still lists them
    by_terms = search_cases(services, OPERATOR, SearchQuery(hpo=["HP:0001250"], k=10))
    assert len(by_terms.hits) == 3
    listed = search_cases(
        services, OPERATOR, SearchQuery(filters=SearchFilters(sex="female"), k=10)
    )
    assert len(listed.hits) == 5
    run = services.repo.list_runs(limit=1)[0]
    assert run.status == "completed" and run.settings["index"] == "done"


def test_a_dead_process_is_told_from_a_live_one() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    stamp = owner_stamp()
    assert process_alive(stamp) is True
    assert process_alive({**stamp, "pid": child.pid}) is False
    assert process_alive({**stamp, "host": "another-host"}) is None
    assert process_alive({}) is None


def interrupted_import(services: Services, n: int) -> str:
    """What a SIGKILL after committing cases but before indexing them leaves behind."""
    repo = services.repo
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    run_id = repo.start_run(
        "killed-source", "phenopacket", {**owner_stamp(), "pid": child.pid, "index": INDEX_PENDING}
    )
    cases = [
        Case(
            id=f"k{i}",
            phenotypes=[PhenotypeObservation(id="HP:0001250")],
            provenance=Provenance(source="killed-source", source_format="phenopacket"),
        )
        for i in range(n)
    ]
    repo.upsert_cases(cases, run_id=run_id)
    return run_id


def test_the_next_command_finishes_what_a_killed_import_left(
    settings: Settings, services: Services
) -> None:
    run_id = interrupted_import(services, 3)
    services.close()
    notices: list[str] = []
    later = build_services(settings, notify=notices.append)
    try:
        stats = store_stats(later)  # what `ocais --json stats` runs
        assert stats["cases"] == stats["indexed_cases"] == 3
        run = later.repo.get_run(run_id)
        assert run.status == "interrupted" and run.settings["index"] == "done"
        assert any("interrupted" in n for n in notices)
        assert any("indexed 3 cases of import run" in n for n in notices)
    finally:
        later.close()


def test_an_index_missing_cases_is_rebuilt_and_an_old_format_dropped(
    settings: Settings, services: Services, tmp_path: Path
) -> None:
    import_and_index(services, write_packets(tmp_path / "in", 4), skip_invalid=True)
    search = services.search()
    search.index.create_collection(search.spec.model_copy(update={"name": "cases_phenotype"}))
    search.index.delete(search.collection, services.repo.case_ids(CaseFilter())[:2])
    services.close()
    notices: list[str] = []
    later = build_services(settings, notify=notices.append)
    try:
        stats = store_stats(later)
        assert stats["cases"] == stats["indexed_cases"] == 4
        assert "cases_phenotype" not in later.search().index.list_collections()
        assert any("held 2 of 4 cases" in n for n in notices)
    finally:
        later.close()


def test_record_ids_are_keyed_by_the_installation_without_a_site_secret(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OCAIS_DEID_SECRET", raising=False)
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(fhir_bundle("MRN-0012345")))
    first = import_and_index(services, bundle)
    assert first.report.n_inserted == 1
    case = services.repo.get_case(services.repo.case_ids(CaseFilter())[0])
    assert case.external_id is not None and case.external_id.startswith("h:")
    assert "0012345" not in case.model_dump_json()
    again = import_and_index(services, bundle)
    assert again.report.n_unchanged == 1  # the same key: the same case


def test_an_import_marked_shared_is_read_by_every_clinician(
    services: Services, tmp_path: Path
) -> None:
    class Clinician:
        user_id, role = "someone", "clinician"

    private = import_and_index(services, write_packets(tmp_path / "a", 2), skip_invalid=True)
    shared = import_and_index(
        services, write_packets(tmp_path / "b", 3, prefix="S"), skip_invalid=True, shared=True
    )
    assert (private.indexed, shared.indexed) == (2, 3)
    search = services.search()
    assert search.index.count(search.collection, {"shared": True}) == 3
    found = search_cases(services, Clinician(), SearchQuery(hpo=["HP:0001250"], k=10))
    assert len(found.hits) == 3 and found.n_candidates == 3
    assert len(search_cases(services, OPERATOR, SearchQuery(hpo=["HP:0001250"], k=10)).hits) == 5
