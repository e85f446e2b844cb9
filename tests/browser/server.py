"""The real app on a live uvicorn (127.0.0.1, a free port) and a headless Debian chromium.

Shared by the browser tests and ``make_screenshots.py``. The browser is the system's
``/usr/bin/chromium`` driven by Playwright (``playwright install`` is never needed), with its
background network features off: the page and the tests use no network beyond 127.0.0.1.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn
from fastapi import FastAPI

from ocais.config import load_settings
from ocais.knowledge import KnowledgeBase
from ocais.serve import create_app
from ocais.serve.app import Services
from ocais.serve.predicting import default_text_extractor
from ocais.serve.settings import ServeSettings
from tests.helpers import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright, ViewportSize

CHROMIUM = Path(os.environ.get("OCAIS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 740}
PASSWORD = "a page password, long enough"


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's chromium, headless."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )


@dataclass
class LiveApp:
    """A running app: its base URL, the FastAPI app (for its services) and API keys by user."""

    url: str
    app: FastAPI
    keys: dict[str, str]

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def add_user(self, name: str, role: str, password: str | None = PASSWORD) -> str:
        """A user with a page password and an API key (returned)."""
        accounts = self.services.accounts
        accounts.add_user(name, role, password=password)
        _, key = accounts.issue_key(name)
        self.keys[name] = key
        return key

    def client(self, user: str) -> httpx.Client:
        """An HTTP client of the API with ``user``'s key."""
        return httpx.Client(
            base_url=f"{self.url}/api/v1",
            headers={"Authorization": f"Bearer {self.keys[user]}"},
            timeout=60,
        )

    def add_case(self, user: str, case: dict[str, Any]) -> str:
        with self.client(user) as client:
            response = client.post("/cases", json={"case": case})
            response.raise_for_status()
            case_id: str = response.json()["id"]
            return case_id


def build_app(data_dir: Path, knowledge: KnowledgeBase, *, search: bool = True) -> FastAPI:
    """The production app on ``knowledge`` with a store in ``data_dir``: the real concept
    recognizer and (unless ``search`` is false) the store's embedded vector index for similar
    cases; generous rate limits."""
    settings = load_settings(data_dir=data_dir, site="browser-test")
    serve = ServeSettings(
        rate_limit_per_minute=100_000,
        rate_limit_burst=10_000,
        login_attempts_per_minute=10_000,
    )
    options: dict[str, Any] = {} if search else {"search": None}
    return create_app(
        settings,
        serve=serve,
        knowledge=knowledge,
        text_extractor=default_text_extractor(knowledge),
        note_scrubber=None,
        **options,
    )


@contextmanager
def live(app: FastAPI) -> Iterator[LiveApp]:
    """Serve ``app`` with uvicorn in a background thread until the block ends."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield LiveApp(f"http://127.0.0.1:{port}", app, {})
    finally:
        server.should_exit = True
        thread.join(timeout=15)
