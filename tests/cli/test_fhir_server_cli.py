"""``ocais ingest fhir-server URL --patient ID`` end to end: a hand-made chart served by the test
FHIR server (tests/ingest/fhir_server.py) on loopback, imported through the real CLI into a fresh
store on the tiny release, de-identified like any FHIR import; and ``ocais ingest PATH`` beside it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from ocais.ingest.deid import pseudonymous_id
from tests.cli.conftest import ENV, Cli
from tests.conftest import write_tiny_release
from tests.ingest.fhir_server import FhirTestServer, serve_fhir

SECRET = "a-long-random-test-secret-for-fhir-intake"
PID = "ehr-pt-48213"
TOKEN = "tok-cli-SECRET-9d2e71"
TOKEN_VAR = "EHR_FHIR_TOKEN"  # not OCAIS_…: those are settings
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UMLS = "http://www.nlm.nih.gov/research/umls"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
# what identifies the patient in the chart: none of it may be stored or printed
PHI = ["Zzyzxson", "Quintessa", "MRN-778899", "1990-06-15", "555-867-5309", "Sydneyville", PID]
FETCHED = {
    "Patient": 1,
    "Condition": 4,
    "Observation": 2,
    "MedicationRequest": 1,
    "Procedure": 1,
    "Encounter": 1,
}


def concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def chart(pid: str = PID) -> list[dict[str, Any]]:
    """A girl's chart: seizures (SNOMED CT, and UMLS again), visual impairment (SNOMED CT),
    fatigue (SNOMED CT, not cross-referenced by the release), height and weight, a medication,
    an encounter and a procedure."""
    ref = {"reference": f"Patient/{pid}", "display": "Quintessa Zzyzxson"}

    def condition(rid: str, code: dict[str, Any]) -> dict[str, Any]:
        return {
            "resourceType": "Condition",
            "id": rid,
            "clinicalStatus": concept(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"
            ),
            "code": code,
            "subject": ref,
            "onsetDateTime": "2019-03-01T10:00:00+00:00",
        }

    def observation(rid: str, code: str, display: str, value: float, unit: str) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "id": rid,
            "status": "final",
            "code": concept(LOINC, code, display),
            "subject": ref,
            "effectiveDateTime": "2019-11-02T08:00:00+00:00",
            "valueQuantity": {"value": value, "unit": unit},
        }

    return [
        {
            "resourceType": "Patient",
            "id": pid,
            "identifier": [{"system": "http://hospital.example.org/mrn", "value": "MRN-778899"}],
            "name": [{"family": "Zzyzxson", "given": ["Quintessa"]}],
            "telecom": [{"system": "phone", "value": "555-867-5309"}],
            "gender": "female",
            "birthDate": "1990-06-15",
            "address": [{"city": "Sydneyville"}],
        },
        condition("c-seizure", concept(SNOMED, "91175000", "Seizure")),
        condition("c-vision", concept(SNOMED, "397540003", "Visual impairment")),
        condition("c-fatigue", concept(SNOMED, "84229001", "Fatigue")),
        condition("c-seizure-umls", concept(UMLS, "C0036572", "Convulsions")),
        observation("o-height", "8302-2", "Body height", 165.5, "cm"),
        observation("o-weight", "29463-7", "Body weight", 54.0, "kg"),
        {
            "resourceType": "MedicationRequest",
            "id": "m-levetiracetam",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": concept(RXNORM, "187832", "levetiracetam 500 MG"),
            "subject": ref,
            "authoredOn": "2019-03-02",
        },
        {
            "resourceType": "Encounter",
            "id": "e-1",
            "status": "finished",
            "class": {"code": "AMB"},
            "type": [concept(SNOMED, "185349003", "Encounter for check up")],
            "subject": ref,
            "period": {"start": "2019-11-02T08:00:00+00:00"},
        },
        {
            "resourceType": "Procedure",
            "id": "p-eeg",
            "status": "completed",
            "code": concept(SNOMED, "54550000", "Electroencephalogram"),
            "subject": ref,
            "performedDateTime": "2019-03-05T09:00:00+00:00",
        },
    ]


def other_patient() -> list[dict[str, Any]]:
    """Another patient on the same server: never fetched."""
    other = chart("ehr-pt-99999")
    return [other[0], other[1]]


@pytest.fixture
def tiny_release(tmp_path: Path) -> Path:
    """The tiny release, with Visual impairment cross-referenced to SNOMED CT 397540003 (as in
    HPO) beside Seizure's SNOMEDCT_US:91175000 and UMLS:C0036572."""
    directory = write_tiny_release(tmp_path / "hpo")
    obo = directory / "hp.obo"
    text = obo.read_text(encoding="utf-8")
    term = "name: Visual impairment\n"
    obo.write_text(text.replace(term, term + "xref: SNOMEDCT_US:397540003\n"), encoding="utf-8")
    return directory


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The site secret and the token in the environment; temporary files in a folder we see."""
    monkeypatch.setitem(ENV, "OCAIS_DEID_SECRET", SECRET)
    monkeypatch.setenv(TOKEN_VAR, TOKEN)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


@pytest.fixture
def ehr() -> Iterator[FhirTestServer]:
    """The chart behind a bearer token, two resources a page."""
    with serve_fhir([*chart(), *other_patient()], token=TOKEN, max_page_size=2) as server:
        yield server


def pull(cli: Cli, server: FhirTestServer, *extra: str) -> Any:
    return cli.json(
        "ingest", "fhir-server", server.base_url, "--patient", PID, "--token-env", TOKEN_VAR, *extra
    )


def said(result: Result) -> str:
    """stderr on one line (the console wraps long messages)."""
    return " ".join(result.stderr.split())


def only_case(cli: Cli) -> dict[str, Any]:
    [summary] = cli.json("cases", "list")["cases"]
    return dict(cli.json("cases", "show", summary["id"]))


# --- the import ------------------------------------------------------------------------------


def test_a_chart_is_fetched_and_stored_de_identified(
    cli: Cli, site: Path, ehr: FhirTestServer
) -> None:
    report = pull(cli, ehr)
    assert (report["status"], report["source_format"]) == ("completed", "fhir")
    assert (report["n_read"], report["n_inserted"], report["n_rejected"]) == (1, 1, 0)
    assert report["fhir_server"] == ehr.base_url
    assert report["fetched"] == FETCHED  # not the other patient's resources
    # the token went with every request; the Conditions came on two pages
    assert {r.authorization for r in ehr.requests} == {f"Bearer {TOKEN}"}
    assert ehr.paths().count("/fhir/Condition") == 2

    case = only_case(cli)
    assert case["external_id"] == pseudonymous_id(SECRET, PID)  # a keyed hash, as every import
    assert case["provenance"]["source_format"] == "fhir"
    assert {(p["id"], p["excluded"]) for p in case["phenotypes"]} == {
        ("HP:0001250", False),  # Seizure: SNOMED CT 91175000 and UMLS C0036572
        ("HP:0000505", False),  # Visual impairment: SNOMED CT 397540003
    }
    subject = case["subject"]
    assert (subject["sex"], subject["birth_year"]) == ("female", 1990)  # the year only
    findings = {(f["category"], f["code"]): f for f in case["findings"]}
    assert {category for category, _ in findings} == {
        "condition",
        "observation",
        "medication",
        "encounter",
        "procedure",
    }
    assert findings[("observation", "8302-2")]["value"] == 165.5
    assert findings[("condition", "84229001")]["hpo_ids"] == []  # fatigue: no cross-reference
    stored = json.dumps(case)
    assert not [text for text in PHI if text in stored]

    run = cli.json("runs", "show", report["run_id"])
    assert run["settings"]["fhir_server"] == ehr.base_url
    assert run["settings"]["fetched"] == FETCHED
    assert PID not in json.dumps(run) and TOKEN not in json.dumps(run)
    # the fetched record went through a private temporary file, removed after the import
    assert Path(run["source"]).parent.parent == site
    assert not list(site.glob("ocais-fhir-server-*"))


def test_table_output_and_reimport(cli: Cli, site: Path, ehr: FhirTestServer) -> None:
    result = cli("ingest", "fhir-server", ehr.base_url, "--patient", PID, "--token-env", TOKEN_VAR)
    assert result.exit_code == 0, result.stderr
    assert (
        f"completed fhir import of the requested patient from {ehr.base_url}: "
        "1 read, 1 new, 0 updated, 0 unchanged, 0 rejected"
    ) in result.stdout
    fetched = ", ".join(f"{n} {kind}" for kind, n in FETCHED.items())
    assert f"fetched {fetched} from {ehr.base_url}" in said(result)
    printed = result.stdout + result.stderr
    assert PID not in printed and TOKEN not in printed
    # the same patient again: the same case, unchanged; then a new finding updates it
    again = pull(cli, ehr)
    assert (again["n_inserted"], again["n_updated"], again["n_unchanged"]) == (0, 0, 1)
    added = chart()[2] | {"id": "c-vision-2", "onsetDateTime": "2020-01-01T00:00:00+00:00"}
    ehr.add(added)
    changed = pull(cli, ehr, "--shared")
    assert (changed["n_inserted"], changed["n_updated"]) == (0, 1)
    assert cli.json("stats")["cases"] == 1
    assert len(only_case(cli)["findings"]) == 10


def test_the_same_record_from_a_file_is_the_same_case(
    cli: Cli, site: Path, ehr: FhirTestServer, tmp_path: Path
) -> None:
    """``ocais ingest PATH`` still works (options before or after the path, or the explicit
    ``path`` command) and reads a Bundle file into the very case the server import makes."""
    entries = [{"resource": r} for r in chart()]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    source = tmp_path / "chart.json"
    source.write_text(json.dumps(bundle), encoding="utf-8")
    from_file = cli.json("ingest", "--format", "fhir", str(source))
    assert (from_file["source_format"], from_file["n_inserted"]) == ("fhir", 1)
    case = only_case(cli)
    assert cli.json("ingest", "path", str(source), "--shared")["n_unchanged"] == 1
    from_server = pull(cli, ehr)
    assert from_server["n_inserted"] == 0  # the same pseudonym: the same case
    assert only_case(cli)["id"] == case["id"]
    assert {p["id"] for p in only_case(cli)["phenotypes"]} == {"HP:0001250", "HP:0000505"}


def test_local_json_flag_and_a_weak_site_secret(
    cli: Cli, site: Path, ehr: FhirTestServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A weak OCAIS_DEID_SECRET refuses a server import as it refuses a file import."""
    monkeypatch.setitem(ENV, "OCAIS_DEID_SECRET", "short")
    args = [ehr.base_url, "--patient", PID, "--token-env", TOKEN_VAR, "--json"]
    refused = cli("ingest", "fhir-server", *args)
    assert refused.exit_code == 2
    assert "config_error" in refused.stderr and "OCAIS_DEID_SECRET" in said(refused)
    source = tmp_path / "chart.json"
    source.write_text(json.dumps(chart()[0]), encoding="utf-8")
    from_file = cli("ingest", str(source))
    assert from_file.exit_code == 2 and "OCAIS_DEID_SECRET" in said(from_file)
    assert cli.json("stats")["cases"] == 0
    monkeypatch.setitem(ENV, "OCAIS_DEID_SECRET", SECRET)
    accepted = cli("ingest", "fhir-server", *args)  # --json after the command
    assert accepted.exit_code == 0, accepted.stderr
    assert json.loads(accepted.stdout)["n_inserted"] == 1


# --- refusals: exit code 2 and a clear message -----------------------------------------------


def test_missing_patient(cli: Cli, ehr: FhirTestServer) -> None:
    result = cli("ingest", "fhir-server", ehr.base_url, "--token-env", TOKEN_VAR)
    assert result.exit_code == 2
    assert "Missing option '--patient'" in result.stderr
    assert ehr.requests == []


def test_unreachable_server(cli: Cli, site: Path) -> None:
    with serve_fhir() as gone:
        url = gone.base_url
    result = cli("ingest", "fhir-server", url, "--patient", PID, "--token-env", TOKEN_VAR)
    assert result.exit_code == 2
    assert f"error (config_error): cannot reach the FHIR server at {url}" in said(result)
    assert PID not in result.stderr and TOKEN not in result.stderr
    assert cli.json("runs", "list") == []  # nothing was started
    assert cli.json("stats")["cases"] == 0


def test_bad_url(cli: Cli, site: Path) -> None:
    result = cli("ingest", "fhir-server", "ehr.example.org/fhir", "--patient", PID)
    assert result.exit_code == 2
    assert "must be an http:// or https:// URL" in said(result)


def test_401_is_a_clear_error_without_the_token(
    cli: Cli, site: Path, ehr: FhirTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    expired = "tok-cli-SECRET-expired-000"
    monkeypatch.setenv(TOKEN_VAR, expired)
    result = cli("ingest", "fhir-server", ehr.base_url, "--patient", PID, "--token-env", TOKEN_VAR)
    assert result.exit_code == 2
    err = said(result)
    assert "refused the Patient read for the requested patient (HTTP 401" in err
    assert "missing, expired or lacks the scope" in err and "SMART backend services" in err
    assert expired not in result.output + err and PID not in err
    assert {r.authorization for r in ehr.requests} == {f"Bearer {expired}"}
    # no token at all
    bare = cli("ingest", "fhir-server", ehr.base_url, "--patient", PID)
    assert bare.exit_code == 2 and "no bearer token was sent" in said(bare)
    assert ehr.requests[-1].authorization is None
    assert cli.json("stats")["cases"] == 0


def test_a_token_variable_that_is_not_set(
    cli: Cli, ehr: FhirTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_FHIR_TOKEN", raising=False)
    result = cli(
        "ingest",
        "fhir-server",
        ehr.base_url,
        "--patient",
        PID,
        "--token-env",
        "NO_SUCH_FHIR_TOKEN",
    )
    assert result.exit_code == 2
    assert "the environment variable NO_SUCH_FHIR_TOKEN is not set" in said(result)
    assert ehr.requests == []  # refused before any request


def test_unknown_patient(cli: Cli, site: Path, ehr: FhirTestServer) -> None:
    result = cli(
        "ingest", "fhir-server", ehr.base_url, "--patient", "nobody-1", "--token-env", TOKEN_VAR
    )
    assert result.exit_code == 2
    assert "error (not_found): the FHIR server at" in said(result)
    assert "has no record of the requested patient (HTTP 404" in said(result)
    assert "nobody-1" not in result.stderr


# --- help ------------------------------------------------------------------------------------


def test_help_lists_both_usages(cli: Cli) -> None:
    group = cli("ingest", "--help")
    assert group.exit_code == 0
    text = " ".join(group.stdout.split())
    assert "Usage: ocais ingest PATH [OPTIONS] | COMMAND [ARGS]..." in text
    assert "ocais ingest PATH [OPTIONS] imports a file, folder or archive" in text
    assert "ocais ingest fhir-server URL --patient ID [--token-env VAR]" in text
    assert "path" in text and "fhir-server" in text
    command = cli("ingest", "fhir-server", "--help")
    assert command.exit_code == 0
    options = " ".join(command.stdout.split())
    assert "--patient" in options and "--token-env" in options and "--shared" in options
    assert "Usage: ocais ingest fhir-server [OPTIONS]" in options
    path_help = cli("ingest", "path", "--help")
    assert path_help.exit_code == 0 and "--skip-invalid" in path_help.stdout
    missing = cli("ingest")  # as before: the path is missing
    assert missing.exit_code == 2 and "Missing argument" in missing.stderr


def test_an_invalid_resource_aborts_unless_skipped(
    cli: Cli, site: Path, ehr: FhirTestServer, tmp_path: Path
) -> None:
    """Strict by default, as ``ocais ingest PATH``: one invalid resource writes nothing."""
    broken = chart()[5] | {"id": "o-broken", "effectiveDateTime": "last tuesday"}
    ehr.add(broken)
    args = [ehr.base_url, "--patient", PID, "--token-env", TOKEN_VAR]
    aborted = cli("ingest", "fhir-server", *args)
    assert aborted.exit_code == 2
    assert "import_aborted" in aborted.stderr and "--skip-invalid" in said(aborted)
    assert "Observation/o-broken" in aborted.stderr  # the rejects table names the resource
    assert cli.json("stats")["cases"] == 0
    rejects = tmp_path / "rejects.jsonl"
    report = pull(cli, ehr, "--skip-invalid", "--rejects", str(rejects))
    assert (report["n_inserted"], report["n_rejected"]) == (1, 1)
    [reject] = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert reject["field"] == "effectiveDateTime" and "o-broken" in reject["record"]
    assert len(only_case(cli)["findings"]) == 9
