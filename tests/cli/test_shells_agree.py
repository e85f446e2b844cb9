"""The CLI and the API give the same answer for the same request: both call ``ocais.workflows``.

One data directory, one tiny release: the API (``create_app`` with the real embedded index)
writes cases, then the same requests go through both shells and the answers are compared.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ocais.config import load_settings
from ocais.knowledge import KnowledgeBase
from ocais.serve import create_app
from tests.cli.conftest import Cli
from tests.serve.conftest import Api, fake_extractor, open_api, serve_settings

CASES = [
    (["HP:0001250", "HP:0002069"], "female", 4.0, "OMIM:100001"),
    (["HP:0000505"], "male", 30.0, "OMIM:100002"),
    (["HP:0001250"], "male", 12.0, "OMIM:100001"),
]


@pytest.fixture
def api(cli: Cli, tiny_kb: KnowledgeBase) -> Iterator[Api]:
    settings = load_settings(data_dir=cli.data_dir, hpo_dir=cli.hpo_dir)
    app = create_app(
        settings,
        serve=serve_settings(),
        knowledge=tiny_kb,
        text_extractor=fake_extractor,
        note_scrubber=None,
    )
    yield from open_api(app)


def add_cases(api: Api) -> list[str]:
    ids = []
    for terms, sex, age, disease in CASES:
        body = {
            "case": {
                "phenotypes": [{"id": t} for t in terms],
                "sex": sex,
                "age_years": age,
                "diagnoses": [{"disease_id": disease}],
            }
        }
        response = api.client.post("/api/v1/cases", json=body, headers=api.auth("clinician"))
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def ranked(prediction: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (c["disease_id"], c["rank"], c["score"], c["probability"], c["evidence"])
        for c in prediction["candidates"]
    ]


def test_predict_gives_the_same_differential(cli: Cli, api: Api) -> None:
    from_cli = cli.json(
        "predict", "--hpo", "HP:0001250,-HP:0000505", "--sex", "female", "--age", "2", "--top", "5"
    )
    body = {
        "case": {
            "phenotypes": [{"id": "HP:0001250"}, {"id": "HP:0000505", "excluded": True}],
            "sex": "female",
            "age_years": 2,
        },
        "top_k": 5,
    }
    response = api.client.post("/api/v1/predict", json=body, headers=api.auth("clinician"))
    assert response.status_code == 200, response.text
    from_api = response.json()["prediction"]
    assert ranked(from_cli) and ranked(from_cli) == ranked(from_api)
    assert from_cli["next_phenotypes"] == from_api["next_phenotypes"]


def test_search_and_show_give_the_same_cases(cli: Cli, api: Api) -> None:
    ids = add_cases(api)
    queries: list[tuple[list[str], dict[str, Any]]] = [
        (["--hpo", "HP:0002069"], {"hpo": ["HP:0002069"]}),
        (["--like", ids[0]], {"like_case": ids[0]}),
        (["--sex", "male"], {"filters": {"sex": "male"}}),
        (
            ["--hpo", "HP:0001250", "--age-max", "10"],
            {"hpo": ["HP:0001250"], "filters": {"age_max": 10}},
        ),
    ]
    for args, body in queries:
        from_cli = cli.json("search", *args)
        response = api.client.post("/api/v1/search", json=body, headers=api.auth("admin1"))
        assert response.status_code == 200, response.text
        from_api = response.json()
        for result in (from_cli, from_api):
            result.pop("took_ms")
        assert from_cli["hits"], args
        assert from_cli == from_api, args
    shown = cli.json("cases", "show", ids[1])
    response = api.client.get(f"/api/v1/cases/{ids[1]}", headers=api.auth("admin1"))
    assert shown == response.json()
    listed = cli.json("cases", "list", "--limit", "10")
    response = api.client.get("/api/v1/cases?limit=10", headers=api.auth("admin1"))
    assert listed["total"] == response.json()["total"] == 3
    assert listed["cases"] == response.json()["items"]


def test_predict_from_text_gives_the_same_differential(cli: Cli, tiny_kb: KnowledgeBase) -> None:
    settings = load_settings(data_dir=cli.data_dir, hpo_dir=cli.hpo_dir)
    # the real concept recognizer in both shells
    app = create_app(settings, serve=serve_settings(), knowledge=tiny_kb, note_scrubber=None)
    text = "Girl with seizures; no visual impairment."
    from_cli = cli.json("predict", "--text", text, "--sex", "female", "--top", "5")
    for api in open_api(app):
        body = {"text": text, "case": {"sex": "female"}, "top_k": 5}
        response = api.client.post("/api/v1/predict", json=body, headers=api.auth("clinician"))
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["input"]["observed"] == ["HP:0001250"]
        assert answer["input"]["excluded"] == ["HP:0000505"]
        assert ranked(from_cli) and ranked(from_cli) == ranked(answer["prediction"])
    nothing = cli("predict", "--text", "nothing clinical here")
    assert nothing.exit_code == 2 and "no HPO phenotype was recognised" in nothing.stderr
