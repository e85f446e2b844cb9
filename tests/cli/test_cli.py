"""The ``ocais`` command end to end: every test runs the real app in a fresh data directory
against the tiny HPO release (``--data-dir``/``--hpo-dir``), one worker process."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ocais import __version__
from ocais.cli.main import app
from tests.cli.conftest import ENV, Cli, runner
from tests.helpers import packet

FEATURES_C = [
    {"type": {"id": "HP:0000505", "label": "Visual impairment"}},
    {"type": {"id": "HP:0001250", "label": "Seizure"}, "excluded": True},
]
DISEASE_B = [{"term": {"id": "OMIM:100002", "label": "Disease B"}}]


def packets() -> list[dict[str, Any]]:
    """A and B: Seizure and its child observed, Visual impairment excluded, Disease A.
    C: Visual impairment observed, Seizure excluded, Disease B (from ``diseases`` only)."""
    return [
        packet("case-A"),
        packet("case-B"),
        packet("case-C", phenotypicFeatures=FEATURES_C, interpretations=[], diseases=DISEASE_B),
    ]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def n_features(records: list[dict[str, Any]], *, excluded: bool) -> int:
    return sum(
        bool(f.get("excluded")) == excluded for r in records for f in r["phenotypicFeatures"]
    )


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "packets.jsonl", packets())


@pytest.fixture
def loaded(cli: Cli, source: Path) -> Cli:
    """The CLI with the three packets imported."""
    cli.json("ingest", str(source))
    return cli


# --- root --------------------------------------------------------------------------------


def test_version() -> None:
    result = runner.invoke(app, ["--version"], env=ENV)
    assert result.exit_code == 0
    assert result.stdout.strip() == f"ocais {__version__}"


def test_no_arguments_shows_help() -> None:
    result = runner.invoke(app, [], env=ENV)
    assert "knowledge" in result.output and "ingest" in result.output


# --- knowledge ---------------------------------------------------------------------------


def test_knowledge_info_json(cli: Cli, tiny_release: Path) -> None:
    info = cli.json("knowledge", "info")
    assert info["hpo_version"] == "2099-01-01"
    assert info["annotations_version"] == "2099-01-02"
    assert info["n_terms"] == 7
    assert info["n_diseases"] == {"OMIM": 2, "ORPHA": 1}
    assert Path(info["sources"]["ontology"]) == tiny_release / "hp.obo"
    # the compiled cache lives in the data directory given on the command line
    assert Path(info["cache_dir"]).is_relative_to(cli.data_dir)


def test_knowledge_info_table(cli: Cli) -> None:
    result = cli("knowledge", "info")
    assert result.exit_code == 0
    assert "Knowledge base" in result.stdout
    assert re.search(r"hpo version\s+│\s+2099-01-01", result.stdout)


def test_knowledge_term_by_id(cli: Cli) -> None:
    result = cli("knowledge", "term", "HP:0001250")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "HP:0001250 Seizure" in out
    assert "An intermittent abnormality of nervous system physiology." in out
    assert "synonyms: Seizures; Epilepsy" in out
    assert "parents: HP:0000707" in out
    assert "obsolete" not in out


def test_knowledge_term_by_synonym(cli: Cli) -> None:
    result = cli("knowledge", "term", "grand mal seizure")
    assert result.exit_code == 0, result.stderr
    assert "HP:0002069 Bilateral tonic-clonic seizure" in result.stdout
    [found] = cli.json("knowledge", "term", "grand mal seizure")
    assert (found["id"], found["parents"], found["replaced"]) == (
        "HP:0002069",
        ["HP:0001250"],
        None,
    )


@pytest.mark.parametrize("old_id", ["HP:0001251", "HP:0000999"])  # alt id; obsolete, replaced_by
def test_knowledge_term_by_alt_or_obsolete_id_shows_the_replacement(cli: Cli, old_id: str) -> None:
    result = cli("knowledge", "term", old_id)
    assert result.exit_code == 0, result.stderr
    assert f"{old_id} is obsolete or an alternative id of HP:0001250" in result.stdout
    assert "HP:0001250 Seizure" in result.stdout
    [found] = cli.json("knowledge", "term", old_id)
    assert (found["id"], found["replaced"]) == ("HP:0001250", old_id)


def test_knowledge_term_word_search_lists_several_terms(cli: Cli) -> None:
    result = cli("knowledge", "term", "abnormality")
    assert result.exit_code == 0, result.stderr
    assert "HPO 2099-01-01: 'abnormality'" in result.stdout
    for term_id, name in [
        ("HP:0000118", "Phenotypic abnormality"),
        ("HP:0000707", "Abnormality of the nervous system"),
        ("HP:0000478", "Abnormality of the eye"),
    ]:
        assert re.search(rf"{term_id}\s+│\s+{name}\s+│", result.stdout), term_id
    found = cli.json("knowledge", "term", "abnormality")
    assert {t["id"] for t in found} == {"HP:0000118", "HP:0000707", "HP:0000478"}
    assert len(cli.json("knowledge", "term", "abnormality", "--limit", "2")) == 2
    partial = cli.json("knowledge", "term", "seiz")
    assert {t["id"] for t in partial} == {"HP:0001250", "HP:0002069"}


def test_knowledge_term_unknown(cli: Cli) -> None:
    result = cli("knowledge", "term", "xyzzy")
    assert result.exit_code == 1
    assert "No HPO term matches 'xyzzy' in HPO 2099-01-01." in result.stdout
    assert cli.json("knowledge", "term", "xyzzy") == []


def test_knowledge_disease_json_frequencies(cli: Cli) -> None:
    disease = cli.json("knowledge", "disease", "OMIM:100001")
    assert (disease["id"], disease["name"]) == ("OMIM:100001", "Disease A")
    assert disease["knowledge_version"] == "2099-01-01"
    freq = {p["id"]: p["frequency"] for p in disease["phenotypes"]}
    # 1/2, and HP:0040281 "very frequent" (80-99 %) as its midpoint; inheritance row left out
    assert freq == {"HP:0001250": 0.5, "HP:0000505": pytest.approx(0.895, abs=1e-3)}
    excluded = cli.json("knowledge", "disease", "OMIM:100002")["phenotypes"]
    assert {(p["id"], p["excluded"]) for p in excluded} == {
        ("HP:0002069", False),
        ("HP:0000505", True),
    }


def test_knowledge_disease_table(cli: Cli) -> None:
    result = cli("knowledge", "disease", "OMIM:100002")
    assert result.exit_code == 0, result.stderr
    assert "OMIM:100002 Disease B" in result.stdout
    assert re.search(r"HP:0002069\s+│\s+Bilateral tonic-clonic seizure\s+│\s+80%", result.stdout)
    assert "NOT Visual impairment" in result.stdout


def test_knowledge_disease_unknown(cli: Cli) -> None:
    result = cli("knowledge", "disease", "OMIM:999999")
    assert result.exit_code == 2
    assert "unknown_disease" in result.stderr and "OMIM:999999" in result.stderr
    assert result.stdout == ""


def test_missing_hpo_release_is_an_error_not_a_traceback(cli: Cli, tmp_path: Path) -> None:
    cli.hpo_dir = tmp_path / "no-such-release"
    source = write_jsonl(tmp_path / "p.jsonl", packets())
    for args in (
        ["knowledge", "info"],
        ["knowledge", "term", "seizure"],
        ["ingest", str(source)],
        ["demo", str(source)],
    ):
        result = cli(*args)
        assert result.exit_code == 2, args
        assert "knowledge_error" in result.stderr and "no-such-release" in result.stderr
    assert cli.json("stats")["cases"] == 0  # the store needs no knowledge base


def test_bad_store_url_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    args = ["--store-url", "nosuchdialect://x", "--data-dir", str(tmp_path), "cases", "list"]
    result = runner.invoke(app, args, env=ENV)
    assert result.exit_code == 2, result.exception
    assert "store_error" in result.stderr and "nosuchdialect://x" in result.stderr


# --- ingest ------------------------------------------------------------------------------


def test_ingest_counts_and_reingest_is_unchanged(cli: Cli, source: Path) -> None:
    first = cli.json("ingest", str(source))
    assert first["status"] == "completed" and first["source_format"] == "phenopacket"
    assert (first["n_read"], first["n_inserted"], first["n_rejected"]) == (3, 3, 0)
    assert first["rejects"] == [] and first["n_term_issues"] == 0
    again = cli.json("ingest", str(source))
    assert (again["n_read"], again["n_inserted"], again["n_updated"], again["n_unchanged"]) == (
        3,
        0,
        0,
        3,
    )
    assert again["run_id"] != first["run_id"]
    assert cli.json("stats")["cases"] == 3


def test_ingest_changed_record_is_updated(cli: Cli, source: Path, tmp_path: Path) -> None:
    cli.json("ingest", str(source))
    changed = packets()
    changed[0]["phenotypicFeatures"] = [{"type": {"id": "HP:0000505"}}]
    report = cli.json("ingest", str(write_jsonl(tmp_path / "changed.jsonl", changed)))
    assert (report["n_inserted"], report["n_updated"], report["n_unchanged"]) == (0, 1, 2)
    assert cli.json("cases", "list", "--hpo", "HP:0000505")["total"] == 2  # case-A and case-C


def test_ingest_table_output(cli: Cli, source: Path) -> None:
    result = cli("ingest", str(source))
    assert result.exit_code == 0, result.stderr
    assert "completed phenopacket import of" in result.stdout
    assert "3 read, 3 new, 0 updated, 0 unchanged, 0 rejected" in result.stdout


def test_ingest_reports_replaced_term_ids(cli: Cli, tmp_path: Path) -> None:
    features = [{"type": {"id": "HP:0001251"}}, {"type": {"id": "HP:0000505"}}]
    source = write_jsonl(tmp_path / "alt.jsonl", [packet("alt", phenotypicFeatures=features)])
    result = cli("ingest", str(source))
    assert result.exit_code == 0, result.stderr
    assert "1 HPO ids were replaced (obsolete) or are unknown to HPO 2099-01-01" in result.stdout
    [summary] = cli.json("cases", "list")["cases"]
    case = cli.json("cases", "show", summary["id"])
    assert {p["id"] for p in case["phenotypes"]} == {"HP:0001250", "HP:0000505"}
    assert case["provenance"]["parameters"]["issues"] == [
        "HP:0001251 is obsolete or an alternative id; replaced by HP:0001250"
    ]


def test_ingest_unknown_format(cli: Cli, source: Path) -> None:
    result = cli("ingest", str(source), "--format", "nonsense")
    assert result.exit_code == 2
    assert "unknown format 'nonsense'" in result.stderr
    assert "['auto', 'fhir', 'phenopacket', 'synthea-csv', 'text']" in result.stderr
    assert cli.json("runs", "list") == []  # refused before a run was started


def test_ingest_strict_with_an_invalid_record_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    records = [*packets(), packet("bad", subject={"id": "s", "sex": "NOT_A_SEX"})]
    source = write_jsonl(tmp_path / "bad.jsonl", records)
    result = cli("ingest", str(source))
    assert result.exit_code == 2
    err = result.stderr
    assert "import_aborted" in err and "1 of 4 records are invalid; nothing was written" in err
    assert "[line 4 (bad)], field 'subject.sex'" in err  # the record label survives (markup)
    assert "--skip-invalid" in err
    assert re.search(r"line 4 \(bad\)\s+│\s+subject\.sex", err)  # the rejects table
    # --json: the abort as data, and the rejects file is written even though nothing was
    rejects_file = tmp_path / "aborted-rejects.jsonl"
    aborted = cli.json("ingest", str(source), "--rejects", str(rejects_file), exit_code=2)
    assert aborted["status"] == "aborted" and "nothing was written" in aborted["error"]
    assert [r["field"] for r in aborted["rejects"]] == ["subject.sex"]
    assert len(rejects_file.read_text().splitlines()) == 1
    stats = cli.json("stats")
    assert (stats["cases"], stats["observations_observed"], stats["ingest_runs"]) == (0, 0, 2)
    assert {run["status"] for run in cli.json("runs", "list")} == {"aborted"}


def test_ingest_skip_invalid_stores_the_rest_and_writes_rejects(cli: Cli, tmp_path: Path) -> None:
    good = packets()
    source = tmp_path / "mixed.jsonl"
    lines = [json.dumps(good[0]), json.dumps(packet("bad", subject={"sex": "NOT_A_SEX"}))]
    source.write_text("\n".join([*lines, *map(json.dumps, good[1:])]) + "\n", encoding="utf-8")
    rejects_file = tmp_path / "out" / "rejects.jsonl"  # parent folder is created
    report = cli.json("ingest", str(source), "--skip-invalid", "--rejects", str(rejects_file))
    assert (report["status"], report["n_read"], report["n_inserted"], report["n_rejected"]) == (
        "completed",
        4,
        3,
        1,
    )
    [line] = rejects_file.read_text(encoding="utf-8").splitlines()
    reject = json.loads(line)
    assert reject["field"] == "subject.sex" and reject["record"] == "line 2 (bad)"
    assert Path(reject["source"]) == source and "NOT_A_SEX" in reject["message"]
    assert cli.json("stats")["cases"] == 3


def test_ingest_missing_path(cli: Cli, tmp_path: Path) -> None:
    result = cli("ingest", str(tmp_path / "missing.jsonl"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr and "missing.jsonl" in result.stderr
    assert cli.json("stats")["cases"] == 0


# --- cases -------------------------------------------------------------------------------


def test_cases_list_and_filters(loaded: Cli) -> None:
    listed = loaded.json("cases", "list")
    assert listed["total"] == 3
    assert {c["external_id"] for c in listed["cases"]} == {"case-A", "case-B", "case-C"}
    by_id = {c["external_id"]: c for c in listed["cases"]}
    assert (by_id["case-A"]["n_observed"], by_id["case-A"]["n_excluded"]) == (2, 1)
    assert by_id["case-A"]["diagnoses"] == ["OMIM:100001"]
    assert (by_id["case-C"]["n_observed"], by_id["case-C"]["n_excluded"]) == (1, 1)

    def external_ids(*filters: str) -> set[str]:
        found = loaded.json("cases", "list", *filters)
        assert found["total"] == len(found["cases"])
        return {c["external_id"] for c in found["cases"]}

    # observed only: case-C excludes Seizure
    assert external_ids("--hpo", "HP:0001250") == {"case-A", "case-B"}
    assert external_ids("--hpo", "HP:0000505") == {"case-C"}
    assert external_ids("--disease", "OMIM:100001") == {"case-A", "case-B"}
    assert external_ids("--disease", "OMIM:100002") == {"case-C"}
    assert external_ids("--format", "phenopacket") == {"case-A", "case-B", "case-C"}
    assert external_ids("--format", "fhir") == set()
    assert external_ids("--site", "local") == {"case-A", "case-B", "case-C"}
    assert external_ids("--synthetic") == set()
    assert external_ids("--real") == {"case-A", "case-B", "case-C"}
    page = loaded.json("cases", "list", "--limit", "2")
    assert (page["total"], len(page["cases"])) == (3, 2)
    rest = loaded.json("cases", "list", "--limit", "2", "--offset", "2")["cases"]
    assert len(rest) == 1
    assert [c["id"] for c in page["cases"] + rest] == [c["id"] for c in listed["cases"]]


def test_cases_list_table(loaded: Cli) -> None:
    result = loaded("cases", "list")
    assert result.exit_code == 0, result.stderr
    assert "3 of 3 cases" in result.stdout
    for external_id in ("case-A", "case-B", "case-C"):
        assert external_id in result.stdout
    assert "OMIM:100002" in result.stdout


def test_cases_show_round_trip(loaded: Cli) -> None:
    summaries = loaded.json("cases", "list")["cases"]
    summary = next(c for c in summaries if c["external_id"] == "case-A")
    case = loaded.json("cases", "show", summary["id"])
    original = packets()[0]
    assert (case["id"], case["external_id"], case["site"]) == (summary["id"], "case-A", "local")
    assert case["subject"]["sex"] == "female" and case["subject"]["age_years"] == 3.5
    assert [(p["id"], p["excluded"]) for p in case["phenotypes"]] == [
        (f["type"]["id"], bool(f.get("excluded"))) for f in original["phenotypicFeatures"]
    ]
    onset = {p["id"]: p["onset_age_years"] for p in case["phenotypes"]}
    assert onset["HP:0002069"] == 0.5
    assert case["diagnoses"] == [
        {"disease_id": "OMIM:100001", "label": "Disease A", "status": "confirmed"}
    ]
    assert case["provenance"]["record_id"] == "case-A"
    assert case["provenance"]["knowledge_version"] == "2099-01-01"
    assert case["synthetic"] is False


def test_cases_show_table(loaded: Cli) -> None:
    summaries = loaded.json("cases", "list", "--disease", "OMIM:100002")["cases"]
    result = loaded("cases", "show", summaries[0]["id"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert f"{summaries[0]['id']} (case-C) · female · age 3.5 · site local" in out
    assert re.search(r"HP:0001250\s+│\s+Seizure\s+│\s+excluded", out)
    assert re.search(r"HP:0000505\s+│\s+Visual impairment\s+│\s+observed", out)
    assert "Diagnosis OMIM:100002 Disease B (confirmed)" in out


def test_cases_show_unknown(loaded: Cli) -> None:
    result = loaded("cases", "show", "no-such-case")
    assert result.exit_code == 2
    assert "not_found" in result.stderr and "no-such-case" in result.stderr


# --- runs --------------------------------------------------------------------------------


def test_ingest_lists_the_files_it_skipped(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "packets"
    folder.mkdir()
    for record in packets():
        (folder / f"{record['id']}.json").write_text(json.dumps(record), encoding="utf-8")
    (folder / "scan.bin").write_bytes(b"\x00\x01")
    result = cli("ingest", str(folder))  # strict: a stray file is no reason to abort
    assert result.exit_code == 0, result.stderr
    assert "completed phenopacket import" in result.stdout and "3 new" in result.stdout
    assert "1 file skipped" in result.stderr
    assert re.search(r"scan\.bin\s+│ unsupported file type '\.bin'", result.stderr)
    report = cli.json("ingest", str(folder))
    [skipped] = report["skipped"]
    assert Path(skipped["path"]).name == "scan.bin"
    shown = cli("runs", "show", report["run_id"])
    assert shown.exit_code == 0 and "scan.bin" in shown.stderr
    assert cli.json("runs", "show", report["run_id"])["settings"]["skipped"] == [skipped]


def test_runs_list_and_show(cli: Cli, tmp_path: Path, source: Path) -> None:
    cli.json("ingest", str(source))
    mixed = write_jsonl(tmp_path / "mixed.jsonl", packets())
    mixed.write_text(mixed.read_text() + "{not json\n")
    report = cli.json("ingest", str(mixed), "--skip-invalid")
    runs = cli.json("runs", "list")
    assert runs[0]["id"] == report["run_id"]  # newest first
    assert [(r["status"], r["n_read"], r["n_inserted"], r["n_rejected"]) for r in runs] == [
        ("completed", 4, 0, 1),
        ("completed", 3, 3, 0),
    ]
    assert len(cli.json("runs", "list", "--limit", "1")) == 1
    run = cli.json("runs", "show", report["run_id"])
    assert run["id"] == report["run_id"] and run["settings"]["skip_invalid"] is True
    assert Path(run["source"]) == mixed
    [reject] = run["rejects"]
    assert reject["record"] == "line 4" and reject["message"].startswith("malformed JSON")
    assert reject == report["rejects"][0]
    table = cli("runs", "list")
    assert table.exit_code == 0 and report["run_id"][:8] in table.stdout
    shown = cli("runs", "show", report["run_id"])
    assert shown.exit_code == 0 and "1 rejected" in shown.stderr


def test_runs_show_unknown(cli: Cli) -> None:
    result = cli("runs", "show", "no-such-run")
    assert result.exit_code == 2
    assert "not_found" in result.stderr and "no-such-run" in result.stderr


# --- stats and demo ----------------------------------------------------------------------


def test_stats_counts(loaded: Cli) -> None:
    stats = loaded.json("stats")
    records = packets()
    assert stats["cases"] == len(records) == 3
    assert stats["cases_by_source_format"] == {"phenopacket": 3}
    assert stats["cases_by_site"] == {"local": 3}
    assert stats["synthetic_cases"] == 0
    assert stats["observations_observed"] == n_features(records, excluded=False) == 5
    assert stats["observations_excluded"] == n_features(records, excluded=True) == 3
    assert stats["distinct_observed_hpo_ids"] == 3
    assert (stats["diagnoses"], stats["distinct_disease_ids"]) == (3, 2)
    assert stats["ingest_runs"] == 1
    assert stats["url"] == f"sqlite:///{(loaded.data_dir / 'ocais.db').as_posix()}"
    table = loaded("stats")
    assert table.exit_code == 0
    assert re.search(r"│ cases\s+│ 3\s+│", table.stdout)


def test_demo_imports_a_folder_and_prints_store_statistics(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "packets"
    folder.mkdir()
    records = packets()
    for record in records:
        (folder / f"{record['id']}.json").write_text(json.dumps(record), encoding="utf-8")
    (folder / "README.txt").write_text("not a phenopacket")
    result = cli("demo", str(folder))
    assert result.exit_code == 0, result.stderr
    assert "HPO 2099-01-01: 7 terms, 3 diseases" in result.stderr
    assert "3 read, 3 new" in result.stdout
    assert re.search(r"│ cases\s+│ 3\s+│", result.stdout)
    assert re.search(r"│ observations observed\s+│ 5\s+│", result.stdout)
    assert "Store: sqlite:///" in result.stderr
    assert cli.json("stats")["cases"] == 3


def test_demo_missing_source(cli: Cli, tmp_path: Path) -> None:
    result = cli("demo", str(tmp_path / "missing"))
    assert result.exit_code == 2
    assert "missing does not exist" in result.stderr
    assert not (cli.data_dir / "ocais.db").exists()


# --- the real data set -------------------------------------------------------------------


@pytest.mark.slow
def test_ingest_real_phenopackets_with_the_default_release(
    tmp_path: Path, phenopacket_archive: Path
) -> None:
    cli = Cli(tmp_path / "data", hpo_dir=None)
    report = cli.json("ingest", str(phenopacket_archive))
    assert (report["n_read"], report["n_inserted"], report["n_rejected"]) == (4277, 4277, 0)
    stats = cli.json("stats")
    assert stats["cases"] == 4277
    assert stats["cases_by_source_format"] == {"phenopacket": 4277}
