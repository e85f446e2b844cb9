"""The service loads a fitted model (``OCAIS_SERVE_MODEL_DIR`` / ``ocais serve --model``) and
answers with diseases learned from cases, which the knowledge base does not know."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ocais.errors import ConfigError
from ocais.knowledge import KnowledgeBase
from ocais.learn.model import LearnOptions, fit
from ocais.schemas import Case, Diagnosis, PhenotypeObservation, Provenance
from tests.cli.conftest import Cli
from tests.serve.conftest import AppFactory, open_api, serve_settings

# three diseases, three cases each (each missing one term); LOCAL:7 no knowledge base annotates
TRAINING = [
    ("OMIM:100001", ["HP:0001250", "HP:0000505"]),
    ("OMIM:100002", ["HP:0002069"]),
    ("LOCAL:7", ["HP:0000478", "HP:0000707"]),
]


def training_cases() -> list[Case]:
    cases = []
    for disease, terms in TRAINING:
        for i in range(3):
            kept = [t for j, t in enumerate(terms) if j != i] if len(terms) > 1 else terms
            cases.append(
                Case(
                    id=f"{disease}-{i}",
                    phenotypes=[PhenotypeObservation(id=t) for t in kept],
                    diagnoses=[Diagnosis(disease_id=disease, label=f"{disease} label")],
                    provenance=Provenance(source="test", source_format="test"),
                )
            )
    return cases


@pytest.fixture
def model_dir(tmp_path: Path, tiny_kb: KnowledgeBase) -> Path:
    model = fit(training_cases(), tiny_kb, LearnOptions(seed=0), source="test cases")
    model.save(tmp_path / "model")
    return tmp_path / "model"


def test_the_api_serves_a_learned_model(make_app: AppFactory, model_dir: Path) -> None:
    app = make_app(serve=serve_settings(predictor="learned", model_dir=model_dir))
    for api in open_api(app):
        phenotypes = [{"id": "HP:0000478"}, {"id": "HP:0000707"}]
        prediction = api.predict(case={"phenotypes": phenotypes}, top_k=3)["prediction"]
        assert prediction["predictor"] == "learned"
        learned = {c["disease_id"]: c for c in prediction["candidates"]}
        assert "LOCAL:7" in learned, "a disease known only from the training cases is served"
        assert learned["LOCAL:7"]["name"] == "LOCAL:7 label"
        assert learned["LOCAL:7"]["evidence"]["matched"]
        assert prediction["provenance"]["parameters"]["model"]["training"]["n_cases"] == 9


def test_a_missing_model_is_a_clear_error(make_app: AppFactory, tmp_path: Path) -> None:
    app = make_app(serve=serve_settings(predictor="learned", model_dir=tmp_path / "none"))
    with pytest.raises(ConfigError, match="does not exist") as raised:
        for _ in open_api(app):
            pass
    assert "ocais learn fit" in str(raised.value)
    (tmp_path / "empty").mkdir()
    app = make_app(serve=serve_settings(predictor="learned", model_dir=tmp_path / "empty"))
    with pytest.raises(ConfigError, match="no learned model"):
        for _ in open_api(app):
            pass


def test_serve_model_option(
    tmp_path: Path, tiny_release: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    cli = Cli(tmp_path / "data", tiny_release)
    missing = cli("serve", "--model", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    assert calls == []
    started = cli("serve", "--model", str(model_dir))
    assert started.exit_code == 0, started.output
    for api in open_api(calls[0][0]):
        prediction = api.predict(case={"phenotypes": [{"id": "HP:0000478"}]})["prediction"]
        assert prediction["predictor"] == "learned"
