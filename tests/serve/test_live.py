"""Against a live uvicorn on 127.0.0.1: concurrent clients, nothing lost; the real knowledge."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from ocais.knowledge import KnowledgeBase
from tests.helpers import free_port
from tests.serve.conftest import AppFactory


def running(app: FastAPI) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def keyed(app: FastAPI, name: str, role: str) -> dict[str, str]:
    accounts = app.state.services.accounts
    accounts.add_user(name, role)
    return {"Authorization": f"Bearer {accounts.issue_key(name)[1]}"}


def test_concurrent_clients_on_a_live_server(make_app: AppFactory) -> None:
    app = make_app()
    for base in running(app):
        headers = keyed(app, "doc", "clinician")

        def one(i: int, base: str = base, headers: dict[str, str] = headers) -> tuple[int, ...]:
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                body: dict[str, Any] = {"case": {"phenotypes": [{"id": "HP:0001250"}]}}
                predicted = client.post("/api/v1/predict", json=body)
                pid = predicted.json()["prediction_id"]
                feedback = client.post(
                    "/api/v1/feedback", json={"prediction_id": pid, "rating": 1 + i % 5}
                )
                case = client.post("/api/v1/cases", json={"case": {"age_years": i}})
                return predicted.status_code, feedback.status_code, case.status_code

        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(one, range(40)))
        assert results == [(200, 201, 201)] * 40
        services = app.state.services
        assert services.store.count_predictions() == 40
        assert len(services.store.list_feedback(limit=100, offset=0)) == 40
        assert services.repo.count_cases() == 40
        # every request is in the audit log
        assert len(services.store.list_audit(limit=1000)) >= 120


@pytest.mark.slow
def test_real_knowledge_free_text_prediction(make_app: AppFactory, real_kb: KnowledgeBase) -> None:
    pytest.importorskip("ocais.ingest.text")
    from ocais.serve.predicting import default_text_extractor

    app = make_app(knowledge=real_kb, text_extractor=default_text_extractor(real_kb))
    for base in running(app):
        headers = keyed(app, "doc", "clinician")
        text = (
            "Three-year-old boy with seizures, global developmental delay and microcephaly. "
            "No hearing impairment."
        )
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            response = client.post("/api/v1/predict", json={"text": text, "top_k": 5})
            assert response.status_code == 200, response.text
            body = response.json()
            found = {m["id"]: m["excluded"] for m in body["mentions"]}
            assert found.get("HP:0001250") is False and found.get("HP:0000365") is True
            candidates = body["prediction"]["candidates"]
            assert len(candidates) == 5 and candidates[0]["evidence"]["matched"]
            assert body["prediction"]["next_phenotypes"]
            terms = client.get("/api/v1/knowledge/terms", params={"q": "microceph"}).json()
            assert terms[0]["id"] == "HP:0000252"
            disease = client.get(f"/api/v1/knowledge/diseases/{candidates[0]['disease_id']}")
            assert disease.status_code == 200 and disease.json()["phenotypes"]
