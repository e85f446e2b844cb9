"""POST /api/v1/predict: structured cases, free text, bad input, and what is stored."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from ocais.errors import StoreError
from ocais.knowledge import KnowledgeBase
from ocais.store.service_models import predictions_table
from tests.serve.conftest import Api, AppFactory, assert_envelope, open_api, serve_settings


def test_structured_case_gives_a_differential_with_evidence(api: Api) -> None:
    body = {
        "case": {
            "phenotypes": [{"id": "HP:0002069"}, {"id": "HP:0000505", "excluded": True}],
            "sex": "female",
            "age_years": 4,
        },
        "top_k": 2,
    }
    result = api.predict(**body)
    assert result["mentions"] is None
    assert result["input"] == {
        "observed": ["HP:0002069"],
        "excluded": ["HP:0000505"],
        "sex": "female",
        "age_years": 4.0,
    }
    prediction = result["prediction"]
    candidates = prediction["candidates"]
    assert 1 <= len(candidates) <= 2
    assert candidates[0]["disease_id"] == "OMIM:100002"
    assert candidates[0]["evidence"]["matched"]
    assert prediction["provenance"]["knowledge_version"] == "2099-01-01"
    assert "next_phenotypes" in prediction


def test_free_text_returns_mentions_and_stores_no_text(api: Api) -> None:
    text = "Girl with seizures since infancy, no poor vision. Private Name Example."
    result = api.predict(text=text, case=None)
    mentions = {m["id"]: m for m in result["mentions"]}
    assert mentions["HP:0001250"]["text"] == "seizures" and not mentions["HP:0001250"]["excluded"]
    assert mentions["HP:0000505"]["excluded"]
    assert result["input"]["observed"] == ["HP:0001250"]
    assert result["input"]["excluded"] == ["HP:0000505"]
    with api.services.repo.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(predictions_table))]
    assert len(rows) == 1
    assert rows[0]["id"] == result["prediction_id"] and rows[0]["input_kind"] == "text"
    assert rows[0]["observed"] == ["HP:0001250"]
    assert rows[0]["user_id"] == api.users["clinician"]
    assert (
        rows[0]["candidates"][0]["disease_id"]
        == result["prediction"]["candidates"][0]["disease_id"]
    )
    assert "Private Name" not in repr(rows) and "seizures" not in repr(rows)


def test_mention_offsets_index_the_text_as_sent(api: Api) -> None:
    text = "   \n  Has seizures."
    mention = api.predict(text=text, case=None)["mentions"][0]
    assert text[mention["start"] : mention["end"]] == "seizures"


def test_text_and_case_are_merged(api: Api) -> None:
    result = api.predict(text="grand mal", case={"phenotypes": [], "sex": "male"})
    assert result["input"]["observed"] == ["HP:0002069"]
    assert result["input"]["sex"] == "male"


def test_unknown_ids_among_known_ones_are_warnings(api: Api) -> None:
    result = api.predict(case={"phenotypes": [{"id": "HP:0001250"}, {"id": "HP:9999999"}]})
    warnings = " ".join(result["prediction"]["warnings"])
    assert "HP:9999999" in warnings
    assert result["prediction"]["candidates"]


def test_only_unknown_ids_is_422(api: Api) -> None:
    body = {"case": {"phenotypes": [{"id": "HP:9999999"}]}}
    response = api.client.post("/api/v1/predict", json=body, headers=api.auth("clinician"))
    error = assert_envelope(response, 422, "unknown_term")
    assert "HP:9999999" in error["message"]


def test_obsolete_and_alternative_ids_are_accepted(api: Api) -> None:
    result = api.predict(case={"phenotypes": [{"id": "HP:0001251"}]})  # alt id of Seizure
    assert result["prediction"]["candidates"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"text": ""}, 422, "validation_error"),
        ({"text": "   \n "}, 422, "validation_error"),
        ({}, 422, "validation_error"),
        ({"text": "nothing clinical here"}, 422, "invalid_record"),
        ({"case": {"phenotypes": []}}, 422, "invalid_record"),
        ({"case": {"phenotypes": [{"id": "HP:0001250", "excluded": True}]}}, 422, None),
        ({"case": {"phenotypes": [{"id": "seizure"}]}}, 422, "validation_error"),
        ({"case": {"phenotypes": [{"id": "HP:0001250"}], "age_years": -1}}, 422, None),
        ({"case": {"phenotypes": [{"id": "HP:0001250"}]}, "top_k": 0}, 422, None),
        ({"case": {"phenotypes": [{"id": "HP:0001250"}]}, "top_k": 51}, 422, "invalid_record"),
        ({"case": {"phenotypes": [{"id": "HP:0001250"}]}, "extra": 1}, 422, None),
    ],
)
def test_bad_input(api: Api, body: dict[str, object], status: int, code: str | None) -> None:
    response = api.client.post("/api/v1/predict", json=body, headers=api.auth("clinician"))
    assert_envelope(response, status, code)
    assert api.services.store.count_predictions() == 0


def test_text_over_the_character_limit_is_413(make_app: AppFactory) -> None:
    for api in open_api(make_app(serve=serve_settings(max_text_chars=1000))):
        response = api.client.post(
            "/api/v1/predict", json={"text": "seizures " * 200}, headers=api.auth("clinician")
        )
        error = assert_envelope(response, 413, "input_too_large")
        assert "OCAIS_SERVE_MAX_TEXT_CHARS" in error["hint"]


def test_one_megabyte_of_text_is_413(api: Api) -> None:
    text = "a" * (1024 * 1024)
    response = api.client.post("/api/v1/predict", json={"text": text}, headers=api.auth("admin1"))
    assert_envelope(response, 413)


def test_free_text_without_a_recognizer_is_422(make_app: AppFactory) -> None:
    for api in open_api(make_app(text_extractor=None)):
        response = api.client.post(
            "/api/v1/predict", json={"text": "seizures"}, headers=api.auth("clinician")
        )
        assert_envelope(response, 422, "invalid_record")


def test_identical_inputs_give_identical_predictions_with_new_ids(api: Api) -> None:
    first = api.predict()
    second = api.predict()
    assert first["prediction_id"] != second["prediction_id"]
    assert first["prediction"] == second["prediction"]
    assert api.services.store.count_predictions() == 2


def test_real_text_recognizer(make_app: AppFactory, tiny_kb: KnowledgeBase) -> None:
    pytest.importorskip("ocais.ingest.text")
    from ocais.serve.predicting import default_text_extractor

    for api in open_api(make_app(text_extractor=default_text_extractor(tiny_kb))):
        result = api.predict(text="The child has seizures but no visual impairment.", case=None)
        ids = {m["id"]: m["excluded"] for m in result["mentions"]}
        assert ids.get("HP:0001250") is False
        assert ids.get("HP:0000505") is True


def test_prediction_and_audit_row_are_one_transaction(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An answered prediction is stored and audited; if its rows cannot be stored, the client
    gets the store error (not an id that was never stored), and the audit log the failure."""
    store = api.services.store
    audited = len(store.list_audit(limit=1000))
    answered = api.predict()
    assert store.get_prediction(answered["prediction_id"]) is not None
    entries = store.list_audit(limit=1000)
    assert len(entries) == audited + 1
    assert entries[0].object_ids == {"prediction_id": answered["prediction_id"]}

    write_batch = store.write_batch

    def failing(predictions: Any, entries: Any, **options: Any) -> None:
        if predictions:
            raise StoreError("disk full")
        write_batch(predictions, entries, **options)

    monkeypatch.setattr(store, "write_batch", failing)
    response = api.client.post(
        "/api/v1/predict",
        json={"case": {"phenotypes": [{"id": "HP:0001250"}]}},
        headers=api.auth("clinician"),
    )
    error = assert_envelope(response, 503, "store_error")
    assert "disk" not in error["message"]  # store errors are logged, not shown
    monkeypatch.setattr(store, "write_batch", write_batch)
    assert store.count_predictions() == 1
    last = store.list_audit(limit=1)[0]
    assert (last.action, last.status, last.request_id) == ("predict", 503, error["request_id"])


def test_unmapped_spans_are_answered_next_to_mentions(
    make_app: AppFactory, tiny_kb: KnowledgeBase
) -> None:
    pytest.importorskip("ocais.ingest.text")
    from ocais.serve.predicting import default_text_extractor

    for api in open_api(make_app(text_extractor=default_text_extractor(tiny_kb))):
        result = api.predict(text="Seizures and hepatomegalie.", case=None)
        assert [m["id"] for m in result["mentions"]] == ["HP:0001250"]
        [span] = result["unmapped"]
        assert span["text"] == "hepatomegalie" and isinstance(span["suggestions"], list)


def test_genes_and_variants_rank_with_the_genomic_predictor_and_are_not_stored(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    phenotypes = [{"id": "HP:0002069"}]
    plain = api.predict(case={"phenotypes": phenotypes})["prediction"]
    assert plain["predictor"] == "phenotype"
    assert plain["candidates"][0]["disease_id"] == "OMIM:100002"
    assert {g["symbol"] for g in plain["genes_to_test"]} == {"GENEA", "GENEB"}

    variant = {
        "gene": "GENEA",
        "zygosity": "heterozygous",
        "classification": "pathogenic",
        "variant": "NM_1.1:c.77G>A",
    }
    result = api.predict(case={"phenotypes": phenotypes, "variants": [variant]})
    prediction = result["prediction"]
    assert prediction["predictor"] == "genomic"
    top = prediction["candidates"][0]
    assert top["disease_id"] == "OMIM:100001"
    assert top["evidence"]["genotype"]["calls"][0]["variant"] == "NM_1.1:c.77G>A"
    assert prediction["genes_to_test"] == []

    listed = api.predict(case={"phenotypes": phenotypes, "genes": ["genea", "XYZ1"]})
    assert listed["prediction"]["candidates"][0]["disease_id"] == "OMIM:100001"
    assert any("XYZ1" in w for w in listed["prediction"]["warnings"])

    asked = api.predict(case={"phenotypes": phenotypes, "genes": ["GENEA"]}, predictor="phenotype")
    assert asked["prediction"]["candidates"][0]["disease_id"] == "OMIM:100002"
    assert any("not used" in w for w in asked["prediction"]["warnings"])

    with api.services.repo.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(predictions_table))]
    assert len(rows) == 4
    assert "GENEA" not in repr(rows) and "c.77G>A" not in repr(rows)
    assert "c.77G>A" not in caplog.text and "GENEA" not in caplog.text


@pytest.mark.parametrize(
    "case",
    [
        {"phenotypes": [{"id": "HP:0002069"}], "genes": ["x" * 101]},
        {"phenotypes": [{"id": "HP:0002069"}], "variants": [{"gene": "A", "zygosity": "twice"}]},
        {"phenotypes": [{"id": "HP:0002069"}], "variants": [{"gene": ""}]},
        {"phenotypes": [{"id": "HP:0002069"}], "genes": ["G"] * 501},
    ],
)
def test_bad_genomic_input_is_422(api: Api, case: dict[str, Any]) -> None:
    response = api.client.post(
        "/api/v1/predict", json={"case": case}, headers=api.auth("clinician")
    )
    assert response.status_code == 422
