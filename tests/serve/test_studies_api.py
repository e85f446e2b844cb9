"""``POST /api/v1/studies`` and the ``/studies`` page (the engine's figures are tested in
tests/research and, end to end, tests/cli/test_study_cli.py)."""

from __future__ import annotations

from pathlib import Path

from ocais.research.study import EXAMPLE, EXAMPLE_YAML
from tests.serve.conftest import Api, assert_envelope

REPO = Path(__file__).resolve().parents[2]


def test_the_example_is_the_shipped_config() -> None:
    assert (REPO / EXAMPLE).read_text(encoding="utf-8") == EXAMPLE_YAML


def test_a_study_on_a_store_without_its_cohorts_is_withheld(api: Api) -> None:
    response = api.client.post(
        "/api/v1/studies", json={"definition": EXAMPLE_YAML}, headers=api.auth("researcher")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["study"] == "warfarin-vs-apixaban-stroke" and body["estimate"] is None
    assert body["diagnostics"]["passed"] is False
    assert any("target cohort is empty" in r for r in body["diagnostics"]["reasons"])
    assert body["attrition"][0]["step"] == "persons with dated records"
    assert body["report_html"] is None


def test_invalid_definitions_are_422_with_the_fix(api: Api) -> None:
    bad = EXAMPLE_YAML.replace("washout_days", "wash_out")
    response = api.client.post(
        "/api/v1/studies", json={"definition": bad}, headers=api.auth("researcher")
    )
    error = assert_envelope(response, 422, "invalid_study")
    assert "wash_out: unknown key" in error["message"]
    assert error["hint"] == "see configs/study-example.yaml"


def test_the_study_page(api: Api) -> None:
    page = api.client.get("/studies")
    assert page.status_code == 200 and "Run the study" in page.text
    assert "warfarin-vs-apixaban-stroke" in page.text
