"""Repository over SQLite and PostgreSQL: migrations, idempotent upserts, queries, runs."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from ocais.errors import InvalidRecordError, NotFoundError, StoreError
from ocais.schemas import (
    Case,
    Diagnosis,
    Finding,
    FindingCategory,
    Note,
    PhenotypeObservation,
    Provenance,
    Sex,
    Subject,
)
from ocais.store import CaseSummary, Repository, UpsertCounts
from ocais.store.migrate import head_revision, script_location
from ocais.store.models import Base

TABLES = {"cases", "observations", "diagnoses", "findings", "documents", "ingest_runs"}


def make_case(
    record_id: str,
    *,
    fmt: str = "phenopacket",
    site: str = "local",
    cohort: str | None = None,
    synthetic: bool = False,
    sex: Sex = Sex.UNKNOWN,
    age: float | None = None,
    observed: tuple[str, ...] = (),
    excluded: tuple[str, ...] = (),
    diagnoses: tuple[tuple[str, str], ...] = (),
    findings: tuple[Finding, ...] = (),
    notes: tuple[Note, ...] = (),
) -> Case:
    phenotypes = [PhenotypeObservation(id=h, onset_age_years=1.5) for h in observed]
    phenotypes += [PhenotypeObservation(id=h, excluded=True) for h in excluded]
    return Case(
        id=Case.stable_id(fmt, record_id),
        external_id=record_id,
        subject=Subject(sex=sex, age_years=age, birth_year=2000 if age else None),
        phenotypes=phenotypes,
        findings=list(findings),
        notes=list(notes),
        diagnoses=[Diagnosis(disease_id=d, label=f"label of {d}", status=s) for d, s in diagnoses],
        site=site,
        cohort=cohort,
        synthetic=synthetic,
        provenance=Provenance(
            source=f"/data/{fmt}/{record_id}", source_format=fmt, record_id=record_id
        ),
    )


def fixture_cases() -> list[Case]:
    lab = Finding(
        category=FindingCategory.OBSERVATION,
        system="LOINC",
        code="2345-7",
        display="Glucose",
        value=5.4,
        unit="mmol/L",
        date=date(2020, 3, 1),
    )
    condition = Finding(
        category=FindingCategory.CONDITION,
        system="SNOMEDCT",
        code="44054006",
        display="Diabetes",
        value="present",
        hpo_ids=["HP:0000819"],
    )
    med = Finding(category=FindingCategory.MEDICATION, system="RXNORM", code="860975")
    return [
        make_case(
            "pp-1",
            sex=Sex.FEMALE,
            age=4.0,
            observed=("HP:0001250", "HP:0001263"),
            excluded=("HP:0000252",),
            diagnoses=(("OMIM:300672", "confirmed"),),
        ),
        make_case(
            "pp-2",
            sex=Sex.MALE,
            age=12.5,
            cohort="epilepsy",
            observed=("HP:0001250",),
            diagnoses=(("OMIM:300672", "provisional"), ("OMIM:607208", "excluded")),
        ),
        make_case(
            "pp-3",
            site="berlin",
            observed=("HP:0004322", "HP:0001263", "HP:0000252"),
            diagnoses=(("ORPHA:558", "confirmed"),),
        ),
        make_case(
            "fhir-1",
            fmt="fhir",
            site="berlin",
            synthetic=True,
            sex=Sex.FEMALE,
            age=55.0,
            observed=("HP:0000819",),
            excluded=("HP:0001250",),
            findings=(lab, condition, med),
            notes=(Note(text="Patient reports thirst.", date=date(2020, 3, 2)),),
        ),
        make_case(
            "fhir-2",
            fmt="fhir",
            synthetic=True,
            findings=(lab,),
            notes=(Note(text="Discharge summary.", kind="discharge"), Note(text="Follow-up.")),
        ),
    ]


def row_count(repo: Repository, table: str, case_id: str | None = None) -> int:
    stmt = select(func.count()).select_from(Base.metadata.tables[table])
    if case_id is not None:
        stmt = stmt.where(Base.metadata.tables[table].c.case_id == case_id)
    with repo.engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


# -- migrations ---------------------------------------------------------------------------------


def test_migrations_create_tables_at_head(repo: Repository) -> None:
    assert head_revision() is not None
    assert repo.schema_revision() == head_revision()
    assert TABLES | {"alembic_version"} <= set(inspect(repo.engine).get_table_names())


def test_migrations_match_models(repo: Repository) -> None:
    with repo.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []


def test_migration_environment_is_packaged() -> None:
    location = script_location()
    assert (location / "env.py").is_file()
    assert (location / "script.py.mako").is_file()
    assert list((location / "versions").glob("0001_*.py"))


def test_reopen_does_not_migrate_again(store_url: str) -> None:
    with Repository.open(store_url) as repo:
        repo.upsert_cases(fixture_cases())
    with Repository.open(store_url) as repo:
        assert repo.schema_revision() == head_revision()
        assert repo.count_cases() == len(fixture_cases())


def test_open_without_migrate_leaves_schema_alone(store_url: str) -> None:
    with Repository.open(store_url, migrate=False) as repo:
        assert repo.schema_revision() is None
        assert not TABLES & set(inspect(repo.engine).get_table_names())


def test_invalid_url_is_store_error() -> None:
    with pytest.raises(StoreError, match="invalid store URL"):
        Repository.open("not a url")


def test_unreachable_server_is_store_error() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(StoreError, match="cannot connect") as info:
        Repository.open("postgresql://nobody@127.0.0.1:1/ocais?connect_timeout=2")
    assert info.value.hint


# -- writing ------------------------------------------------------------------------------------


def test_round_trip(repo: Repository) -> None:
    cases = fixture_cases()
    repo.upsert_cases(cases)
    for case in cases:
        assert repo.get_case(case.id) == case


def test_upsert_is_idempotent(repo: Repository) -> None:
    cases = fixture_cases()
    assert repo.upsert_cases(cases) == UpsertCounts(inserted=len(cases))
    n_observations = row_count(repo, "observations")
    assert repo.upsert_cases(cases) == UpsertCounts(unchanged=len(cases))
    assert row_count(repo, "cases") == len(cases)
    assert row_count(repo, "observations") == n_observations
    # New provenance (timestamp, source path) with the same clinical content: unchanged.
    again = fixture_cases()[0]
    again.provenance.source = "/elsewhere/pp-1.json"
    assert repo.upsert_cases([again]) == UpsertCounts(unchanged=1)


def test_changed_content_replaces_child_rows(repo: Repository) -> None:
    cases = fixture_cases()
    repo.upsert_cases(cases)
    before = repo.list_cases(limit=100)
    changed = cases[0].model_copy(deep=True)
    changed.phenotypes = [PhenotypeObservation(id="HP:0000001")]
    changed.diagnoses = [Diagnosis(disease_id="OMIM:100100")]
    changed.cohort = "new"
    assert repo.upsert_cases([changed]) == UpsertCounts(updated=1)
    assert row_count(repo, "cases") == len(cases)
    assert row_count(repo, "observations", changed.id) == 1
    assert row_count(repo, "diagnoses", changed.id) == 1
    assert repo.get_case(changed.id) == changed
    assert repo.count_cases(hpo_id="HP:0001250") == 1  # only pp-2 now
    assert repo.count_cases(disease_id="OMIM:100100") == 1
    # Order of the listing is kept (created_at is not touched by an update).
    assert [s.id for s in repo.list_cases(limit=100)] == [s.id for s in before]


def test_repeated_key_within_a_batch(repo: Repository) -> None:
    first = fixture_cases()[0]
    second = first.model_copy(deep=True)
    second.subject.age_years = 5.0
    counts = repo.upsert_cases([first, first, second])
    assert counts == UpsertCounts(inserted=1, unchanged=1, updated=1)
    assert row_count(repo, "cases") == 1
    assert row_count(repo, "observations") == len(first.phenotypes)
    assert repo.get_case(first.id) == second


def test_case_id_owned_by_another_record_is_store_error(repo: Repository) -> None:
    case = fixture_cases()[0]
    repo.upsert_cases([case])
    clash = case.model_copy(deep=True)
    clash.provenance.record_id = "another-record"
    with pytest.raises(StoreError):
        repo.upsert_cases([clash])
    assert repo.get_case(case.id) == case


def test_failed_transaction_writes_nothing(repo: Repository) -> None:
    cases = fixture_cases()
    with pytest.raises(RuntimeError, match="boom"), repo.transaction() as session:
        repo.upsert_cases(cases[:2], session=session)
        repo.upsert_cases(cases[2:], session=session)
        raise RuntimeError("boom")
    assert repo.count_cases() == 0
    for table in TABLES:
        assert row_count(repo, table) == 0


def test_transaction_commits_all_batches(repo: Repository) -> None:
    cases = fixture_cases()
    with repo.transaction() as session:
        counts = repo.upsert_cases(cases[:2], session=session)
        counts += repo.upsert_cases(cases[2:], session=session)
    assert counts == UpsertCounts(inserted=len(cases))
    assert repo.count_cases() == len(cases)


def test_delete_cascades(repo: Repository) -> None:
    cases = fixture_cases()
    repo.upsert_cases(cases)
    target = cases[3]  # fhir-1: observations, findings and a document
    children = ("observations", "findings", "documents")
    assert all(row_count(repo, t, target.id) > 0 for t in children)
    repo.delete_case(target.id)
    with pytest.raises(NotFoundError):
        repo.get_case(target.id)
    for table in (*children, "diagnoses"):
        assert row_count(repo, table, target.id) == 0
    assert repo.count_cases() == len(cases) - 1
    assert row_count(repo, "observations") == sum(len(c.phenotypes) for c in cases) - len(
        target.phenotypes
    )
    with pytest.raises(NotFoundError):
        repo.delete_case(target.id)


def test_missing_case_is_not_found(repo: Repository) -> None:
    with pytest.raises(NotFoundError, match="no case") as info:
        repo.get_case("does-not-exist")
    assert isinstance(info.value, LookupError)
    assert info.value.hint


# -- reading ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"source_format": "fhir"},
        {"source_format": "phenopacket", "site": "berlin"},
        {"site": "local"},
        {"cohort": "epilepsy"},
        {"synthetic": True},
        {"synthetic": False},
        {"disease_id": "OMIM:300672"},
        {"disease_id": "OMIM:607208"},  # only as an excluded diagnosis
        {"hpo_id": "HP:0001250"},
        {"hpo_id": "HP:0000252"},
        {"hpo_id": "HP:0001263", "site": "berlin"},
        {"hpo_id": "HP:9999999"},
    ],
)
def test_list_and_count_filters(repo: Repository, filters: dict[str, Any]) -> None:
    cases = fixture_cases()
    repo.upsert_cases(cases)

    def matches(case: Case) -> bool:
        checks = {
            "source_format": lambda v: case.provenance.source_format == v,
            "site": lambda v: case.site == v,
            "cohort": lambda v: case.cohort == v,
            "synthetic": lambda v: case.synthetic is v,
            "disease_id": lambda v: any(
                d.disease_id == v and d.status != "excluded" for d in case.diagnoses
            ),
            "hpo_id": lambda v: v in case.observed,
        }
        return all(checks[name](value) for name, value in filters.items())

    expected = {c.id for c in cases if matches(c)}
    assert repo.count_cases(**filters) == len(expected)
    assert {s.id for s in repo.list_cases(limit=100, **filters)} == expected


def test_list_cases_summaries_and_paging(repo: Repository) -> None:
    cases = fixture_cases()
    repo.upsert_cases(cases)
    by_id = {c.id: c for c in cases}
    listed = repo.list_cases(limit=100)
    assert len(listed) == len(cases)
    for summary in listed:
        case = by_id[summary.id]
        assert summary == CaseSummary(
            id=case.id,
            external_id=case.external_id,
            source_format=case.provenance.source_format,
            site=case.site,
            sex=case.subject.sex.value,
            age_years=case.subject.age_years,
            n_observed=len(case.observed),
            n_excluded=len(case.excluded),
            diagnoses=[d.disease_id for d in case.diagnoses if d.status != "excluded"],
            synthetic=case.synthetic,
        )
    pages = repo.list_cases(limit=2) + repo.list_cases(limit=2, offset=2)
    pages += repo.list_cases(limit=2, offset=4)
    assert [s.id for s in pages] == [s.id for s in listed]
    assert repo.list_cases(limit=2, offset=len(cases)) == []


def test_stats(repo: Repository) -> None:
    cases = fixture_cases()
    repo.upsert_cases(cases)
    repo.start_run("somewhere", "fhir", {})
    stats = repo.stats()
    assert stats.cases == len(cases)
    assert stats.cases_by_source_format == Counter(c.provenance.source_format for c in cases)
    assert stats.cases_by_site == Counter(c.site for c in cases)
    assert stats.synthetic_cases == sum(c.synthetic for c in cases)
    assert stats.observations_observed == sum(len(c.observed) for c in cases)
    assert stats.observations_excluded == sum(len(c.excluded) for c in cases)
    assert stats.distinct_observed_hpo_ids == len({h for c in cases for h in c.observed})
    assert stats.diagnoses == sum(len(c.diagnoses) for c in cases)
    assert stats.distinct_disease_ids == len({d.disease_id for c in cases for d in c.diagnoses})
    assert stats.findings_by_category == Counter(
        f.category.value for c in cases for f in c.findings
    )
    assert stats.documents == sum(len(c.notes) for c in cases)
    assert stats.ingest_runs == 1


def test_stats_of_empty_store(repo: Repository) -> None:
    stats = repo.stats()
    assert stats.cases == stats.observations_observed == stats.documents == 0
    assert stats.cases_by_site == stats.findings_by_category == {}
    assert stats.url == repo.url


def test_password_is_masked() -> None:
    from ocais.store.engine import normalise_url

    url = normalise_url("postgresql://me:s3cret@db.example/ocais")
    assert url.drivername == "postgresql+psycopg"
    assert "s3cret" not in url.render_as_string(hide_password=True)


# -- ingest runs --------------------------------------------------------------------------------


def test_ingest_runs(repo: Repository) -> None:
    first = repo.start_run("/data/a.json", "phenopacket", {"batch_size": 500})
    run = repo.get_run(first)
    assert (run.status, run.source, run.settings, run.finished_at) == (
        "running",
        "/data/a.json",
        {"batch_size": 500},
        None,
    )
    counts = repo.upsert_cases(fixture_cases(), run_id=first)
    reject = InvalidRecordError("bad id", source="/data/a.json", field="id", record="7")
    repo.finish_run(
        first,
        "completed",
        n_read=6,
        n_inserted=counts.inserted,
        rejects=[reject, {"source": "x", "record": None, "field": None, "message": "m"}],
    )
    run = repo.get_run(first)
    assert run.status == "completed"
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert run.started_at.tzinfo is not None
    assert (run.n_read, run.n_inserted, run.n_rejected) == (6, len(fixture_cases()), 2)
    assert run.rejects[0] == {
        "source": "/data/a.json",
        "record": "7",
        "field": "id",
        "message": "bad id",
    }
    time.sleep(0.01)
    second = repo.start_run("/data/b", "fhir", {})
    assert [r.id for r in repo.list_runs(10)] == [second, first]
    assert [r.id for r in repo.list_runs(1)] == [second]
    with repo.engine.connect() as conn:
        run_ids = conn.execute(text("SELECT DISTINCT ingest_run_id FROM cases")).scalars().all()
    assert run_ids == [first]


def test_ingest_run_errors(repo: Repository) -> None:
    with pytest.raises(NotFoundError):
        repo.get_run("nope")
    with pytest.raises(NotFoundError):
        repo.finish_run("nope", "failed")
    run_id = repo.start_run("s", "fhir", {})
    with pytest.raises(ValueError, match="status"):
        repo.finish_run(run_id, "done")


# -- SQLite specifics ---------------------------------------------------------------------------


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "dir" / "ocais.db"


def test_sqlite_creates_parent_and_uses_wal(sqlite_file: Path) -> None:
    with Repository.open(f"sqlite:///{sqlite_file}") as repo:
        assert sqlite_file.is_file()
        with repo.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_sqlite_reopen_keeps_data(sqlite_file: Path) -> None:
    cases = fixture_cases()
    with Repository.open(f"sqlite:///{sqlite_file}") as repo:
        repo.upsert_cases(cases)
        run_id = repo.start_run("src", "phenopacket", {})
        stats = repo.stats()
    with Repository.open(f"sqlite:///{sqlite_file}") as repo:
        assert repo.stats() == stats
        assert [repo.get_case(c.id) for c in cases] == cases
        assert repo.get_run(run_id).status == "running"


def test_sqlite_readers_do_not_see_uncommitted_writes(sqlite_file: Path) -> None:
    url = f"sqlite:///{sqlite_file}"
    with Repository.open(url) as writer, Repository.open(url) as reader:
        with writer.transaction() as session:
            writer.upsert_cases(fixture_cases(), session=session)
            assert reader.count_cases() == 0  # WAL: readers are not blocked by the writer
        assert reader.count_cases() == len(fixture_cases())


def test_sqlite_unwritable_directory_is_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="store directory"):
        Repository.open(f"sqlite:///{blocker / 'sub' / 'ocais.db'}")


# -- throughput ---------------------------------------------------------------------------------


def synthetic_cases(n: int) -> list[Case]:
    """Phenopacket-sized cases: 10 phenotype observations (1 excluded), 1 diagnosis."""
    out = []
    for i in range(n):
        hpo = [f"HP:{(i * 7919 + j * 104729) % 9_999_999:07d}" for j in range(10)]
        out.append(
            make_case(
                f"bench-{i}",
                sex=Sex.FEMALE if i % 2 else Sex.MALE,
                age=float(i % 90),
                observed=tuple(hpo[:9]),
                excluded=(hpo[9],),
                diagnoses=((f"OMIM:{100000 + i % 700}", "confirmed"),),
            )
        )
    return out


@pytest.mark.slow
def test_bulk_upsert_in_batches(repo: Repository) -> None:
    """Many batches: every case and child row written once (speed is in benchmarks/)."""
    cases = synthetic_cases(5000)
    total = UpsertCounts()
    for i in range(0, len(cases), 500):
        total += repo.upsert_cases(cases[i : i + 500])
    assert total == UpsertCounts(inserted=len(cases))
    assert row_count(repo, "observations") == 10 * len(cases)


def test_store_from_a_newer_version_is_store_error(store_url: str) -> None:
    with Repository.open(store_url) as repo, repo.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match="cannot migrate") as info:
        Repository.open(store_url)
    assert "newer" in (info.value.hint or "")


def test_integrity_error_inside_a_transaction_is_store_error(repo: Repository) -> None:
    case = fixture_cases()[0]
    repo.upsert_cases([case])
    clash = case.model_copy(deep=True)
    clash.provenance.record_id = "another-record"
    with pytest.raises(StoreError, match="rejected") as info, repo.transaction() as session:
        repo.upsert_cases(fixture_cases()[1:], session=session)
        repo.upsert_cases([clash], session=session)
    assert info.value.hint
    assert repo.count_cases() == 1
