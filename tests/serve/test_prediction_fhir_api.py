"""GET /api/v1/predictions/{id}/fhir: a stored prediction as a FHIR R4 RiskAssessment."""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.R4B.riskassessment import RiskAssessment

from tests.serve.conftest import Api, assert_envelope


def fhir(api: Api, prediction_id: str, user: str | None = "clinician") -> Any:
    headers = api.auth(user) if user is not None else {}
    return api.client.get(f"/api/v1/predictions/{prediction_id}/fhir", headers=headers)


def test_the_owner_reads_the_prediction_as_fhir(api: Api) -> None:
    answer = api.predict(
        case={"phenotypes": [{"id": "HP:0002069"}, {"id": "HP:0000505", "excluded": True}]}
    )
    response = fhir(api, answer["prediction_id"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    RiskAssessment.model_validate(body)
    assert body["resourceType"] == "RiskAssessment" and body["status"] == "final"
    assert body["id"] == answer["prediction_id"]
    assert body["subject"] == {"display": "patient of this request (not identified)"}
    # one prediction per candidate of the answer, in rank order, with its posterior
    candidates = answer["prediction"]["candidates"]
    assert len(body["prediction"]) == len(candidates) > 0
    for candidate, entry in zip(candidates, body["prediction"], strict=True):
        assert entry["outcome"]["text"] == candidate["name"]
        coding = entry["outcome"]["coding"][0]
        assert f"{coding['code']}" == candidate["disease_id"].split(":")[1]
        assert entry["probabilityDecimal"] == candidate["probability"]
        assert entry["rationale"].startswith(f"Rank {candidate['rank']} ")
    assert body["prediction"][0]["outcome"]["coding"][0]["system"] == "https://omim.org"
    # the basis: the terms the prediction was made from, observed and excluded
    terms = {r["code"]["coding"][0]["code"]: r["valueBoolean"] for r in body.get("contained", [])}
    assert terms == {"HP:0002069": True, "HP:0000505": False}
    assert len(body["basis"]) == 2
    assert body["method"]["coding"][0]["code"] == answer["prediction"]["predictor"]
    assert "clinician" in body["note"][0]["text"]
    assert "identifier" not in json.dumps(body)


def test_an_admin_reads_any_prediction(api: Api) -> None:
    prediction_id = api.predict("clinician")["prediction_id"]
    response = fhir(api, prediction_id, "admin1")
    assert response.status_code == 200, response.text
    assert response.json()["id"] == prediction_id


def test_another_clinician_is_answered_as_for_a_missing_id(api: Api) -> None:
    prediction_id = api.predict("clinician")["prediction_id"]
    hidden = assert_envelope(fhir(api, prediction_id, "clinician2"), 404, "not_found")
    missing_id = "00000000-0000-4000-8000-000000000000"
    missing = assert_envelope(fhir(api, missing_id), 404, "not_found")
    assert hidden["message"].replace(prediction_id, "<id>") == missing["message"].replace(
        missing_id, "<id>"
    )
    assert hidden["hint"] == missing["hint"] and hidden["details"] == missing["details"]
    # and their own predictions stay theirs
    own = api.predict("clinician2")["prediction_id"]
    assert fhir(api, own, "clinician2").status_code == 200
    assert_envelope(fhir(api, own, "clinician"), 404, "not_found")


def test_researchers_and_anonymous_callers_are_refused(api: Api) -> None:
    prediction_id = api.predict("clinician")["prediction_id"]
    assert_envelope(fhir(api, prediction_id, "researcher"), 403, "forbidden")
    assert_envelope(fhir(api, prediction_id, None), 401, "unauthorized")


def test_the_read_is_audited_with_the_prediction_id(api: Api) -> None:
    prediction_id = api.predict("clinician")["prediction_id"]
    assert fhir(api, prediction_id).status_code == 200
    response = api.client.get("/api/v1/audit", params={"limit": 500}, headers=api.auth("admin1"))
    assert response.status_code == 200, response.text
    reads = [
        e
        for e in response.json()
        if e["method"] == "GET" and e["object_ids"].get("prediction_id") == prediction_id
    ]
    assert len(reads) == 1 and reads[0]["status"] == 200
    assert reads[0]["action"] == "predictions.fhir"


def test_openapi_documents_the_fhir_route(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    route = schema["paths"]["/api/v1/predictions/{prediction_id}/fhir"]["get"]
    assert "application/fhir+json" in route["responses"]["200"]["content"]
    assert {"401", "403", "404"} <= set(route["responses"])
