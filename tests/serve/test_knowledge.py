"""/api/v1/knowledge: term autocomplete and details, disease details."""

from __future__ import annotations

import pytest

from tests.serve.conftest import Api, assert_envelope


def test_term_autocomplete(api: Api) -> None:
    response = api.client.get("/api/v1/knowledge/terms?q=seiz", headers=api.auth("clinician"))
    assert response.status_code == 200
    ids = [t["id"] for t in response.json()]
    assert ids[0] == "HP:0001250" and "HP:0002069" in ids
    one = api.client.get("/api/v1/knowledge/terms?q=seiz&limit=1", headers=api.auth("clinician"))
    assert len(one.json()) == 1
    nothing = api.client.get("/api/v1/knowledge/terms?q=zzzz", headers=api.auth("researcher"))
    assert nothing.json() == []


def test_term_autocomplete_bad_queries(api: Api) -> None:
    headers = api.auth("clinician")
    assert_envelope(api.client.get("/api/v1/knowledge/terms", headers=headers), 422)
    assert_envelope(api.client.get("/api/v1/knowledge/terms?q=", headers=headers), 422)
    response = api.client.get("/api/v1/knowledge/terms?q=a&limit=1000", headers=headers)
    assert_envelope(response, 422, "validation_error")
    assert_envelope(api.client.get("/api/v1/knowledge/terms?q=seiz"), 401)


def test_term_detail(api: Api) -> None:
    headers = api.auth("researcher")
    term = api.client.get("/api/v1/knowledge/terms/HP:0001250", headers=headers).json()
    assert term["name"] == "Seizure" and "Epilepsy" in term["synonyms"]
    alt = api.client.get("/api/v1/knowledge/terms/HP:0001251", headers=headers).json()
    assert alt["id"] == "HP:0001250" and alt["replaced"] == "HP:0001251"
    response = api.client.get("/api/v1/knowledge/terms/HP:9999999", headers=headers)
    assert_envelope(response, 404, "unknown_term")


def test_disease_detail(api: Api) -> None:
    headers = api.auth("clinician")
    disease = api.client.get("/api/v1/knowledge/diseases/OMIM:100002", headers=headers).json()
    assert disease["name"] == "Disease B"
    by_id = {p["id"]: p for p in disease["phenotypes"]}
    assert (
        by_id["HP:0002069"]["frequency"] == pytest.approx(0.8) and by_id["HP:0000505"]["excluded"]
    )
    response = api.client.get("/api/v1/knowledge/diseases/OMIM:000000", headers=headers)
    assert_envelope(response, 404, "unknown_disease")
    assert_envelope(api.client.get("/api/v1/knowledge/diseases/OMIM:100002"), 401)


def test_version(api: Api) -> None:
    version = api.client.get("/api/v1/version", headers=api.auth("researcher")).json()
    assert version["api"] == "v1" and version["knowledge"]["hpo_version"] == "2099-01-01"
    assert version["predictor"] == "phenotype" and version["store_revision"]
    assert version["features"] == {
        "free_text": True,
        "search": False,
        "note_deidentification": False,
    }
