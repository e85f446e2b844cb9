"""/api/v1/cases: create (structured, Phenopacket v2), list, show, delete; ownership; notes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import packet
from tests.serve.conftest import Api, AppFactory, assert_envelope, open_api

CASE = {
    "case": {
        "phenotypes": [{"id": "HP:0001250"}, {"id": "HP:0000505", "excluded": True}],
        "sex": "female",
        "age_years": 7,
        "diagnoses": [{"disease_id": "OMIM:100001"}],
        "cohort": "clinic-a",
    }
}


def create(api: Api, body: dict[str, Any] = CASE, user: str = "clinician") -> dict[str, Any]:
    response = api.client.post("/api/v1/cases", json=body, headers=api.auth(user))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_create_structured_case(api: Api) -> None:
    created = create(api)
    case = created["case"]
    assert case["id"] == created["id"] and case["external_id"] is None
    assert case["site"] == "test-site" and case["cohort"] == "clinic-a"
    assert case["provenance"]["source_format"] == "api"
    assert [p["id"] for p in case["phenotypes"]] == ["HP:0001250", "HP:0000505"]
    stored = api.services.repo.get_case(created["id"])
    assert stored.subject.age_years == 7


def test_create_from_phenopacket_drops_identifiers(api: Api) -> None:
    body = {"phenopacket": packet("MRN-1234567")}
    created = create(api, body)
    case = created["case"]
    assert case["external_id"] is None
    assert case["provenance"]["source_format"] == "phenopacket"
    assert "MRN-1234567" not in str(created)
    assert {p["id"] for p in case["phenotypes"]} == {"HP:0001250", "HP:0000505", "HP:0002069"}
    assert case["diagnoses"][0]["disease_id"] == "OMIM:100001"
    # posting the same packet again makes a second case (no identifier is kept to match it)
    assert create(api, body)["id"] != created["id"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "validation_error"),
        ({"case": CASE["case"], "phenopacket": packet()}, 422, "validation_error"),
        ({"phenopacket": {"id": "x", "foo": 1}}, 422, "invalid_record"),
        ({"phenopacket": packet(metaData={"phenopacketSchemaVersion": "1.0"})}, 422, None),
        ({"case": {"phenotypes": [{"id": "HP:1"}]}}, 422, "validation_error"),
        ({"case": {"name": "Jane Doe"}}, 422, "validation_error"),
    ],
)
def test_create_rejects_bad_input(
    api: Api, body: dict[str, Any], status: int, code: str | None
) -> None:
    response = api.client.post("/api/v1/cases", json=body, headers=api.auth("clinician"))
    assert_envelope(response, status, code)
    assert api.services.repo.count_cases() == 0


def test_unknown_terms_and_diseases_are_kept_with_warnings(api: Api) -> None:
    body = {
        "case": {
            "phenotypes": [{"id": "HP:9999999"}, {"id": "HP:0001251"}],
            "diagnoses": [{"disease_id": "OMIM:999999"}],
        }
    }
    created = create(api, body)
    warnings = " ".join(created["warnings"])
    assert "HP:9999999" in warnings and "OMIM:999999" in warnings
    assert {p["id"] for p in created["case"]["phenotypes"]} == {"HP:9999999", "HP:0001250"}


def test_notes_are_dropped_without_deidentification(api: Api) -> None:
    body = {"case": {**CASE["case"], "notes": [{"text": "Seen by Dr. Zed Quux on 3/4/2021."}]}}
    created = create(api, body)
    assert created["case"]["notes"] == []
    assert "de-identification is not configured" in " ".join(created["warnings"])


def test_notes_are_stored_deidentified_when_configured(make_app: AppFactory) -> None:
    def scrub(text: str, patient_key: str) -> str:
        return text.replace("Zed Quux", "[NAME]")

    for api in open_api(make_app(note_scrubber=scrub)):
        body = {"case": {**CASE["case"], "notes": [{"text": "Seen by Zed Quux."}]}}
        created = create(api, body)
        assert created["case"]["notes"][0]["text"] == "Seen by [NAME]."
        assert "Zed Quux" not in api.services.repo.get_case(created["id"]).model_dump_json()


def test_real_deidentifier_when_the_secret_is_set(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("ocais.ingest.deid")
    from ocais.workflows.cases import default_note_scrubber

    monkeypatch.delenv("OCAIS_DEID_SECRET", raising=False)
    assert default_note_scrubber() is None
    monkeypatch.setenv("OCAIS_DEID_SECRET", "a-test-secret-of-enough-length-123")
    scrubber = default_note_scrubber()
    assert scrubber is not None
    for api in open_api(make_app(note_scrubber=scrubber)):
        note = "Patient seen on 2021-03-04, phone 555-123-4567, email jane.doe@example.org."
        created = create(api, {"case": {**CASE["case"], "notes": [{"text": note}]}})
        stored = created["case"]["notes"][0]["text"]
        assert "555-123-4567" not in stored and "jane.doe@example.org" not in stored


def test_list_show_and_ownership(api: Api) -> None:
    mine = create(api, user="clinician")["id"]
    theirs = create(api, user="clinician2")["id"]

    page = api.client.get("/api/v1/cases", headers=api.auth("clinician")).json()
    assert page["total"] == 1 and [c["id"] for c in page["items"]] == [mine]
    page = api.client.get("/api/v1/cases", headers=api.auth("researcher")).json()
    assert page["total"] == 2 and {c["id"] for c in page["items"]} == {mine, theirs}
    filtered = api.client.get(
        "/api/v1/cases?hpo_id=HP:0001250&limit=1", headers=api.auth("admin1")
    ).json()
    assert filtered["total"] == 2 and len(filtered["items"]) == 1
    none = api.client.get("/api/v1/cases?cohort=other", headers=api.auth("clinician")).json()
    assert none["total"] == 0

    assert api.client.get(f"/api/v1/cases/{mine}", headers=api.auth("clinician")).json()["id"] == (
        mine
    )
    assert api.client.get(f"/api/v1/cases/{theirs}", headers=api.auth("researcher")).is_success
    # another clinician's case is answered like a missing one: its id cannot be probed
    response = api.client.get(f"/api/v1/cases/{theirs}", headers=api.auth("clinician"))
    missing = api.client.get("/api/v1/cases/nope", headers=api.auth("clinician"))
    theirs_error = assert_envelope(response, 404, "not_found")
    missing_error = assert_envelope(missing, 404, "not_found")
    assert theirs_error["message"] == missing_error["message"].replace("nope", theirs)
    assert_envelope(api.client.get("/api/v1/cases/nope", headers=api.auth("admin1")), 404)
    assert_envelope(api.client.get(f"/api/v1/cases/{mine}"), 401)
    assert_envelope(api.client.get("/api/v1/cases?limit=0", headers=api.auth("admin1")), 422)


def test_delete_by_owner_or_admin_only(api: Api) -> None:
    first = create(api, user="clinician")["id"]
    second = create(api, user="clinician")["id"]
    response = api.client.delete(f"/api/v1/cases/{first}", headers=api.auth("clinician2"))
    assert_envelope(response, 404, "not_found")  # may not see it: as if it did not exist
    response = api.client.delete(f"/api/v1/cases/{first}", headers=api.auth("researcher"))
    assert_envelope(response, 403, "forbidden")  # the role may not delete
    owner = api.client.delete(f"/api/v1/cases/{first}", headers=api.auth("clinician"))
    assert owner.status_code == 204 and owner.content == b""
    assert (
        api.client.delete(f"/api/v1/cases/{second}", headers=api.auth("admin1")).status_code == 204
    )
    assert api.services.repo.count_cases() == 0
    response = api.client.delete(f"/api/v1/cases/{first}", headers=api.auth("admin1"))
    assert_envelope(response, 404, "not_found")
    assert api.services.store.case_owner(first) is None


def test_an_admin_shares_a_case_with_every_clinician(api: Api) -> None:
    case_id = create(api, user="clinician")["id"]
    url = f"/api/v1/cases/{case_id}"
    assert_envelope(api.client.get(url, headers=api.auth("clinician2")), 404, "not_found")
    shared = api.client.put(f"{url}/shared", json={"shared": True}, headers=api.auth("admin1"))
    assert shared.status_code == 200 and shared.json() == {"shared": True}
    assert api.client.get(url, headers=api.auth("clinician2")).json()["id"] == case_id
    assert_envelope(api.client.delete(url, headers=api.auth("clinician2")), 403, "forbidden")
    again = api.client.put(f"{url}/shared", json={"shared": False}, headers=api.auth("admin1"))
    assert again.status_code == 200
    assert_envelope(api.client.get(url, headers=api.auth("clinician2")), 404, "not_found")
    refused = api.client.put(f"{url}/shared", json={"shared": True}, headers=api.auth("clinician"))
    assert_envelope(refused, 403, "forbidden")
