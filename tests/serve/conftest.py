"""Service fixtures: the app on the tiny release in a temporary store, with one user per role.

``api`` is a running app (lifespan entered) with ``api.admin``, ``api.clinician``,
``api.clinician2`` and ``api.researcher`` headers (API keys). Free text goes through a small
fake recognizer (``fake_extractor``) unless a test asks for the real one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ocais.config import Settings, load_settings
from ocais.knowledge import KnowledgeBase
from ocais.schemas import PhenotypeObservation
from ocais.serve import create_app, security
from ocais.serve.app import Services
from ocais.serve.schemas.predict import MentionOut
from ocais.serve.settings import ServeSettings

# word in the text → (HPO id, label); "no <word>" marks it excluded
FAKE_LEXICON = {
    "seizures": ("HP:0001250", "Seizure"),
    "poor vision": ("HP:0000505", "Visual impairment"),
    "grand mal": ("HP:0002069", "Bilateral tonic-clonic seizure"),
}


def fake_extractor(text: str) -> tuple[list[MentionOut], list[PhenotypeObservation]]:
    lowered = text.lower()
    mentions = []
    for word, (term, label) in FAKE_LEXICON.items():
        start = lowered.find(word)
        if start < 0:
            continue
        excluded = lowered[max(0, start - 3) : start] == "no "
        mentions.append(
            MentionOut(
                id=term,
                label=label,
                text=text[start : start + len(word)],
                start=start,
                end=start + len(word),
                excluded=excluded,
            )
        )
    observations = [PhenotypeObservation(id=m.id, excluded=m.excluded) for m in mentions]
    return mentions, observations


PRODUCTION_COSTS = (security.KEY_COST, security.PASSWORD_COST)


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests hash many keys: a low scrypt cost keeps them fast (see ``real_scrypt``)."""
    monkeypatch.setattr(security, "KEY_COST", security.ScryptCost(n=2**4))
    monkeypatch.setattr(security, "PASSWORD_COST", security.ScryptCost(n=2**5))


@pytest.fixture
def real_scrypt(cheap_scrypt: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The production scrypt costs."""
    monkeypatch.setattr(security, "KEY_COST", PRODUCTION_COSTS[0])
    monkeypatch.setattr(security, "PASSWORD_COST", PRODUCTION_COSTS[1])


def serve_settings(**overrides: Any) -> ServeSettings:
    values: dict[str, Any] = {"rate_limit_per_minute": 100_000, "rate_limit_burst": 10_000}
    values.update(overrides)
    return ServeSettings(**values)


@dataclass
class Api:
    client: TestClient
    app: FastAPI
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)  # name -> user id

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def auth(self, name: str) -> dict[str, str]:
        return self.headers[name]

    def add_user(self, name: str, role: str, password: str | None = None) -> dict[str, str]:
        """A user with a new API key (an existing user, e.g. after a restart, gets a new key)."""
        accounts = self.services.accounts
        if name not in {u.name for u in accounts.list_users()}:
            accounts.add_user(name, role, password=password)
        user, key = accounts.issue_key(name)
        self.headers[name] = {"Authorization": f"Bearer {key}"}
        self.users[name] = user.id
        return self.headers[name]

    def predict(self, name: str = "clinician", **body: Any) -> dict[str, Any]:
        body.setdefault("case", {"phenotypes": [{"id": "HP:0001250"}]})
        response = self.client.post("/api/v1/predict", json=body, headers=self.auth(name))
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", site="test-site")


@pytest.fixture
def make_app(settings: Settings, tiny_kb: KnowledgeBase) -> AppFactory:
    def build(**overrides: Any) -> FastAPI:
        chosen = overrides.pop("settings", settings)
        options: dict[str, Any] = {
            "serve": serve_settings(),
            "knowledge": tiny_kb,
            "search": None,
            "text_extractor": fake_extractor,
            "note_scrubber": None,
        }
        options.update(overrides)
        if options["search"] == "default":  # the installed backend (embedded vector index)
            del options["search"]
        return create_app(chosen, **options)

    return build


def open_api(app: FastAPI) -> Iterator[Api]:
    with TestClient(app) as client:
        api = Api(client, app)
        api.add_user("admin1", "admin")
        api.add_user("clinician", "clinician")
        api.add_user("clinician2", "clinician")
        api.add_user("researcher", "researcher")
        yield api


@pytest.fixture
def api(make_app: AppFactory) -> Iterator[Api]:
    yield from open_api(make_app())


def assert_envelope(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response has ``status`` and exactly the error envelope's shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "hint", "request_id", "details"}
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["request_id"], str) and error["request_id"]
    assert response.headers["x-request-id"] == error["request_id"]
    if code is not None:
        assert error["code"] == code, error
    result: dict[str, Any] = error
    return result
