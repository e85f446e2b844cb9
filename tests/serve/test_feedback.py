"""/api/v1/feedback and the service report built from it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.serve.conftest import Api, assert_envelope


def give(api: Api, body: dict[str, Any], user: str = "clinician") -> Any:
    return api.client.post("/api/v1/feedback", json=body, headers=api.auth(user))


def test_feedback_with_a_known_diagnosis(api: Api) -> None:
    prediction = api.predict(case={"phenotypes": [{"id": "HP:0002069"}]})
    top = prediction["prediction"]["candidates"][0]["disease_id"]
    response = give(
        api,
        {
            "prediction_id": prediction["prediction_id"],
            "confirmed_diagnosis": {"disease_id": top},
            "rating": 5,
            "comment": "confirmed by genetic testing",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["rank_of_confirmed"] == 1 and body["disease_label"] == "Disease B"
    assert body["has_comment"] and body["comment"] == "confirmed by genetic testing"


def test_feedback_with_a_label_only_or_a_rating_only(api: Api) -> None:
    prediction = api.predict()
    label = give(
        api,
        {
            "prediction_id": prediction["prediction_id"],
            "confirmed_diagnosis": {"label": "a disease not in the catalogue"},
        },
    )
    assert label.status_code == 201 and label.json()["rank_of_confirmed"] is None
    rating = give(api, {"prediction_id": prediction["prediction_id"], "rating": 2})
    assert rating.status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"prediction_id": "nope", "rating": 3}, 404, "not_found"),
        (
            {"prediction_id": "{pid}", "confirmed_diagnosis": {"disease_id": "OMIM:000001"}},
            422,
            "unknown_disease",
        ),
        ({"prediction_id": "{pid}", "confirmed_diagnosis": {}}, 422, "validation_error"),
        ({"prediction_id": "{pid}", "rating": 6}, 422, "validation_error"),
        ({"prediction_id": "{pid}", "rating": 0}, 422, "validation_error"),
        ({"prediction_id": "{pid}"}, 422, "validation_error"),
        ({"prediction_id": "{pid}", "comment": "x" * 2001}, 422, "invalid_record"),
    ],
)
def test_bad_feedback(api: Api, body: dict[str, Any], status: int, code: str) -> None:
    pid = api.predict()["prediction_id"]
    body = {k: (pid if v == "{pid}" else v) for k, v in body.items()}
    assert_envelope(give(api, body), status, code)


def test_feedback_roles(api: Api) -> None:
    pid = api.predict(name="clinician")["prediction_id"]
    body = {"prediction_id": pid, "rating": 4}
    # not their prediction: answered like a missing one (its id cannot be probed)
    assert_envelope(give(api, body, "clinician2"), 404, "not_found")
    assert_envelope(give(api, body, "researcher"), 403, "forbidden")  # the role gives none
    assert give(api, body, "admin1").status_code == 201
    assert_envelope(api.client.post("/api/v1/feedback", json=body), 401)


def test_feedback_list_hides_comments_from_researchers(api: Api) -> None:
    pid = api.predict()["prediction_id"]
    give(api, {"prediction_id": pid, "rating": 3, "comment": "see chart of the patient"})
    items = api.client.get("/api/v1/feedback", headers=api.auth("researcher")).json()["items"]
    assert items[0]["has_comment"] and items[0]["comment"] is None
    items = api.client.get("/api/v1/feedback", headers=api.auth("admin1")).json()["items"]
    assert items[0]["comment"] == "see chart of the patient"
    other = api.client.get("/api/v1/feedback?prediction_id=x", headers=api.auth("admin1"))
    assert other.json()["items"] == []
    assert_envelope(api.client.get("/api/v1/feedback", headers=api.auth("clinician")), 403)


def test_service_report_route(api: Api) -> None:
    empty = api.client.get("/api/v1/reports/service", headers=api.auth("researcher")).json()
    assert empty["n_confirmed"] == 0 and empty["predictors"] == {}
    for terms, truth in (
        (["HP:0002069"], "OMIM:100002"),  # ranked first
        (["HP:0002069"], "OMIM:100001"),  # ranked lower
        (["HP:0000478"], "OMIM:100002"),  # not among the candidates at top_k=1
    ):
        pid = api.predict(case={"phenotypes": [{"id": t} for t in terms]}, top_k=1)["prediction_id"]
        give(api, {"prediction_id": pid, "confirmed_diagnosis": {"disease_id": truth}})
    label_only = api.predict()["prediction_id"]
    give(api, {"prediction_id": label_only, "confirmed_diagnosis": {"label": "other"}})
    report = api.client.get("/api/v1/reports/service", headers=api.auth("admin1")).json()
    assert report["n_predictions"] == 4 and report["n_confirmed"] == 3
    assert report["n_label_only"] == 1
    metrics = report["predictors"]["phenotype"]["metrics"]
    assert metrics["n_cases"] == 3 and metrics["top1"] == pytest.approx(1 / 3, abs=1e-4)
    groups = report["predictors"]["phenotype"]["subgroups"]
    assert set(groups["disease_group"]) == {"OMIM"} and "unknown" in groups["sex"]
    assert_envelope(api.client.get("/api/v1/reports/service", headers=api.auth("clinician")), 403)
