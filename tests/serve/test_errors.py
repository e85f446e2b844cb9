"""The one error envelope, pinned for every kind of non-2xx response."""

from __future__ import annotations

from typing import Any, ClassVar

from ocais.schemas import Case, Prediction
from tests.serve.conftest import Api, AppFactory, assert_envelope, open_api, serve_settings


def test_health_needs_no_auth_and_sets_request_id(api: Api) -> None:
    response = api.client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_request_id_is_echoed_when_well_formed(api: Api) -> None:
    response = api.client.get("/api/v1/nothing", headers={"X-Request-ID": "abc-12345678"})
    assert assert_envelope(response, 404)["request_id"] == "abc-12345678"
    response = api.client.get("/api/v1/nothing", headers={"X-Request-ID": "bad id\n"})
    assert assert_envelope(response, 404)["request_id"] != "bad id\n"


def test_401_missing_and_wrong_credentials(api: Api) -> None:
    error = assert_envelope(api.client.get("/api/v1/version"), 401, "unauthorized")
    assert "Bearer" in error["hint"]
    response = api.client.get("/api/v1/version", headers={"Authorization": "Bearer nope"})
    assert_envelope(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    response = api.client.get("/api/v1/version", headers={"Authorization": "Basic eDp5"})
    assert_envelope(response, 401, "unauthorized")


def test_403_wrong_role(api: Api) -> None:
    body = {"case": {"phenotypes": [{"id": "HP:0001250"}]}}
    response = api.client.post("/api/v1/predict", json=body, headers=api.auth("researcher"))
    error = assert_envelope(response, 403, "forbidden")
    assert "researcher" in error["message"]


def test_404_unknown_route_and_405_wrong_method(api: Api) -> None:
    assert_envelope(api.client.get("/api/v1/does-not-exist"), 404, "not_found")
    assert_envelope(api.client.get("/no/such/page"), 404, "not_found")
    response = api.client.delete("/api/v1/health")
    assert_envelope(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]


def test_413_body_over_the_limit(api: Api) -> None:
    text = "seizures " * 120_000  # > 1 MB
    response = api.client.post(
        "/api/v1/predict", json={"text": text}, headers=api.auth("clinician")
    )
    assert_envelope(response, 413, "payload_too_large")


def test_413_streamed_body_without_content_length(api: Api) -> None:
    def chunks() -> Any:
        for _ in range(20):
            yield b"x" * 100_000

    response = api.client.post(
        "/api/v1/predict",
        content=chunks(),
        headers={**api.auth("clinician"), "Content-Type": "application/json"},
    )
    assert_envelope(response, 413, "payload_too_large")


def test_422_validation_lists_errors_without_echoing_input(api: Api) -> None:
    secret = "Patient Jane Q. Example, MRN 99887766"
    body = {"case": {"phenotypes": [{"id": secret}]}}
    response = api.client.post("/api/v1/predict", json=body, headers=api.auth("clinician"))
    error = assert_envelope(response, 422, "validation_error")
    assert error["details"]["errors"][0]["loc"][:3] == ["body", "case", "phenotypes"]
    assert secret not in response.text


def test_400_invalid_json(api: Api) -> None:
    response = api.client.post(
        "/api/v1/predict",
        content=b'{"text": "seizures",',
        headers={**api.auth("clinician"), "Content-Type": "application/json"},
    )
    assert_envelope(response, 400, "invalid_json")


def test_429_rate_limit_with_retry_after(make_app: AppFactory) -> None:
    app = make_app(serve=serve_settings(rate_limit_per_minute=60, rate_limit_burst=2))
    for api in open_api(app):
        headers = api.auth("clinician")
        assert api.client.get("/api/v1/version", headers=headers).status_code == 200
        assert api.client.get("/api/v1/version", headers=headers).status_code == 200
        response = api.client.get("/api/v1/version", headers=headers)
        error = assert_envelope(response, 429, "rate_limited")
        assert error["details"]["retry_after"] >= 1
        assert response.headers["retry-after"] == str(error["details"]["retry_after"])
        # another user has their own bucket
        assert api.client.get("/api/v1/version", headers=api.auth("admin1")).status_code == 200


SECRET_DETAIL = "secret detail /var/lib/ocais/db with patient text"


class ExplodingPredictor:
    name: ClassVar[str] = "exploding"

    def predict(self, case: Case, top_k: int = 10) -> Prediction:
        raise RuntimeError(SECRET_DETAIL)  # the traceback shows this line, not the value


def test_500_hides_the_error_and_logs_no_message(make_app: AppFactory, caplog: Any) -> None:
    for api in open_api(make_app(predictor=ExplodingPredictor())):
        body = {"case": {"phenotypes": [{"id": "HP:0001250"}]}}
        response = api.client.post("/api/v1/predict", json=body, headers=api.auth("clinician"))
        error = assert_envelope(response, 500, "internal_error")
        assert "secret detail" not in response.text
        assert "RuntimeError" in caplog.text and error["request_id"] in caplog.text
        assert "secret detail" not in caplog.text


def test_openapi_documents_the_api(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    paths = set(schema["paths"])
    for path in (
        "/api/v1/health",
        "/api/v1/version",
        "/api/v1/predict",
        "/api/v1/cases",
        "/api/v1/cases/{case_id}",
        "/api/v1/search",
        "/api/v1/knowledge/terms",
        "/api/v1/knowledge/terms/{term_id}",
        "/api/v1/knowledge/diseases/{disease_id}",
        "/api/v1/feedback",
        "/api/v1/reports/service",
        "/api/v1/session",
        "/api/v1/users",
    ):
        assert path in paths
    assert "ErrorEnvelope" in schema["components"]["schemas"]
    assert api.client.get("/docs").status_code == 200


def test_page_serves_a_placeholder_or_the_chat_page(api: Api) -> None:
    response = api.client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "OCAIS" in response.text


def test_cors_is_off_by_default_and_on_when_configured(make_app: AppFactory) -> None:
    origin = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    for api in open_api(make_app()):
        response = api.client.options("/api/v1/predict", headers=origin)
        assert "access-control-allow-origin" not in response.headers
    app = make_app(serve=serve_settings(cors_origins=["https://ehr.example.org"]))
    for api in open_api(app):
        allowed = {**origin, "Origin": "https://ehr.example.org"}
        response = api.client.options("/api/v1/predict", headers=allowed)
        assert response.headers["access-control-allow-origin"] == "https://ehr.example.org"
        response = api.client.options("/api/v1/predict", headers=origin)
        assert "access-control-allow-origin" not in response.headers
