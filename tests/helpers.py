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
