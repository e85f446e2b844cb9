"""``create_app(settings)``: the FastAPI application, built from settings, with no global state.

Everything (knowledge, store, predictor, accounts, search) is built in the app's lifespan — or
taken from the keyword arguments, which tests and embedding applications use — and kept on
``app.state.services``. ``app_from_env`` is the factory ``uvicorn --factory`` calls in each worker.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from ocais import __version__
from ocais.config import Settings, load_settings
from ocais.knowledge import KnowledgeBase
from ocais.serve import page
from ocais.serve.errors import install_error_handlers
from ocais.serve.middleware import BodyLimitMiddleware, RequestContextMiddleware
from ocais.serve.predicting import TextExtractor, default_text_extractor
from ocais.serve.routes import api_router, cds, packages, studies
from ocais.serve.services import Services, build_app_services
from ocais.serve.settings import ServeSettings
from ocais.workflows import build_services
from ocais.workflows.cases import NoteScrubber, default_note_scrubber
from ocais.workflows.genai import llm_status
from ocais.workflows.services import UNSET
from ocais.workflows.types import LLMBackend, Predictor, Repository, SearchService

logger = logging.getLogger("ocais.serve")

DESCRIPTION = (
    "Differential diagnosis support over HPO phenotypes, a de-identified case store, similar-"
    "case search and feedback. Authenticate with `Authorization: Bearer <API key>` or a session "
    "from `POST /api/v1/session`. Every error has the body "
    '`{"error": {"code", "message", "hint", "request_id", "details"}}`. '
    "Supports, and does not replace, clinical judgement."
)

_UNSET: Any = UNSET


def create_app(
    settings: Settings,
    *,
    serve: ServeSettings | None = None,
    knowledge: KnowledgeBase | None = None,
    repo: Repository | None = None,
    predictor: Predictor | None = None,
    search: SearchService | Any | None = _UNSET,
    text_extractor: TextExtractor | None = _UNSET,
    note_scrubber: NoteScrubber | None = _UNSET,
    llm: LLMBackend | None = None,
) -> FastAPI:
    """The API app. Knowledge, store, predictor and search default to what ``settings`` name.

    ``search``, ``text_extractor`` and ``note_scrubber`` default to the installed backends
    (the store's vector index, ``ocais.ingest.text``, ``ocais.ingest.deid``); pass ``None`` to
    turn one off. ``llm`` replaces the LLM backend settings name (``OCAIS_LLM_*``). A ``repo``
    passed in is not closed when the app stops.
    """
    serve_settings = serve if serve is not None else settings.serve

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # repairs and unknown settings are logged (logger ``ocais.workflows``)
        core = build_services(settings, knowledge=knowledge, repo=repo, search=search, llm=llm)
        try:
            kb = core.knowledge
            core.search_or_none()  # open search (and repair its index) before the first request
            services = build_app_services(
                core,
                serve_settings,
                predictor=predictor,
                extractor=(
                    default_text_extractor(kb) if text_extractor is _UNSET else text_extractor
                ),
                scrubber=(
                    default_note_scrubber(settings.deid_secret_env)
                    if note_scrubber is _UNSET
                    else note_scrubber
                ),
            )
        except BaseException:
            core.close()
            raise
        app.state.services = services
        logger.info("ocais %s serving (HPO %s, store %s)", __version__, kb.version, core.repo.url)
        logger.info("%s", llm_status(settings))
        try:
            yield
        finally:
            services.close()

    app = FastAPI(
        title="OCAIS API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    install_error_handlers(app)
    app.include_router(api_router())
    app.include_router(page.router)
    app.include_router(packages.page_router)
    app.include_router(cds.router)
    app.include_router(cds.viewer_router)
    app.include_router(studies.page_router)
    if page.STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=page.STATIC_DIR), name="static")
    if serve_settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=serve_settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-CSRF-Token", "X-Request-ID"],
        )
    app.add_middleware(
        BodyLimitMiddleware,
        limit=serve_settings.max_body_bytes,
        # package uploads are files, not JSON: their own limit
        overrides={("POST", packages.UPLOAD_PATH): serve_settings.max_package_bytes},
    )
    app.add_middleware(
        RequestContextMiddleware, audit=_audit_sink(app) if serve_settings.audit else None
    )
    return app


def _audit_sink(app: FastAPI) -> Any:
    async def write(entry: dict[str, Any], rows: list[Any]) -> None:
        services: Services | None = getattr(app.state, "services", None)
        if services is not None:
            await services.writer.commit(rows, entry)

    return write


#: Young-generation threshold of the cyclic garbage collector in a worker process. Python's
#: default (700 allocations) makes a busy worker run a collection every request or two; the
#: objects of a request are freed by reference counting anyway.
WORKER_GC_THRESHOLD = 20_000


def app_from_env() -> FastAPI:
    """The app for ``uvicorn --factory ocais.serve.app:app_from_env`` (settings from OCAIS_*).

    Called once in each worker process, which it also tunes for serving (the collector's
    threshold: :data:`WORKER_GC_THRESHOLD`).
    """
    young, older, oldest = gc.get_threshold()
    gc.set_threshold(max(WORKER_GC_THRESHOLD, young), older, oldest)
    return create_app(load_settings())
