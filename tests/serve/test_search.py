"""POST /api/v1/search over the store's embedded vector index."""

from __future__ import annotations

from typing import Any

from ocais.knowledge import KnowledgeBase
from ocais.search.embedders import PhenotypeEmbedder
from ocais.search.service import SearchService
from ocais.serve.app import Services
from tests.serve.conftest import Api, AppFactory, assert_envelope, open_api
from tests.serve.fakes import MemoryVectorIndex


def with_memory_index(api: Api, kb: KnowledgeBase) -> None:
    """Swap in a search service over an in-memory index (the route's own behaviour)."""
    services: Services = api.services
    service = SearchService(services.repo, MemoryVectorIndex(), PhenotypeEmbedder(kb), kb)  # type: ignore[arg-type]
    services.core.attach_search(service)


def add_case(api: Api, phenotypes: list[str], sex: str, user: str = "clinician") -> str:
    body = {
        "case": {
            "phenotypes": [{"id": t} for t in phenotypes],
            "sex": sex,
            "age_years": 10,
            "diagnoses": [{"disease_id": "OMIM:100001"}],
        }
    }
    response = api.client.post("/api/v1/cases", json=body, headers=api.auth(user))
    assert response.status_code == 201, response.text
    assert response.json()["warnings"] == []
    case_id: str = response.json()["id"]
    return case_id


def search(api: Api, body: dict[str, Any], user: str = "researcher") -> Any:
    return api.client.post("/api/v1/search", json=body, headers=api.auth(user))


def test_search_finds_cases_created_through_the_api(api: Api, tiny_kb: KnowledgeBase) -> None:
    with_memory_index(api, tiny_kb)
    seizure = add_case(api, ["HP:0001250"], "female")
    vision = add_case(api, ["HP:0000505"], "male")
    response = search(api, {"hpo": ["HP:0002069"], "k": 2})
    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    assert hits[0]["case_id"] == seizure
    filtered = search(api, {"hpo": ["HP:0000505"], "filters": {"sex": "male"}}).json()
    assert [h["case_id"] for h in filtered["hits"]] == [vision]
    like = search(api, {"like_case": seizure, "k": 1}, user="clinician")
    assert like.status_code == 200 and like.json()["hits"][0]["case_id"] == vision
    text = search(api, {"text": "grand mal seizures"}).json()
    assert text["hits"][0]["case_id"] == seizure
    # a deleted case leaves the index too
    assert (
        api.client.delete(f"/api/v1/cases/{seizure}", headers=api.auth("admin1")).status_code == 204
    )
    after = search(api, {"hpo": ["HP:0001250"], "k": 5}).json()
    assert seizure not in {h["case_id"] for h in after["hits"]}


def test_search_errors(api: Api, tiny_kb: KnowledgeBase) -> None:
    with_memory_index(api, tiny_kb)
    assert_envelope(search(api, {"hpo": ["HP:9999999"]}), 422, "invalid_record")
    assert_envelope(search(api, {"like_case": "missing"}), 404, "not_found")
    assert_envelope(search(api, {"text": "x", "hpo": ["HP:0001250"]}), 422)
    assert_envelope(search(api, {"k": 0}), 422, "validation_error")
    assert_envelope(api.client.post("/api/v1/search", json={"k": 1}), 401)


def test_search_unavailable_is_503(api: Api) -> None:
    response = search(api, {"hpo": ["HP:0001250"]})
    assert_envelope(response, 503, "search_unavailable")


def test_search_with_the_default_embedded_index(make_app: AppFactory) -> None:
    for api in open_api(make_app(search="default")):
        seizure = add_case(api, ["HP:0001250"], "female")
        hits = search(api, {"hpo": ["HP:0002069"], "k": 1}).json()["hits"]
        assert hits[0]["case_id"] == seizure
