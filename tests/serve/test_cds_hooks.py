"""CDS Hooks 2.0 (``/cds-services``): discovery, patient-view with prefetch, the cards' shapes,
feedback, the EHR's JWT, and bad input (on the tiny release: Seizure has SNOMED CT 91175000)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fhir.resources.R4B.observation import Observation

from ocais.workflows.cds import PREFETCH, SERVICE_ID, SUMMARY_MAX
from tests.serve.conftest import Api, AppFactory, assert_envelope, open_api, serve_settings

URL = f"/cds-services/{SERVICE_ID}"
HPO = "http://human-phenotype-ontology.org"
SNOMED = "http://snomed.info/sct"
PATIENT_ID = "pat-0042"
NAME = "Zebedee Quinton-Marsh"  # must never reach a log


def patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "gender": "female",
        "birthDate": "2015-03-02",
        "name": [{"text": NAME}],
    }


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {"fullUrl": f"http://ehr/{r['resourceType']}/{r['id']}", "resource": r}
            for r in resources
        ],
    }


def condition(rid: str, code: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": rid,
        "code": code,
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "recordedDate": "2023-05-01",
    }


def observation(rid: str, code: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": code,
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        **extra,
    }


def coded(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def rare_chart() -> dict[str, Any]:
    """Prefetch as an EHR fills the templates: seizures (SNOMED CT), visual impairment (HPO)."""
    return {
        "patient": patient(),
        "conditions": searchset(condition("c1", coded(SNOMED, "91175000", "Seizure"))),
        "observations": searchset(
            observation("o1", coded(HPO, "HP:0000505", "Visual impairment"), valueBoolean=True),
            observation(
                "o2",
                coded("http://loinc.org", "8302-2", "Body height"),
                valueQuantity={"value": 120, "unit": "cm"},
            ),
        ),
    }


def hook_request(prefetch: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/77", "patientId": PATIENT_ID},
        **extra,
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def check_card(card: dict[str, Any]) -> None:
    """The CDS Hooks 2.0 Card shape (required fields, enumerations, nested objects)."""
    assert isinstance(card["summary"], str) and 0 < len(card["summary"]) <= SUMMARY_MAX
    assert card["indicator"] in ("info", "warning", "critical")
    assert isinstance(card["source"], dict) and isinstance(card["source"]["label"], str)
    assert isinstance(card.get("uuid", ""), str) and isinstance(card.get("detail", ""), str)
    for suggestion in card.get("suggestions", []):
        assert isinstance(suggestion["label"], str) and isinstance(suggestion.get("uuid"), str)
        for action in suggestion.get("actions", []):
            assert action["type"] in ("create", "update", "delete")
            assert isinstance(action["description"], str)
            Observation.model_validate(action["resource"])  # a valid FHIR R4 resource
    if "suggestions" in card:
        assert card.get("selectionBehavior") in ("at-most-one", "any")
    for link in card.get("links", []):
        assert isinstance(link["label"], str) and link["type"] in ("absolute", "smart")
        assert link["url"].startswith("http")


def test_discovery_lists_the_patient_view_service(api: Api) -> None:
    response = api.client.get("/cds-services")
    assert response.status_code == 200
    (service,) = response.json()["services"]
    assert service["hook"] == "patient-view" and service["id"] == SERVICE_ID
    assert service["title"] and service["description"]
    assert service["prefetch"] == PREFETCH
    assert set(service["prefetch"]) == {"patient", "conditions", "observations"}


def test_a_chart_with_coded_findings_gets_a_differential_card(api: Api) -> None:
    response = api.client.post(URL, json=hook_request(rare_chart()))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    (card,) = response.json()["cards"]
    check_card(card)
    assert card["summary"].startswith("Rare-disease differential: ")
    assert "OMIM:100001" in card["detail"]  # Seizure + Visual impairment: disease A first
    assert card["detail"].index("OMIM:100001") < card["detail"].index("OMIM:100002")
    assert "Visual impairment" in card["detail"]
    assert "**Genes worth testing** (of the top diseases): GENEA, GENEB" in card["detail"]
    assert card["links"][0]["type"] == "absolute"
    assert card["links"][0]["url"].endswith(f"#prediction={card['uuid']}")
    # the prediction is stored like any other (ids, sex, age; no text, no patient id)
    stored = api.services.store.get_prediction(card["uuid"])
    assert stored is not None and stored.user_id is None
    assert sorted(stored.observed) == ["HP:0000505", "HP:0001250"]
    assert stored.sex == "female" and stored.age_years is not None
    assert PATIENT_ID not in stored.model_dump_json() and NAME not in stored.model_dump_json()


def test_suggestions_record_the_findings_worth_checking(api: Api) -> None:
    chart = rare_chart()
    chart["observations"] = searchset()  # only the seizure: what to check next is asked
    response = api.client.post(URL, json=hook_request(chart))
    (card,) = response.json()["cards"]
    check_card(card)
    assert card["suggestions"], "the next phenotypes become suggestions"
    action = card["suggestions"][0]["actions"][0]
    assert action["type"] == "create"
    assert action["resource"]["subject"] == {"reference": f"Patient/{PATIENT_ID}"}
    assert action["resource"]["code"]["coding"][0]["system"] == HPO


def test_findings_known_only_by_text_are_recognized(api: Api) -> None:
    chart = rare_chart()
    chart["conditions"] = searchset(condition("c2", {"text": "recurrent seizures"}))
    chart["observations"] = searchset()
    (card,) = api.client.post(URL, json=hook_request(chart)).json()["cards"]
    check_card(card)
    assert "recognized in their text" in card["detail"]
    stored = api.services.store.get_prediction(card["uuid"])
    assert stored is not None and stored.observed == ["HP:0001250"]


def test_a_chart_without_usable_findings_gets_an_informative_card(api: Api) -> None:
    chart = rare_chart()
    chart["conditions"] = searchset()
    chart["observations"] = searchset(
        observation(
            "o2",
            coded("http://loinc.org", "8302-2", "Body height"),
            valueQuantity={"value": 120, "unit": "cm"},
        )
    )
    response = api.client.post(URL, json=hook_request(chart))
    assert response.status_code == 200
    (card,) = response.json()["cards"]
    check_card(card)
    assert "no findings" in card["summary"] and "suggestions" not in card


def test_no_prefetch_and_no_fhir_server_is_412(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    response = api.client.post(URL, json=hook_request({"patient": None}))
    assert response.status_code == 412
    body = response.json()
    assert body["cards"] == [] and body["error"]["code"] == "cds_precondition_failed"
    assert PATIENT_ID not in caplog.text


def test_an_unreachable_fhir_server_is_412(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    request = hook_request(
        None,
        fhirServer="http://127.0.0.1:9/fhir",
        fhirAuthorization={
            "access_token": "secret-token-123",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "ocais",
        },
    )
    response = api.client.post(URL, json=request)
    assert response.status_code == 412
    assert response.json()["cards"] == []
    assert "secret-token-123" not in response.text
    assert PATIENT_ID not in caplog.text and "secret-token-123" not in caplog.text


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"hook": "order-select", "hookInstance": "x", "context": {"patientId": "p"}}, 400),
        ({"hook": "patient-view", "context": {"patientId": "p"}}, 400),  # no hookInstance
        ({"hook": "patient-view", "hookInstance": "x", "context": {}}, 400),  # no patientId
        ([1, 2], 400),
    ],
)
def test_malformed_requests_are_400(api: Api, body: Any, status: int) -> None:
    assert_envelope(api.client.post(URL, json=body), status, "bad_request")


def test_unknown_service_is_404(api: Api) -> None:
    assert_envelope(api.client.post("/cds-services/nope", json=hook_request()), 404, "not_found")


def test_feedback_is_kept_on_the_prediction(api: Api) -> None:
    (card,) = api.client.post(URL, json=hook_request(rare_chart())).json()["cards"]
    feedback = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "outcomeTimestamp": "2026-12-06T10:00:00Z",
                "overrideReason": {
                    "reason": {
                        "code": "already-known",
                        "display": "Already known",
                        "system": "http://example.org/reasons",
                    },
                    "userComment": "seen by genetics",
                },
            },
            {
                "card": card["uuid"],
                "outcome": "accepted",
                "outcomeTimestamp": "2026-12-06T10:01:00Z",
                "acceptedSuggestions": [{"id": f"{card['uuid']}-next-0"}],
            },
        ]
    }
    response = api.client.post(f"{URL}/feedback", json=feedback)
    assert response.status_code == 200 and response.json() == {"received": 2}
    rows = api.services.store.list_feedback(limit=10, offset=0, prediction_id=card["uuid"])
    comments = sorted(r.comment or "" for r in rows)
    assert comments == [
        f"cds-hooks accepted; accepted suggestions: {card['uuid']}-next-0",
        "cds-hooks overridden; override reason: Already known; comment: seen by genetics",
    ]
    listed = api.client.get(
        "/api/v1/feedback", params={"prediction_id": card["uuid"]}, headers=api.auth("admin1")
    )
    assert listed.status_code == 200, listed.text
    assert len(listed.json()["items"]) == 2
    # a card this service never gave, or a prediction made through the API, is 404
    unknown = {
        "feedback": [
            {"card": "nope", "outcome": "accepted", "outcomeTimestamp": "2026-12-06T10:00:00Z"}
        ]
    }
    assert_envelope(api.client.post(f"{URL}/feedback", json=unknown), 404, "not_found")
    mine = api.predict()["prediction_id"]
    unknown["feedback"][0]["card"] = mine
    assert_envelope(api.client.post(f"{URL}/feedback", json=unknown), 404, "not_found")
    bad = {"feedback": [{"card": card["uuid"], "outcome": "maybe", "outcomeTimestamp": "t"}]}
    assert_envelope(api.client.post(f"{URL}/feedback", json=bad), 400, "bad_request")


# --- the EHR's JWT ------------------------------------------------------------------------------
ISSUER = "https://ehr.example.org"


@pytest.fixture
def ehr_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture
def secured(
    make_app: AppFactory, ehr_key: ec.EllipticCurvePrivateKey, tmp_path: Path
) -> Iterator[Api]:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ehr_key.public_key()))
    jwk.update(kid="ehr-1", alg="ES384", use="sig")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk]}))
    app = make_app(serve=serve_settings(cds_issuers={ISSUER: str(jwks)}))
    yield from open_api(app)


def token(key: ec.EllipticCurvePrivateKey, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "aud": f"http://testserver{URL}",
        "exp": now + 300,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "sub": "client-1",
    }
    body.update(claims)
    return jwt.encode(body, key, algorithm="ES384", headers={"kid": "ehr-1"})


def test_a_verified_jwt_is_required_once_issuers_are_configured(
    secured: Api, ehr_key: ec.EllipticCurvePrivateKey
) -> None:
    client, body = secured.client, hook_request(rare_chart())
    ok = client.post(URL, json=body, headers={"Authorization": f"Bearer {token(ehr_key)}"})
    assert ok.status_code == 200, ok.text
    check_card(ok.json()["cards"][0])
    other = ec.generate_private_key(ec.SECP384R1())
    cases = {
        "none": None,
        "expired": token(ehr_key, exp=int(time.time()) - 3600, iat=int(time.time()) - 4000),
        "wrong audience": token(ehr_key, aud="https://elsewhere/cds-services/x"),
        "unknown issuer": token(ehr_key, iss="https://other-ehr"),
        "other key": token(other),
        "no jti": jwt.encode(
            {
                k: v
                for k, v in jwt.decode(token(ehr_key), options={"verify_signature": False}).items()
                if k != "jti"
            },
            ehr_key,
            algorithm="ES384",
            headers={"kid": "ehr-1"},
        ),
    }
    for why, value in cases.items():
        headers = {"Authorization": f"Bearer {value}"} if value else {}
        refused = client.post(URL, json=body, headers=headers)
        assert refused.status_code == 401, why
        assert_envelope(refused, 401, "unauthorized")
    assert (
        "expired"
        in client.post(
            URL, json=body, headers={"Authorization": f"Bearer {cases['expired']}"}
        ).json()["error"]["message"]
    )
    # discovery stays public, as the specification says
    assert client.get("/cds-services").status_code == 200


def test_beyond_loopback_without_issuers_nobody_is_answered(make_app: AppFactory) -> None:
    app = make_app(serve=serve_settings(host="0.0.0.0"))
    for api in open_api(app):
        refused = api.client.post(URL, json=hook_request(rare_chart()))
        assert_envelope(refused, 401, "unauthorized")
        assert "OCAIS_SERVE_CDS_ISSUERS" in refused.json()["error"]["hint"]


def test_the_card_link_opens_the_prediction_for_clinicians(api: Api) -> None:
    (card,) = api.client.post(URL, json=hook_request(rare_chart())).json()["cards"]
    link = f"/api/v1/predictions/{card['uuid']}"
    for who in ("clinician", "clinician2", "admin1"):  # made for the EHR: any clinician
        shown = api.client.get(link, headers=api.auth(who))
        assert shown.status_code == 200, who
    body = shown.json()
    assert body["origin"] == "cds-hooks" and body["sex"] == "female"
    assert {t["id"]: t["label"] for t in body["observed"]} == {
        "HP:0001250": "Seizure",
        "HP:0000505": "Visual impairment",
    }
    assert api.client.get(link, headers=api.auth("researcher")).status_code == 403
    assert api.client.get(link).status_code == 401
    fhir = api.client.get(f"{link}/fhir", headers=api.auth("clinician2"))
    assert fhir.status_code == 200 and fhir.json()["resourceType"] == "RiskAssessment"
    # a prediction a clinician asked for stays theirs
    mine = api.predict("clinician")["prediction_id"]
    assert (
        api.client.get(f"/api/v1/predictions/{mine}", headers=api.auth("clinician2")).status_code
        == 404
    )


def test_the_card_viewer_renders_the_example_card(api: Api) -> None:
    page = api.client.get("/cds-viewer")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    # the example's SNOMED CT codes are not in the tiny release: its informative card, rendered
    # (the real release's differential is checked in tests/cli/test_cds_live.py)
    assert "<article class='card info'>" in text and "no findings in the chart" in text
    assert "Arachnodactyly" in text and "<p>The conditions" in text
    assert "<script" not in text
    # nothing is stored for the example
    assert api.services.store.get_prediction("example") is None
