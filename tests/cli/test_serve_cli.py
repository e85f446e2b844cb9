"""``ocais serve`` (uvicorn stubbed), ``ocais users ...`` and ``ocais report service``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ocais.cli import serve as serve_cli
from ocais.config import load_settings
from tests.cli.conftest import Cli


def test_users_add_key_list_disable(cli: Cli) -> None:
    added = cli("users", "add", "dr-a", "--role", "clinician", "--password-stdin", stdin="p" * 14)
    assert added.exit_code == 0, added.output
    key = cli("users", "key", "dr-a", json_output=True)
    api_key = json.loads(key.stdout)["api_key"]
    assert api_key.startswith("ocais_")
    assert cli.accounts().authenticate_key(api_key) is not None
    listed = json.loads(cli("users", "list", json_output=True).stdout)
    assert [(u["name"], u["role"], u["n_keys"], u["has_password"]) for u in listed] == [
        ("dr-a", "clinician", 1, True)
    ]
    assert "dr-a" in cli("users", "list").stdout
    assert cli("users", "disable", "dr-a").exit_code == 0
    assert cli.accounts().authenticate_key(api_key) is None
    assert cli("users", "enable", "dr-a").exit_code == 0
    assert cli("users", "revoke-keys", "dr-a").exit_code == 0
    assert cli.accounts().authenticate_key(api_key) is None


def test_users_errors(cli: Cli) -> None:
    assert cli("users", "add", "x y").exit_code == 2
    assert cli("users", "add", "ok-name", "--role", "nurse").exit_code == 2
    cli("users", "add", "ok-name")
    duplicate = cli("users", "add", "ok-name")
    assert duplicate.exit_code == 2 and "already exists" in duplicate.stderr
    assert cli("users", "key", "nobody").exit_code == 2
    assert cli("users", "disable", "nobody").exit_code == 2
    assert cli("users", "add", "pw-user", "--password-stdin", stdin="short").exit_code == 2


def test_serve_bootstraps_an_admin_once_on_loopback(
    cli: Cli, uvicorn_calls: list[tuple[Any, dict[str, Any]]]
) -> None:
    first = cli("serve", "--port", "8123")
    assert first.exit_code == 0, first.output
    assert "http://127.0.0.1:8123/" in first.stdout
    key_line = next(line for line in first.stdout.splitlines() if "API key:" in line)
    api_key = key_line.split("API key:")[1].strip()
    assert cli.accounts().authenticate_key(api_key) is not None
    app, options = uvicorn_calls[0]
    assert options["host"] == "127.0.0.1" and options["port"] == 8123
    assert options["access_log"] is False and not isinstance(app, str)
    again = cli("serve")
    assert "API key" not in again.stdout  # users exist: nothing printed


def test_serve_refuses_a_fresh_store_off_loopback(
    cli: Cli, uvicorn_calls: list[tuple[Any, dict[str, Any]]]
) -> None:
    refused = cli("serve", "--host", "0.0.0.0")
    assert refused.exit_code == 2 and "no users" in refused.stderr
    assert uvicorn_calls == []
    allowed = cli("serve", "--host", "0.0.0.0", "--init-admin", "--workers", "2")
    assert allowed.exit_code == 0 and "API key" in allowed.stdout
    app, options = uvicorn_calls[0]
    assert app == "ocais.serve.app:app_from_env"
    assert options["factory"] is True and options["workers"] == 2


def test_is_loopback() -> None:
    assert serve_cli.is_loopback("127.0.0.1") and serve_cli.is_loopback("::1")
    assert serve_cli.is_loopback("localhost")
    assert not serve_cli.is_loopback("0.0.0.0") and not serve_cli.is_loopback("example.org")


def test_report_service_writes_html_and_json(cli: Cli, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from ocais.knowledge import load_knowledge
    from ocais.serve import create_app
    from tests.serve.conftest import serve_settings

    settings = load_settings(data_dir=cli.data_dir)
    kb = load_knowledge(cli.hpo_dir, tmp_path / "cache")
    app = create_app(
        settings, serve=serve_settings(), knowledge=kb, search=None, note_scrubber=None
    )
    with TestClient(app) as client:
        accounts = app.state.services.accounts
        accounts.add_user("doc", "clinician")
        headers = {"Authorization": f"Bearer {accounts.issue_key('doc')[1]}"}
        for truth in ("OMIM:100002", "OMIM:100001"):
            body = {"case": {"phenotypes": [{"id": "HP:0002069"}], "sex": "male"}}
            pid = client.post("/api/v1/predict", json=body, headers=headers).json()["prediction_id"]
            feedback = {"prediction_id": pid, "confirmed_diagnosis": {"disease_id": truth}}
            client.post("/api/v1/feedback", json=feedback, headers=headers)
    out = tmp_path / "report"
    result = cli("report", "service", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "2 confirmed cases" in result.stdout
    html = (out / "service-report.html").read_text()
    assert html.count("<img") >= 5 and "OMIM:100002" in html
    metrics = json.loads((out / "service-metrics.json").read_text())
    assert metrics["n_confirmed"] == 2
    assert metrics["predictors"]["phenotype"]["metrics"]["top1"] == 0.5
    as_json = cli("report", "service", "--out", str(out), json_output=True)
    assert json.loads(as_json.stdout)["files"]["html"].endswith("service-report.html")


def test_report_service_on_an_empty_store(cli: Cli, tmp_path: Path) -> None:
    result = cli("report", "service", "--out", str(tmp_path / "r"))
    assert result.exit_code == 0 and "no confirmed diagnoses" in result.stdout
    assert "nothing to measure" in (tmp_path / "r" / "service-report.html").read_text()
