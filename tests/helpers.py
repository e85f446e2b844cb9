"""Test helpers shared across the suite (builders of small inputs)."""

from __future__ import annotations

from typing import Any


def packet(packet_id: str = "P1", **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": packet_id,
        "subject": {
            "id": "proband",
            "sex": "FEMALE",
            "timeAtLastEncounter": {"age": {"iso8601duration": "P3Y6M"}},
        },
        "phenotypicFeatures": [
            {"type": {"id": "HP:0001250", "label": "Seizure"}},
            {
                "type": {"id": "HP:0000505", "label": "Visual impairment"},
                "excluded": True,
            },
            {
                "type": {"id": "HP:0002069", "label": "Bilateral tonic-clonic seizure"},
                "onset": {"age": {"iso8601duration": "P6M"}},
            },
        ],
        "interpretations": [
            {
                "id": "i1",
                "progressStatus": "SOLVED",
                "diagnosis": {"disease": {"id": "OMIM:100001", "label": "Disease A"}},
            }
        ],
        "diseases": [{"term": {"id": "OMIM:100001", "label": "Disease A"}}],
        "metaData": {"created": "2024-01-01T00:00:00Z", "phenopacketSchemaVersion": "2.0"},
    }
    data.update(overrides)
    return data


def fhir_bundle(patient_id: str = "fhir-1") -> dict[str, Any]:
    """A FHIR R4 Bundle of one Patient with one Condition (SNOMED CT epilepsy)."""
    subject = {"reference": f"urn:uuid:{patient_id}"}
    resources: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": patient_id, "gender": "male", "birthDate": "2015-03-01"},
        {
            "resourceType": "Condition",
            "id": f"{patient_id}-c1",
            "subject": subject,
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "84757009"}]},
        },
    ]
    entries = [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def free_port() -> int:
    """A TCP port of 127.0.0.1 nothing listens on (for a server a test starts)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_serving(url: str, process: Any, seconds: float = 120) -> None:
    """Wait for ``ocais serve`` (a ``subprocess.Popen``) to answer ``url/api/v1/health``."""
    import time
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/v1/health", timeout=2)
            return
        except OSError:
            if process.poll() is not None:
                raise AssertionError("ocais serve exited") from None
            time.sleep(0.5)
    raise AssertionError(f"ocais serve did not answer at {url} within {seconds:.0f} s")
