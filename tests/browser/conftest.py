"""Browser fixtures: Debian's chromium (headless, through Playwright) against the live app.

The app runs on the tiny release of ``tests/conftest.py`` with the real concept recognizer and
the store's embedded vector index, seeded with three cases for "similar cases". Without
``/usr/bin/chromium`` (or the ``playwright`` package) the tests skip — unless ``CI`` is set,
where they fail: CI installs both.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.server import CHROMIUM, DESKTOP, LiveApp, build_app, launch_chromium, live
from tests.conftest import write_tiny_release

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

MARKER = "browser: drives the page in a headless chromium (Debian's /usr/bin/chromium, Playwright)"

#: Cases in the store (created through the API, so they are indexed for search).
SEEDED_CASES: list[dict[str, Any]] = [
    {
        "phenotypes": [{"id": "HP:0001250"}, {"id": "HP:0002069"}],
        "sex": "female",
        "age_years": 7,
        "diagnoses": [{"disease_id": "OMIM:100002"}],
    },
    {
        "phenotypes": [{"id": "HP:0001250"}, {"id": "HP:0000505", "excluded": True}],
        "sex": "male",
        "age_years": 12,
        "diagnoses": [{"disease_id": "OMIM:100001"}],
    },
    {
        "phenotypes": [{"id": "HP:0000478"}],
        "sex": "female",
        "age_years": 30,
        "diagnoses": [{"disease_id": "ORPHA:100003"}],
    },
]


def pytest_configure(config: pytest.Config) -> None:
    # registered here too, so the folder runs before pyproject.toml lists the marker
    if not any(str(line).startswith("browser:") for line in config.getini("markers")):
        config.addinivalue_line("markers", MARKER)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser tests: apt-get install chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless chromium for the session."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The app on a live uvicorn, with a clinician ``doc``, an admin ``boss`` and 3 cases."""
    from ocais.knowledge import load_knowledge

    root = tmp_path_factory.mktemp("browser")
    knowledge = load_knowledge(write_tiny_release(root / "hpo"), root / "cache")
    with live(build_app(root / "data", knowledge)) as app:
        app.add_user("doc", "clinician")
        app.add_user("boss", "admin")
        for case in SEEDED_CASES:
            app.add_case("doc", case)
        yield app


PageFactory = Callable[..., "Page"]


@pytest.fixture
def new_page(browser: Browser, server: LiveApp) -> Iterator[PageFactory]:
    """Open pages in fresh browser contexts (no cookies). Each context may reach only the app:
    any other request is aborted and fails the test, as do uncaught script errors."""
    from playwright.sync_api import Route

    contexts = []
    problems: list[str] = []

    def guard(route: Route) -> None:
        if route.request.url.startswith(server.url + "/"):
            route.continue_()
        else:
            problems.append(f"blocked request to {route.request.url}")
            route.abort()

    def open_page(viewport: ViewportSize | None = None) -> Page:
        context = browser.new_context(viewport=viewport or DESKTOP, base_url=server.url)
        contexts.append(context)
        context.route("**/*", guard)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                problems.append(f"console error: {message.text}")
                if message.type == "error" and "status of 4" not in message.text
                else None
            ),
        )
        page.goto("/")
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not problems, problems


@pytest.fixture
def page(new_page: PageFactory) -> Page:
    """A desktop-sized page (1280×800) at the app's root."""
    return new_page()
