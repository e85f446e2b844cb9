"""No PHI in the audit log or logs; restarts keep everything; concurrent writes are all kept."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from ocais.store.service_models import audit_table
from tests.serve.conftest import Api, AppFactory, open_api

PHI = "Zebulon Quixote-Marchetti MRN 00424242"


def test_audit_log_and_logs_hold_no_phi(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    headers = api.auth("clinician")
    note = {"text": f"{PHI} has seizures"}
    case = {"case": {"phenotypes": [{"id": "HP:0001250"}], "notes": [note], "cohort": "c"}}
    created = api.client.post("/api/v1/cases", json=case, headers=headers).json()
    predicted = api.predict(text=f"{PHI} presents with seizures", case=None)
    feedback = {"prediction_id": predicted["prediction_id"], "rating": 4, "comment": PHI}
    assert api.client.post("/api/v1/feedback", json=feedback, headers=headers).status_code == 201
    api.client.get(f"/api/v1/knowledge/terms?q={PHI}", headers=headers)
    api.client.post("/api/v1/predict", json={"text": PHI}, headers=headers)  # 422
    api.client.post(
        "/api/v1/predict", json={"case": {"phenotypes": [{"id": PHI}]}}, headers=headers
    )

    with api.services.repo.engine.connect() as conn:
        audit_rows = [dict(r._mapping) for r in conn.execute(select(audit_table))]
    assert len(audit_rows) >= 6
    dumped = repr(audit_rows)
    # the server's records (the test client logs its own requests, URLs included)
    server_log = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith(("ocais", "uvicorn"))
    )
    for fragment in ("Zebulon", "00424242", "seizures"):
        assert fragment not in dumped
        assert fragment not in server_log
    actions = {r["action"] for r in audit_rows}
    assert {"cases.create", "predict", "feedback.create", "knowledge.terms"} <= actions
    by_action = {r["action"]: r for r in audit_rows if r["status"] < 300}
    assert by_action["cases.create"]["object_ids"] == {"case_id": created["id"]}
    assert by_action["predict"]["object_ids"] == {"prediction_id": predicted["prediction_id"]}
    assert all(r["user_id"] == api.users["clinician"] for r in audit_rows)
    assert {r["status"] for r in audit_rows} >= {200, 201, 422}
    # the access log has one line per request, with the route template
    assert "POST /api/v1/predict 200" in server_log


def test_restart_keeps_all_data(make_app: AppFactory) -> None:
    for api in open_api(make_app()):
        case_id = api.client.post(
            "/api/v1/cases",
            json={"case": {"phenotypes": [{"id": "HP:0001250"}]}},
            headers=api.auth("clinician"),
        ).json()["id"]
        prediction_id = api.predict()["prediction_id"]
        body = {"prediction_id": prediction_id, "rating": 5}
        api.client.post("/api/v1/feedback", json=body, headers=api.auth("clinician"))
        old_key = api.auth("clinician")
    for api in open_api(make_app()):  # same SQLite file, new app
        assert api.client.get("/api/v1/session", headers=old_key).json()["name"] == "clinician"
        shown = api.client.get(f"/api/v1/cases/{case_id}", headers=old_key)
        assert shown.status_code == 200
        assert api.services.store.get_prediction(prediction_id) is not None
        items = api.client.get("/api/v1/feedback", headers=api.auth("admin1")).json()["items"]
        assert [i["prediction_id"] for i in items] == [prediction_id]
        assert len(api.services.store.list_audit(limit=1000)) >= 4


def test_concurrent_writes_are_all_stored(api: Api) -> None:
    headers = api.auth("clinician")
    prediction_id = api.predict()["prediction_id"]

    def write(i: int) -> tuple[int, int]:
        case = {"case": {"phenotypes": [{"id": "HP:0001250"}], "age_years": i}}
        created = api.client.post("/api/v1/cases", json=case, headers=headers)
        body: dict[str, Any] = {"prediction_id": prediction_id, "rating": 1 + i % 5}
        feedback = api.client.post("/api/v1/feedback", json=body, headers=headers)
        return created.status_code, feedback.status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(write, range(60)))
    assert results == [(201, 201)] * 60
    assert api.services.repo.count_cases() == 60
    assert len(api.services.store.list_feedback(limit=1000, offset=0)) == 60
    owned = api.client.get("/api/v1/cases?limit=500", headers=headers).json()
    assert owned["total"] == 60


def test_audit_route_for_admins_only(api: Api) -> None:
    api.predict()
    entries = api.client.get("/api/v1/audit?limit=5", headers=api.auth("admin1")).json()
    assert entries[0]["action"] == "predict" and entries[0]["status"] == 200
    assert set(entries[0]) == {
        "id",
        "at",
        "user_id",
        "action",
        "method",
        "status",
        "request_id",
        "object_ids",
        "duration_ms",
    }
    for name in ("researcher", "clinician"):
        response = api.client.get("/api/v1/audit", headers=api.auth(name))
        assert response.status_code == 403
    assert api.client.get("/api/v1/audit").status_code == 401
