"""What ``POST /api/v1/search`` tells each caller, on both vector backends.

Clinicians A (``clinician``) and B (``clinician2``) each create cases. Whatever B asks (HPO
terms, text, filters only, store filters, ``like_case``), no answer names A's cases — not their
ids, not A's distinctive diagnosis — and ``n_candidates`` counts only B's cases; ``like_case`` of
A's case is refused exactly like a missing id. Researchers and admins see every case.
Backends: the embedded vector index beside SQLite, and pgvector in a fresh PostgreSQL database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocais.config import load_settings
from tests.serve.conftest import Api, AppFactory, assert_envelope, open_api
from tests.serve.test_search import search

A_DIAGNOSIS = "ORPHA:100003"  # only A's cases have it
B_DIAGNOSIS = "OMIM:100002"
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(params=["embedded", pytest.param("pgvector", marks=pytest.mark.postgres)])
def search_api(
    request: pytest.FixtureRequest, make_app: AppFactory, tmp_path: Path
) -> Iterator[Api]:
    """The app with its default search backend: the embedded index, or pgvector (a new
    database per test, dropped afterwards by ``pg_url``)."""
    if request.param == "embedded":
        app = make_app(search="default")
    else:
        url: str = request.getfixturevalue("pg_url")
        settings = load_settings(data_dir=tmp_path / "pg-data", site="test-site", store_url=url)
        app = make_app(settings=settings, search="default")
    for api in open_api(app):
        backend = type(api.services.core.search().index).__name__
        assert (backend == "PgVectorIndex") == (request.param == "pgvector"), backend
        yield api


def create(api: Api, user: str, phenotypes: list[str], sex: str, age: float, diagnosis: str) -> str:
    body = {
        "case": {
            "phenotypes": [{"id": t} for t in phenotypes],
            "sex": sex,
            "age_years": age,
            "diagnoses": [{"disease_id": diagnosis}],
        }
    }
    response = api.client.post("/api/v1/cases", json=body, headers=api.auth(user))
    assert response.status_code == 201, response.text
    case_id: str = response.json()["id"]
    return case_id


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def hit_ids(body: dict[str, Any]) -> set[str]:
    return {h["case_id"] for h in body["hits"]}


def assert_private(body: Any, hidden: list[str], what: str) -> None:
    """Nothing of A's cases anywhere in B's answer."""
    text = json.dumps(body)
    for case_id in hidden:
        assert case_id not in text, f"{what}: A's case {case_id} is in B's answer: {text}"
    assert A_DIAGNOSIS not in text, f"{what}: A's diagnosis is in B's answer: {text}"


QUERIES: dict[str, dict[str, Any]] = {
    "hpo": {"hpo": ["HP:0001250"], "k": 50},
    "hpo, eye": {"hpo": ["HP:0000505"], "k": 50},
    "text": {"text": "grand mal seizures", "k": 50},
    "filters only (index)": {"filters": {"sex": "female"}, "k": 50},
    "filters only (store)": {"filters": {"age_min": 0}, "k": 50},
    "hpo + store filter": {
        "hpo": ["HP:0001250"],
        "filters": {"phenotypes_present": ["HP:0000118"]},
        "k": 50,
    },
    "filters on A's diagnosis": {"filters": {"diagnoses": [A_DIAGNOSIS]}, "k": 50},
}


def test_search_shows_a_clinician_only_their_own_cases(search_api: Api) -> None:
    api = search_api
    a_cases = [
        create(api, "clinician", ["HP:0001250", "HP:0002069"], "female", 7, A_DIAGNOSIS),
        create(api, "clinician", ["HP:0000505"], "female", 30, A_DIAGNOSIS),
    ]
    b_cases = [
        create(api, "clinician2", ["HP:0001250"], "male", 12, B_DIAGNOSIS),
        create(api, "clinician2", ["HP:0000505", "HP:0001250"], "female", 40, B_DIAGNOSIS),
    ]
    b_seizure, b_vision = b_cases
    everything = set(a_cases) | set(b_cases)

    # B: every kind of query, only B's cases
    for what, query in QUERIES.items():
        body = ok(search(api, query, user="clinician2"))
        assert_private(body, a_cases, what)
        assert hit_ids(body) <= set(b_cases), what
        assert body["n_candidates"] is not None and body["n_candidates"] <= len(b_cases), what
    assert hit_ids(ok(search(api, QUERIES["hpo"], user="clinician2"))) == set(b_cases)
    assert ok(search(api, QUERIES["hpo"], user="clinician2"))["n_candidates"] == len(b_cases)
    assert hit_ids(ok(search(api, QUERIES["filters only (index)"], user="clinician2"))) == {
        b_vision
    }
    assert hit_ids(ok(search(api, QUERIES["text"], user="clinician2"))) == set(b_cases)
    shown = ok(search(api, QUERIES["filters on A's diagnosis"], user="clinician2"))
    assert shown["hits"] == [] and shown["n_candidates"] == 0

    # B: like_case of A's case is a missing case; of B's own case, B's other case only
    for a_case in a_cases:
        hidden = search(api, {"like_case": a_case}, user="clinician2")
        missing = search(api, {"like_case": MISSING}, user="clinician2")
        hidden_error = assert_envelope(hidden, 404, "not_found")
        missing_error = assert_envelope(missing, 404, "not_found")
        assert hidden_error["message"] == missing_error["message"].replace(MISSING, a_case)
        assert hidden_error["hint"] == missing_error["hint"]
        assert hidden_error["details"] == missing_error["details"]
        assert A_DIAGNOSIS not in hidden.text
    own = ok(search(api, {"like_case": b_seizure, "k": 50}, user="clinician2"))
    assert_private(own, a_cases, "like_case of B's own case")
    assert hit_ids(own) == {b_vision}
    assert own["n_candidates"] == len(b_cases)

    # A, the other way round: none of B's cases
    for what, query in QUERIES.items():
        text = json.dumps(ok(search(api, query, user="clinician")))
        assert not any(b in text for b in b_cases), what
        assert B_DIAGNOSIS not in text, what
    a_like = ok(search(api, {"like_case": a_cases[0], "k": 50}, user="clinician"))
    assert hit_ids(a_like) == {a_cases[1]}

    # researchers and admins see everyone's cases
    for user in ("researcher", "admin1"):
        assert hit_ids(ok(search(api, QUERIES["hpo"], user=user))) == everything
        assert hit_ids(ok(search(api, {"filters": {"age_min": 0}, "k": 50}, user=user))) == (
            everything
        )
        assert ok(search(api, {"filters": {"age_min": 0}, "k": 50}, user=user))[
            "n_candidates"
        ] == len(everything)
        female = ok(search(api, QUERIES["filters only (index)"], user=user))
        assert hit_ids(female) == {a_cases[0], a_cases[1], b_vision}
        on_a = ok(search(api, QUERIES["filters on A's diagnosis"], user=user))
        assert hit_ids(on_a) == set(a_cases) and on_a["n_candidates"] == len(a_cases)
        like_a = ok(search(api, {"like_case": a_cases[0], "k": 50}, user=user))
        assert hit_ids(like_a) == everything - {a_cases[0]}
        like_b = ok(search(api, {"like_case": b_seizure, "k": 50}, user=user))
        assert set(a_cases) & hit_ids(like_b), "researchers and admins compare across owners"


def test_shared_reference_cases_are_read_by_every_clinician(search_api: Api) -> None:
    """A case an admin shares (``ocais cases share``; ``ocais ingest --shared``) is read by every
    clinician — in search, ``like_case`` and ``GET`` — and deleted only by its owner or admins;
    the clinicians' own cases stay private to them."""
    from ocais.workflows import OPERATOR
    from ocais.workflows.cases import share_cases

    api = search_api
    reference = create(api, "admin1", ["HP:0001250", "HP:0002069"], "female", 6, "OMIM:100001")
    a_case = create(api, "clinician", ["HP:0001250"], "male", 9, A_DIAGNOSIS)
    b_case = create(api, "clinician2", ["HP:0001250"], "male", 11, B_DIAGNOSIS)
    before = ok(search(api, {"hpo": ["HP:0001250"], "k": 50}, user="clinician2"))
    assert hit_ids(before) == {b_case} and before["n_candidates"] == 1
    assert share_cases(api.services.core, OPERATOR, [reference]) == 1
    for user, own, other in (("clinician", a_case, b_case), ("clinician2", b_case, a_case)):
        found = ok(search(api, {"hpo": ["HP:0001250"], "k": 50}, user=user))
        assert hit_ids(found) == {own, reference}, user
        assert found["n_candidates"] == 2
        assert other not in json.dumps(found), user
        like = ok(search(api, {"like_case": reference, "k": 5}, user=user))
        assert hit_ids(like) == {own}
        listed = api.client.get("/api/v1/cases?limit=50", headers=api.auth(user)).json()
        assert {c["id"] for c in listed["items"]} == {own, reference} and listed["total"] == 2
        shown = api.client.get(f"/api/v1/cases/{reference}", headers=api.auth(user))
        assert shown.status_code == 200
        refused = api.client.delete(f"/api/v1/cases/{reference}", headers=api.auth(user))
        assert_envelope(refused, 403, "forbidden")  # readable, not theirs to delete
    filtered = ok(search(api, {"filters": {"sex": "female"}}, user="clinician2"))
    assert hit_ids(filtered) == {reference}
    assert share_cases(api.services.core, OPERATOR, [reference], shared=False) == 1
    after = ok(search(api, {"hpo": ["HP:0001250"], "k": 50}, user="clinician2"))
    assert hit_ids(after) == {b_case}
    gone = api.client.get(f"/api/v1/cases/{reference}", headers=api.auth("clinician2"))
    assert_envelope(gone, 404, "not_found")
